/**
 * SSH bench (`npx tsx scripts/bench-ssh.ts`, run by `npm run bench`), against the test cluster
 * (test/cluster/up.sh). Prints ratios against OpenSSH measured in the same run:
 *   - submit of a 50-file, 5 MB workspace: first (new connection) <= 1.2x and second (reused)
 *     <= 0.5x the time of `scp -r` + `ssh host sbatch`;
 *   - 200 MB upload >= 0.9x scp's throughput;
 *   - a poll of 500 active jobs <= 1.5x one bare sacct.
 * Nothing is asserted: the lines are for people and for the note.
 */
import { execFile } from 'child_process';
import { randomUUID } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { promisify } from 'util';
import type { RunRef } from '../src/core/backend';
import type { SshPrompts } from '../src/core/sshPrompts';
import { SlurmBackend } from '../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../src/core/backends/slurm/sshConnectionPool';
import { FIELD_DELIMITER, SACCT_FIELDS } from '../src/core/backends/slurm/slurmParse';
import { normalizeRequest } from '../src/core/model';
import type { InputFile, SubmitRequest } from '../src/core/model';
import type { SshProfile } from '../src/core/profiles';
import { clusterSshProfile } from '../test/cluster/clusterEnv';
import { benchAtDistance } from './bench-ssh-distance';
import type { ClusterEnv } from '../test/cluster/clusterEnv';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

