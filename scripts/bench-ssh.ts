/**
 * SSH bench (`npx tsx scripts/bench-ssh.ts`, run by `npm run bench`), against the test cluster
 * (test/cluster/up.sh). Prints ratios against OpenSSH measured in the same run:
 *   - submit of a 50-file, 5 MB workspace: first (new connection) <= 1.2x and second (reused)
 *     <= 0.5x the time of `scp -r` + `ssh host sbatch`;
 *   - 200 MB upload >= 0.9x scp's throughput;
 *   - a poll of 500 active jobs <= 1.5x one bare sacct;
 *   - the usage figures of 500 ended jobs (job, .batch and .extern rows) in < 50 ms, against
 *     `parseSacct` alone on the same text, and the sacct / squeue commands of one poll cycle
 *     (at most one of each per cluster).
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
import { FIELD_DELIMITER, SACCT_FIELDS, parseSacct } from '../src/core/backends/slurm/slurmParse';
import { usageOfJobs } from '../src/core/backends/slurm/slurmStates';
import type { SshConnection } from '../src/core/backends/slurm/sshConnection';
import { withUsageFields } from '../src/core/usage/sacctUsage';
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

/** sacct's text for `n` ended jobs as the poll asks it (job, .batch and .extern rows, the usage fields). */
function endedJobsSacct(n: number, fields: readonly string[]): string {
  const lines: string[] = [];
  const row = (v: Record<string, string>): string => fields.map((f) => v[f] ?? '').join(FIELD_DELIMITER);
  const states = ['COMPLETED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'CANCELLED by 1000'];
  for (let i = 0; i < n; i++) {
    const id = String(1000 + i);
    const common = { NodeList: 'node1', Elapsed: '00:12:34', Submit: '2026-12-01T10:00:00', Start: '2026-12-01T10:01:00', End: '2026-12-01T10:13:34' };
    const state = states[i % states.length];
    lines.push(row({ ...common, JobID: id, JobName: `muse-sw-${id}`, State: state, ExitCode: '0:0', Reason: 'None', Timelimit: '01:00:00', TotalCPU: '20:01.250', AllocCPUS: '4', ReqMem: '4G', MaxRSS: '', AllocTRES: 'billing=4,cpu=4,gres/gpu=1,mem=4G,node=1' }));
    lines.push(row({ ...common, JobID: `${id}.batch`, JobName: 'batch', State: state.split(' ')[0], ExitCode: '0:0', TotalCPU: '20:01.250', AllocCPUS: '4', MaxRSS: `${1000 + i}M`, AllocTRES: 'cpu=4,mem=4G,node=1' }));
    lines.push(row({ ...common, JobID: `${id}.extern`, JobName: 'extern', State: 'COMPLETED', ExitCode: '0:0', TotalCPU: '00:00.001', AllocCPUS: '4', MaxRSS: '900K', AllocTRES: 'billing=4,cpu=4,mem=4G,node=1' }));
  }
  return lines.join('\n') + '\n';
}

/** The figures of 500 ended jobs, against reading the same sacct text for the states alone. */
function benchUsageFigures(): void {
  const fields = withUsageFields(SACCT_FIELDS);
  const text = endedJobsSacct(500, fields);
  const figures: number[] = [];
  const states: number[] = [];
  let jobs = 0;
  for (let i = 0; i < 21; i++) {
    let t = performance.now();
    parseSacct(text);
    states.push(performance.now() - t);
    t = performance.now();
    jobs = usageOfJobs(text, fields).size;
    figures.push(performance.now() - t);
  }
  console.log(`usage figures of ${jobs} ended jobs (${text.split('\n').length - 1} sacct rows, median of 21):`);
  const f = median(figures);
  const b = median(states);
  console.log(`  figures (parse, group, compute) ${f.toFixed(1).padStart(7)} ms  parseSacct alone ${b.toFixed(1).padStart(6)} ms  ratio ${(f / b).toFixed(2)}  (target: figures < 50 ms)`);
}

/** The sacct and squeue commands one poll cycle sends (counted on the connection), for `refs`. */
async function benchPollCommands(backend: SlurmBackend, conn: SshConnection, refs: RunRef[]): Promise<void> {
  const counts = new Map<string, number>();
  const exec = conn.exec.bind(conn);
  conn.exec = (args, opts) => {
    counts.set(args[0], (counts.get(args[0]) ?? 0) + 1);
    return exec(args, opts);
  };
  try {
    const states = await backend.states(refs);
    const waits = [...states.values()].filter((s) => !(s instanceof Error) && s.raw.wait?.reason).length;
    const used = [...states.values()].filter((s) => !(s instanceof Error) && s.raw.usage).length;
    console.log(
      `one poll cycle of ${refs.length} jobs (${used} with figures, ${waits} with a wait reason): ` +
        `${counts.get('sacct') ?? 0} sacct, ${counts.get('squeue') ?? 0} squeue, ${[...counts.values()].reduce((a, b) => a + b, 0)} commands in all  (target: 1 sacct, <= 1 squeue)`,
    );
  } finally {
    conn.exec = exec;
  }
}

async function main(): Promise<void> {
  benchUsageFigures();
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
    // The held jobs wait (a reason each), the bench's earlier jobs have ended (figures each).
    const ended = jobIds.filter((j) => /^\d+$/.test(j) && !ids.includes(j)).map((id) => ({ ...refs[0], id: `e${id}`, key: id, raw: { jobId: id } }));
    await benchPollCommands(upBackend, conn, [...refs, ...ended]);

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
