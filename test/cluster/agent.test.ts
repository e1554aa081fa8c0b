/**
 * The per-user agent against the real test cluster (`bash test/cluster/up.sh`): ten `muse` calls
 * and two client processes standing for two windows log in ONCE (counted in sshd's own log); the
 * agent SIGKILLed during a states call and during an upload: the next operation succeeds, no run
 * is lost, and the interrupted submit is `unknown` with at most one job (never sent twice).
 */
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AgentBackend } from '../../src/core/agent/agentBackend';
import { AgentClient } from '../../src/core/agent/agentClient';
import type { AgentStatus } from '../../src/core/agent/agentProtocol';
import { isMuseError } from '../../src/core/errors';
import type { Run } from '../../src/core/model';
import { processAlive } from '../../src/core/processAlive';
import type { SshProfile } from '../../src/core/profiles';
import { runRef, submitRun } from '../../src/core/runs';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { RunStore } from '../../src/core/store';
import { spawnSupportScript } from '../support/childScript';
import { buildCli, runMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { until } from '../support/until';
import { clusterEnvPath, loadClusterEnv, runSsh } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';

const refuse: SshPrompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };

describe('the Muse agent on the test cluster (one login for every client)', function () {
  this.timeout(180_000);
  let cluster: ClusterEnv;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let profile: SshProfile;
  const agentPids = new Set<number>();
  const runName = `agent-${randomBytes(4).toString('hex')}`;
  let remoteDir: string;

  /** sshd's "Accepted publickey" lines for the test user so far (its log is written by sshd itself). */
  function logins(): number {
    const log = path.join(path.dirname(clusterEnvPath()), 'log', 'sshd.log');
    return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`Accepted publickey for ${cluster.user} `)).length;
  }

  async function muse(args: string[]): Promise<MuseResult> {
    const r = await runMuse(args, { env, cwd: tmp });
    assert.strictEqual(r.code, 0, `muse ${args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  async function status(): Promise<AgentStatus> {
    const s = JSON.parse((await muse(['--json', 'agent', 'status'])).stdout) as AgentStatus & { running: boolean };
    assert.ok(s.running, 'the agent runs');
    agentPids.add(s.pid);
    return s;
  }

  function runs(): Run[] {
    return (JSON.parse(fs.readFileSync(path.join(env.MUSE_DATA_DIR as string, 'runs.json'), 'utf8')) as { runs: Run[] }).runs;
  }

  /** Jobs whose folder is in this suite's remote folder (sacct, all states). */
  async function jobsInRemoteDir(withDir = false): Promise<string[]> {
    const r = await runSsh(cluster, `sacct -X -n -P -S now-1hours -o JobID,WorkDir%400 -u ${cluster.user}`);
    assert.strictEqual(r.code, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter((l) => l.includes(`/${runName}/`))
      .map((l) => (withDir ? l : l.split('|')[0]));
  }

  before(async function () {
    cluster = loadClusterEnv();
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-agent-cluster-'));
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config'), MUSE_AGENT_DIR: path.join(tmp, 'agent') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG', 'MUSE_NO_AGENT', 'XDG_RUNTIME_DIR']) delete env[k];
    const home = (await runSsh(cluster, 'printf %s "$HOME"')).stdout.trim();
    remoteDir = `${home}/muse-runs/${runName}`;
    await muse([
      'profiles', 'add', 'cluster', '--kind', 'ssh', '--default',
      '--host', cluster.host, '--port', String(cluster.port), '--user', cluster.user,
      '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile,
      '--remote-root', remoteDir,
      '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand,
    ]);
    profile = (JSON.parse(fs.readFileSync(path.join(env.MUSE_CONFIG_DIR as string, 'config.json'), 'utf8')) as { profiles: SshProfile[] }).profiles[0];
  });

  after(async function () {
    if (!env) return;
    await runMuse(['agent', 'stop'], { env, cwd: tmp }).catch(() => undefined);
    for (const pid of agentPids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    const ids = await jobsInRemoteDir().catch(() => [] as string[]);
    await runSsh(cluster, `${ids.length ? `scancel ${ids.join(' ')}; ` : ''}rm -rf '${remoteDir}'`).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves 10 CLI calls and two windows over one SSH login', async () => {
    const before = logins();
    const sub = await muse(['submit', 'sw_example', '--cmd', 'sleep 2']);
    const key = sub.stdout.trim().split('\n')[0];
    assert.match(key, /^[0-9a-f-]{36}$/);
    for (let i = 0; i < 6; i++) await muse(['state', key]);
    await muse(['runs']);
    await muse(['submit', 'sw_example', '--cmd', 'true']);
    await muse(['state', key]);
    // Two windows polling (background calls: they could not answer a question, and need none).
    const refs = JSON.stringify(runs().map(runRef));
    const [a, b] = await Promise.all([spawnSupportScript('agentWindow', [JSON.stringify(profile), refs, '3'], env), spawnSupportScript('agentWindow', [JSON.stringify(profile), refs, '3'], env)]);
    assert.strictEqual(a.code, 0, a.stderr);
    assert.strictEqual(b.code, 0, b.stderr);
    const states = JSON.parse(a.stdout) as Record<string, string>;
    assert.strictEqual(Object.keys(states).length, 2);
    for (const s of Object.values(states)) assert.doesNotMatch(s, /^error/);
    const s = await status();
    assert.strictEqual(logins() - before, 1, 'one SSH login in sshd\'s log for 10 CLI calls and two windows');
    assert.strictEqual(s.connections.length, 1);
    assert.strictEqual(s.connections[0].logins, 1);
    assert.ok(s.connections[0].connected);
  });

  it('sends a sweep through the agent as one Slurm array, and cancels it with one call', async () => {
    const sub = await muse(['--json', 'submit', 'sw_example', '--cmd', 'sleep 60 # {i}', '--param', 'i=1,2,3']);
    assert.strictEqual(sub.code, 0, sub.stderr);
    const sent = JSON.parse(sub.stdout) as { sweep: { id: string; count: number }; runs: Run[] };
    assert.strictEqual(sent.sweep.count, 3);
    // The keys came back through the agent's answer: every task is stored with its own array task id.
    const tasks = runs().filter((r) => r.sweep?.id === sent.sweep.id);
    assert.strictEqual(tasks.length, 3);
    const arrayIds = new Set(tasks.map((t) => t.raw.jobId?.split('_')[0]));
    assert.strictEqual(arrayIds.size, 1, 'one Slurm job id for the three tasks');
    assert.deepStrictEqual(tasks.map((t) => t.raw.jobId?.split('_')[1]).sort(), ['0', '1', '2']);
    const cancel = await muse(['cancel', sent.sweep.id]);
    assert.strictEqual(cancel.code, 0, cancel.stderr);
    const [arrayId] = [...arrayIds];
    await until('the array to leave squeue', async () => (await runSsh(cluster, `squeue -h -j ${arrayId} -o %i`)).stdout.trim() === '', { timeoutMs: 30_000 });
  });

  it('is started again after a SIGKILL during a states call: the next call succeeds, no run is lost', async () => {
    const before = await status();
    const client = new AgentClient({ env, client: { kind: 'test', pid: process.pid } });
    const backend = new AgentBackend(profile, client, refuse);
    const stored = runs();
    // Connected first, so that the kill lands while the states call is in the agent.
    await client.ensureRunning();
    const asked = backend.states(stored.map(runRef));
    process.kill(before.pid, 'SIGKILL');
    await assert.rejects(asked, (e: unknown) => isMuseError(e, 'network') && !e.details.notSent);
    await until('the killed agent is gone', () => !processAlive(before.pid));
    const answers = await backend.states(stored.map(runRef));
    assert.strictEqual(answers.size, stored.length);
    for (const v of answers.values()) assert.ok(!(v instanceof Error), String(v));
    const after = await status();
    assert.notStrictEqual(after.pid, before.pid);
    await muse(['state', stored[0].key!]);
    assert.deepStrictEqual(runs().map((r) => r.id).sort(), stored.map((r) => r.id).sort(), 'no run lost');
    client.dispose();
  });

  it('never sends a submit twice when killed during its upload: the run is unknown, with at most one job', async () => {
    const jobsBefore = await jobsInRemoteDir();
    const big = path.join(tmp, 'big.bin');
    fs.writeFileSync(big, randomBytes(48 * 1024 * 1024));
    const client = new AgentClient({ env, client: { kind: 'test', pid: process.pid } });
    const backend = new AgentBackend(profile, client, refuse);
    const pid = await client.ensureRunning();
    agentPids.add(pid);
    const store = new RunStore(path.join(env.MUSE_DATA_DIR as string, 'runs.json'));
    await store.load();
    let killed = false;
    const submitted = submitRun(
      { backend, store, profile, request: { software: 'sw_example', cmd: 'ls -l big.bin', files: [{ path: big, name: 'big.bin' }] } },
      {
        onProgress: (p) => {
          if (p.phase === 'upload' && p.done > 0 && !killed) {
            killed = true;
            process.kill(pid, 'SIGKILL');
          }
        },
      },
    );
    await assert.rejects(submitted, (e: unknown) => isMuseError(e, 'network'));
    assert.ok(killed, 'the agent was killed during the upload');
    await store.load();
    const run = store.list().find((r) => r.request.files.includes('big.bin'));
    assert.ok(run, 'the interrupted submit is in the run list');
    assert.strictEqual(run.state, 'unknown');
    // The next operation works (a new agent), and the interrupted submit was not sent again.
    const next = await muse(['submit', 'sw_example', '--cmd', 'true']);
    const nextKey = next.stdout.trim().split('\n')[0];
    assert.match(nextKey, /^[0-9a-f-]{36}$/);
    await status();
    // sacct lags sbatch by about a second: wait for the next submit's job, submitted after the other.
    const added = await until('the next submit in sacct', async () => {
      const jobs = (await jobsInRemoteDir(true)).filter((j) => !jobsBefore.includes(j.split('|')[0]));
      return jobs.some((j) => j.includes(nextKey)) && jobs.map((j) => j.split('|')[0]);
    });
    assert.ok(added.length >= 1 && added.length <= 2, `jobs added: ${added.join(', ')} (the next submit's, and at most one of the interrupted one)`);
    client.dispose();
  });
});