const prompts = (): SshPrompts => ({
  passphrase: async () => undefined,
  password: async () => undefined,
  keyboardInteractive: async () => undefined,
  unknownHostKey: async () => false,
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function line(what: string, ours: number, base: number, target: string, unit = 'ms'): void {
  const ratio = ours / base;
  console.log(`${what.padEnd(46)} ours ${ours.toFixed(1).padStart(8)} ${unit}  openssh ${base.toFixed(1).padStart(8)} ${unit}  ratio ${ratio.toFixed(2)}  (target ${target})`);
}

async function main(): Promise<void> {
  const envFile = path.join(ROOT, '.cache', 'cluster', 'env.json');
  if (!existsSync(envFile)) {
    console.log('ssh bench skipped: no .cache/cluster/env.json (run bash test/cluster/up.sh)');
    return;
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ClusterEnv;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-bench-ssh-'));
  const profile: SshProfile = clusterSshProfile(env, tmp, { name: 'bench', remoteRoot: `${env.remoteRoot}/bench`, noContainer: true });
  const sshOpts = ['-i', env.identityFile, '-o', `UserKnownHostsFile=${env.knownHostsFile}`, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'];
  const dest = `${env.user}@${env.host}`;
  const ssh = (cmd: string) => run('ssh', [...sshOpts, '-p', String(env.port), dest, cmd], { maxBuffer: 64 * 1024 * 1024 });
  const scp = (args: string[]) => run('scp', [...sshOpts, '-q', '-P', String(env.port), ...args]);
  const remoteBench = `${env.remoteRoot}/bench`;
  const backends: SlurmBackend[] = [];
  const pool = new SshConnectionPool();
  const jobIds: string[] = [];

  try {
    await ssh(`mkdir -p ${remoteBench}`);

    // --- the 50-file, 5 MB workspace ------------------------------------------------------
    const ws = path.join(tmp, 'ws');
    mkdirSync(path.join(ws, 'data'), { recursive: true });
    const files: InputFile[] = [];
    for (let i = 0; i < 50; i++) {
      const name = i < 25 ? `f${i}.txt` : `data/f${i}.bin`;
      writeFileSync(path.join(ws, name), Buffer.alloc(100 * 1024, i));
      files.push({ path: path.join(ws, name), name });
    }
    writeFileSync(path.join(ws, 'job.sh'), '#!/bin/bash\ntrue\n');
    const req: SubmitRequest = { software: 'bench', cmd: 'true', files };

    const baseline = async () => {
      const dir = `${remoteBench}/scp-${randomUUID()}`;
      await scp(['-r', ws, `${dest}:${dir}`]);
      const { stdout } = await ssh(`sbatch --parsable --chdir=${dir} --output=/dev/null ${dir}/job.sh`);
      jobIds.push(stdout.trim().split(';')[0]);
    };
    const firsts: number[] = [];
    const seconds: number[] = [];
    const bases: number[] = [];
    for (let i = 0; i < 3; i++) {
      bases.push(await time(baseline));
      const b = new SlurmBackend(profile, prompts(), pool); // new prompts object: a new connection
      backends.push(b);
      firsts.push(await time(async () => jobIds.push((await b.submit(req)).jobId!)));
      seconds.push(await time(async () => jobIds.push((await b.submit(req)).jobId!)));
      await b.dispose();
    }
    console.log('submit of a 50-file, 5 MB workspace (median of 3):');
    line('  first submit (new connection)', median(firsts), median(bases), '<= 1.2');
    line('  second submit (connection reused)', median(seconds), median(bases), '<= 0.5');

    // --- a 200 MB upload ------------------------------------------------------------------
    const big = path.join(tmp, 'big.bin');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i); // not all zeros
    writeFileSync(big, Buffer.concat(Array.from({ length: 200 }, () => chunk)));
    const mb = 200;
    const upBackend = new SlurmBackend(profile, prompts(), pool);
    backends.push(upBackend);
    await upBackend.submit({ software: 'bench', cmd: 'true' }).then((r) => jobIds.push(r.jobId!)); // connect first: measure the transfer
    const scpMs = await time(() => scp([big, `${dest}:${remoteBench}/scp-big.bin`]));
    const oursMs = await time(async () => jobIds.push((await upBackend.submit({ software: 'bench', cmd: 'true', files: [{ path: big, name: 'big.bin' }] })).jobId!));
    console.log('200 MB upload:');
    console.log(
      `  ours ${(mb / (oursMs / 1000)).toFixed(1)} MB/s (submit incl. sbatch), scp ${(mb / (scpMs / 1000)).toFixed(1)} MB/s` +
        ` (new connection incl.): throughput ratio ${(scpMs / oursMs).toFixed(2)}  (target >= 0.9)`,
    );

    // --- a poll of 500 active jobs ----------------------------------------------------------
    const conn = await upBackend.connection();
    const held = await conn.execOk([
      'sh', '-c',
      `cd ${remoteBench} && for i in $(seq 500); do sbatch --parsable --hold --job-name=muse-bench-held --output=/dev/null --wrap=true || exit 1; done`,
    ]);
    const ids = held.split('\n').map((l) => l.trim().split(';')[0]).filter((l) => /^\d+$/.test(l));
    jobIds.push(...ids);
    const refs: RunRef[] = ids.map((id) => ({ id: `r${id}`, key: id, software: 'bench', request: normalizeRequest({ software: 'bench', cmd: 'true' }), raw: { jobId: id } }));
    // sacct lags squeue: wait until accounting lists them all, so a poll is one sacct only.
    const bareArgs = ['sacct', '-X', '-P', '-n', '-j', ids.join(','), `--format=${SACCT_FIELDS.join(',')}`, `--delimiter=${FIELD_DELIMITER}`];
    const deadline = Date.now() + 60_000;
    while ((await conn.execOk(bareArgs)).split('\n').filter(Boolean).length < ids.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const polls: number[] = [];
    const bares: number[] = [];
    const sshBares: number[] = [];
    for (let i = 0; i < 5; i++) {
      bares.push(await time(() => conn.execOk(bareArgs)));
      polls.push(await time(() => upBackend.states(refs)));
      sshBares.push(await time(() => ssh(bareArgs.map((a) => `'${a}'`).join(' '))));
    }
    const states = await upBackend.states(refs);
    const waiting = [...states.values()].filter((s) => !(s instanceof Error) && s.state === 'waiting').length;
    console.log(`poll of ${ids.length} active jobs (median of 5; ${waiting} seen waiting):`);
    line('  states() vs one bare sacct (same connection)', median(polls), median(bares), '<= 1.5');
    line('  states() vs one bare sacct (ssh host sacct)', median(polls), median(sshBares), '<= 1.5');

    // --- issue 8: the same cluster at 0 and 50 ms RTT ----------------------------------------
    console.log('at a distance (issue 8):');
    for (const rtt of [0, 50]) await benchAtDistance(env, rtt, tmp, remoteBench, pool, jobIds);
  } finally {
    // Leave nothing behind: held jobs cancelled, bench folders removed.
    try {
      if (jobIds.length > 0) await ssh(`scancel ${jobIds.filter((j) => /^\d+$/.test(j)).join(' ')} 2>/dev/null; rm -rf ${remoteBench}`);
      else await ssh(`rm -rf ${remoteBench}`);
    } catch (e) {
      console.log(`cleanup: ${(e as Error).message}`);
    }
    for (const b of backends) await b.dispose();
    pool.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`ssh bench failed: ${(e as Error).message}`);
  process.exit(1);
});
