/**
 * Sweep bench (`npx tsx scripts/bench-sweep.ts`, run by `npm run bench`), against the test
 * cluster (test/cluster/up.sh). A 1,000-task sweep over SSH, held (`--hold`) so that the
 * machine is not flooded, then cancelled with one scancel. Prints:
 *   - the sbatch count of the submit (target 1) and the submit time on loopback (target < 3 s);
 *   - one poll cycle of the 1,000 tasks: sacct commands (target 1), store writes (target 1) and
 *     time (target < 200 ms for the store part, the whole cycle beside it);
 *   - grouping the 1,000 tasks into their sweep row (what the tree does on expanding it);
 *   - `muse runs` (the built CLI, refreshing the tasks over SSH) time (target < 1 s).
 * Nothing is asserted: the lines are for people and for the note.
 */
import { execFile } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { promisify } from 'util';
import { SlurmBackend } from '../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../src/core/backends/slurm/sshConnectionPool';
import type { SshProfile } from '../src/core/profiles';
import { applyStates, runRef } from '../src/core/runs';
import { RunStore } from '../src/core/store';
import { submitSweep } from '../src/core/sweep/submitSweep';
import { cancelSweep, groupSweeps, sweepCountsText } from '../src/core/sweep/sweepGroups';
import { clusterSshProfile } from '../test/cluster/clusterEnv';
import type { ClusterEnv } from '../test/cluster/clusterEnv';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TASKS = 1000;

function line(what: string, value: string, target: string): void {
  console.log(`${what.padEnd(52)} ${value.padStart(12)}  (target ${target})`);
}

