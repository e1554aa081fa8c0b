/**
 * The SSH figures "at a real distance" (issue 8), part of `npm run bench`: the test cluster's
 * sshd behind the latency proxy at a given RTT, each figure beside its OpenSSH baseline measured
 * through the same proxy in the same run. Round trips are the proxy's "turns".
 */
import { execFile } from 'child_process';
import { randomUUID } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { promisify } from 'util';
import type { RunRef } from '../src/core/backend';
import { SlurmBackend } from '../src/core/backends/slurm/slurmBackend';
import type { SshConnectionPool } from '../src/core/backends/slurm/sshConnectionPool';
import { normalizeRequest } from '../src/core/model';
import type { InputFile, SubmitRequest } from '../src/core/model';
import type { SshPrompts } from '../src/core/sshPrompts';
import { LatencyProxy } from '../test/support/latencyProxy';
import { clusterSshProfile } from '../test/cluster/clusterEnv';
import type { ClusterEnv } from '../test/cluster/clusterEnv';

const sh = promisify(execFile);

const prompts = (): SshPrompts => ({
  passphrase: async () => undefined,
  password: async () => undefined,
  keyboardInteractive: async () => undefined,
  unknownHostKey: async () => false,
});

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function row(what: string, ours: number, base: number, baseName: string, target: string, extra = ''): void {
  console.log(`  ${what.padEnd(40)} ours ${ours.toFixed(0).padStart(7)} ms  ${baseName} ${base.toFixed(0).padStart(7)} ms  ratio ${(ours / base).toFixed(2)}  (target ${target})${extra}`);
}

/**
 * Prints the issue 8 figures at `rttMs`: 1,000 x 10 KB submitted, a one-file submit on a new
 * and on a warm connection (round trips counted), a 100 MB upload, the content of a 1,000-file
 * run folder. `jobIds` collects the jobs made (the caller cancels them); files go under `tmp`,
 * run folders under `remoteBench`.
 */