async function main(): Promise<void> {
  const envFile = path.join(ROOT, '.cache', 'cluster', 'env.json');
  if (!existsSync(envFile)) {
    console.log('sweep bench skipped: no .cache/cluster/env.json (run bash test/cluster/up.sh)');
    return;
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ClusterEnv;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-bench-sweep-'));
  const profile: SshProfile = clusterSshProfile(env, tmp, { name: 'bench', remoteRoot: `${env.remoteRoot}/bench-sweep`, noContainer: true });
  const pool = new SshConnectionPool();
  const prompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };
  const backend = new SlurmBackend(profile, prompts, pool);
  let writes = 0;
  const dataDir = path.join(tmp, 'data');
  const store = new RunStore(path.join(dataDir, 'runs.json'), { hooks: { beforeRename: () => void writes++ } });
  await store.load();
  const conn = await backend.connection();
  const commands: string[] = [];
  conn.onEvent((e) => {
    if (e.type === 'command') commands.push(e.command);
  });
  // Warm: the connection, the remote facts and MaxArraySize are read once per connection.
  await conn.execOk(['true']);
  let sweepId: string | undefined;
  try {
    const template = 'echo {i}';
    const values = Array.from({ length: TASKS }, (_, i) => String(i));
    commands.length = 0;
    writes = 0;
    let t = performance.now();
    const runs = await submitSweep({
      backend, store, profile,
      request: { software: 'bench', cmd: template, sbatchList: ['--hold'] },
      spec: { template, params: [{ name: 'i', values }], combine: 'product' },
    });
    const submitMs = performance.now() - t;
    sweepId = runs[0].sweep!.id;
    const sbatches = commands.filter((c) => c.includes('sbatch')).length;
    const jobIds = new Set(runs.map((r) => r.raw.jobId!.split('_')[0]));
    line(`submit of a ${TASKS}-task sweep (loopback)`, `${submitMs.toFixed(0)} ms`, '< 3000 ms');
    line('  sbatch commands / Slurm job ids', `${sbatches} / ${jobIds.size}`, '1 / 1');
    line('  store writes during the submit', String(writes), 'records 1 + keys batched');

    // One poll cycle: every task changes (PENDING, held, its reason), in one store write.
    commands.length = 0;
    writes = 0;
    t = performance.now();
    const answers = await backend.states(runs.map(runRef));
    const statesMs = performance.now() - t;
    const t2 = performance.now();
    const after = await applyStates(store, runs, answers);
    const storeMs = performance.now() - t2;
    const changed = after.filter((r, i) => r.raw.slurmState !== runs[i].raw.slurmState).length;
    line(`poll cycle: ${changed} tasks changed, store writes`, String(writes), '1');
    line('  store part (one updateMany)', `${storeMs.toFixed(0)} ms`, '< 200 ms');
    line('  the whole cycle (one sacct + squeue over SSH, then the store)', `${(statesMs + storeMs).toFixed(0)} ms`, 'one sacct');
    line('  sacct / squeue commands', `${commands.filter((c) => c.startsWith('sacct')).length} / ${commands.filter((c) => c.startsWith('squeue')).length}`, '1 / at most 1');

    t = performance.now();
    const [group] = groupSweeps(store.list()).filter((g) => g.id === sweepId);
    const groupMs = performance.now() - t;
    line(`grouping ${TASKS} tasks into one row (${sweepCountsText(group.counts)})`, `${groupMs.toFixed(1)} ms`, 'tree row expands < 100 ms');

    // `muse runs` as a user runs it: the built CLI, refreshing the tasks over SSH.
    // The bench's own agent (the per-user process holding the SSH connection), stopped at the end.
    const cliEnv: NodeJS.ProcessEnv = { ...process.env, MUSE_DATA_DIR: dataDir, MUSE_CONFIG_DIR: path.join(tmp, 'config'), MUSE_AGENT_DIR: path.join(tmp, 'agent') };
    delete cliEnv.MUSE_PROFILE;
    delete cliEnv.MUSE_NO_AGENT;
    const cli = path.join(ROOT, 'dist', 'cli.js');
    await run(process.execPath, [cli, 'profiles', 'add', 'bench', '--kind', 'ssh', '--host', env.host, '--port', String(env.port), '--user', env.user,
      '--identity-file', env.identityFile, '--known-hosts-file', env.knownHostsFile, '--ssh-config-file', path.join(tmp, 'ssh_config'),
      '--remote-root', profile.remoteRoot!, '--no-container', '--default'], { env: cliEnv });
    t = performance.now();
    await run(process.execPath, [cli, 'runs'], { env: cliEnv, maxBuffer: 16 * 1024 * 1024 });
    line(`muse runs, first call of the session (starts the agent, one SSH login)`, `${(performance.now() - t).toFixed(0)} ms`, 'once per agent session');
    const times: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        t = performance.now();
        await run(process.execPath, [cli, 'runs'], { env: cliEnv, maxBuffer: 16 * 1024 * 1024 });
        times.push(performance.now() - t);
      }
    } finally {
      await run(process.execPath, [cli, 'agent', 'stop'], { env: cliEnv }).catch(() => undefined);
    }
    line(`muse runs (${TASKS} tasks, refreshed over SSH through the agent), median of 3`, `${times.sort((a, b) => a - b)[1].toFixed(0)} ms`, '< 1000 ms');
    const local: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      await run(process.execPath, [cli, 'runs', '--no-refresh'], { env: cliEnv, maxBuffer: 16 * 1024 * 1024 });
      local.push(performance.now() - t);
    }
    line('  of which without the refresh (--no-refresh)', `${local.sort((a, b) => a - b)[1].toFixed(0)} ms`, 'node start + store read');
    // Baselines of the same run: what no muse code can go below on this machine right now.
    const help: number[] = [];
    const login: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      await run(process.execPath, [cli, '--help'], { env: cliEnv });
      help.push(performance.now() - t);
      t = performance.now();
      await run('ssh', ['-i', env.identityFile, '-o', `UserKnownHostsFile=${env.knownHostsFile}`, '-o', 'BatchMode=yes', '-F', '/dev/null', '-p', String(env.port), `${env.user}@${env.host}`, 'true']);
      login.push(performance.now() - t);
    }
    line('  baseline: muse --help (node start), median of 3', `${help.sort((a, b) => a - b)[1].toFixed(0)} ms`, 'same run');
    line('  baseline: OpenSSH login + true, median of 3', `${login.sort((a, b) => a - b)[1].toFixed(0)} ms`, 'same run');

    commands.length = 0;
    await cancelSweep(backend, store, group);
    line('cancel of the sweep: scancel commands', String(commands.filter((c) => c.startsWith('scancel')).length), '1');
  } finally {
    try {
      await conn.execOk(['rm', '-rf', '--', profile.remoteRoot!]);
    } catch (e) {
      console.log(`cleanup: ${(e as Error).message}`);
    }
    await backend.dispose();
    pool.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`sweep bench failed: ${(e as Error).message}`);
  process.exit(1);
});