export async function benchAtDistance(env: ClusterEnv, rttMs: number, tmp: string, remoteBench: string, pool: SshConnectionPool, jobIds: string[]): Promise<void> {
  const proxy = await LatencyProxy.start({ targetHost: env.host, targetPort: env.port, rttMs });
  const dir = path.join(tmp, `rtt${rttMs}`);
  mkdirSync(dir, { recursive: true });
  const kh = path.join(dir, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${proxy.port} ${readFileSync(env.knownHostsFile, 'utf8').trim().split('\n')[0].split(/\s+/).slice(1).join(' ')}\n`);
  const profile = clusterSshProfile(env, dir, { name: `far${rttMs}`, remoteRoot: remoteBench, noContainer: true, port: proxy.port, knownHostsFile: kh });
  const sshOpts = ['-i', env.identityFile, '-o', `UserKnownHostsFile=${kh}`, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR'];
  const dest = `${env.user}@127.0.0.1`;
  const ssh = (cmd: string) => sh('ssh', [...sshOpts, '-p', String(proxy.port), dest, cmd], { maxBuffer: 64 * 1024 * 1024 });
  const scp = (args: string[]) => sh('scp', [...sshOpts, '-q', '-P', String(proxy.port), ...args]);
  const bash = (cmd: string) => sh('bash', ['-c', cmd], { maxBuffer: 64 * 1024 * 1024 });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const backends: SlurmBackend[] = [];
  try {
    console.log(`at ${rttMs} ms RTT (latency proxy):`);
    // 1,000 x 10 KB in 10 subfolders.
    const many = path.join(dir, 'many');
    const files: InputFile[] = [];
    for (let i = 0; i < 1000; i++) {
      const name = `d${i % 10}/f${i}.dat`;
      mkdirSync(path.join(many, `d${i % 10}`), { recursive: true });
      writeFileSync(path.join(many, name), Buffer.alloc(10 * 1024, i % 251));
      files.push({ path: path.join(many, name), name });
    }
    const one = path.join(dir, 'one.txt');
    writeFileSync(one, 'one\n');
    const job = path.join(dir, 'job.sh');
    writeFileSync(job, '#!/bin/bash\ntrue\n');

    const warm = new SlurmBackend(profile, prompts(), pool);
    backends.push(warm);
    // New connection: login, probe, one submit command.
    proxy.resetStats();
    const newConnMs = await time(async () => jobIds.push((await warm.submit({ software: 'bench', cmd: 'true', files: [{ path: one, name: 'one.txt' }] })).jobId!));
    const newTurns = proxy.stats.turns;
    proxy.resetStats();
    const warmMs = await time(async () => jobIds.push((await warm.submit({ software: 'bench', cmd: 'true', files: [{ path: one, name: 'one.txt' }] })).jobId!));
    const warmTurns = proxy.stats.turns;
    const scpSbatchMs = await time(async () => {
      const d = `${remoteBench}/scp-${randomUUID()}`;
      await ssh(`mkdir -p ${d}`);
      await scp([one, job, `${dest}:${d}/`]);
      const { stdout } = await ssh(`sbatch --parsable --chdir=${d} --output=/dev/null ${d}/job.sh`);
      jobIds.push(stdout.trim().split(';')[0]);
    });
    row('one-file submit, new connection', newConnMs, scpSbatchMs, 'scp+ssh sbatch', '<= 0.5', `  [${newTurns} round trips]`);
    row('one-file submit, warm connection', warmMs, scpSbatchMs, 'scp+ssh sbatch', '<= 3 round trips', `  [${warmTurns} round trips]`);

    let manyRun: { key: string; location?: string; jobId?: string } | undefined;
    const manyMs = await time(async () => {
      manyRun = await warm.submit({ software: 'bench', cmd: 'true', files });
      jobIds.push(manyRun.jobId!);
    });
    const tarMs = await time(() => bash(`tar cf - -C ${q(many)} . | ssh ${sshOpts.map(q).join(' ')} -p ${proxy.port} ${dest} ${q(`mkdir -p ${remoteBench}/tar-${randomUUID()} && cd ${remoteBench} && tar xf - -C "$(ls -td tar-* | head -1)"`)}`));
    row('1,000 x 10 KB submitted', manyMs, tarMs, 'tar c | ssh tar x', '<= 1.5');

    const big = path.join(dir, 'big.bin');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(big, Buffer.concat(Array.from({ length: 100 }, () => chunk)));
    const bigMs = await time(async () => jobIds.push((await warm.submit({ software: 'bench', cmd: 'true', files: [{ path: big, name: 'big.bin' }] })).jobId!));
    const scpBigMs = await time(() => scp([big, `${dest}:${remoteBench}/scp-big.bin`]));
    console.log(`  ${'100 MB upload (submit incl. sbatch)'.padEnd(40)} ours ${(100 / (bigMs / 1000)).toFixed(1)} MB/s  scp ${(100 / (scpBigMs / 1000)).toFixed(1)} MB/s  throughput ratio ${(scpBigMs / bigMs).toFixed(2)}  (target >= 0.9)`);

    const ref: RunRef = { id: 'many', key: manyRun!.key, software: 'bench', request: normalizeRequest({ software: 'bench', cmd: 'true' } as SubmitRequest), raw: { jobId: manyRun!.jobId }, location: manyRun!.location };
    const contentMs = await time(() => warm.content(ref, path.join(dir, 'content.zip')));
    const out = path.join(dir, 'tar-out');
    mkdirSync(out);
    const tarDownMs = await time(() => bash(`ssh ${sshOpts.map(q).join(' ')} -p ${proxy.port} ${dest} ${q(`tar cf - -C ${manyRun!.location} .`)} | tar xf - -C ${q(out)}`));
    row('content of a 1,000-file run folder', contentMs, tarDownMs, 'ssh tar c | tar x', '<= 1.5');
  } finally {
    for (const b of backends) await b.dispose();
    await proxy.close();
  }
}
