/**
 * Usage figures, wait reasons and rerun with advice, through the built `muse` CLI against the
 * real test cluster (Slurm 22.05 with accounting gathered every 2 s and OverMemoryKill, see
 * test/cluster/conf/slurm.conf.in). The jobs are submitted together up front so that they run
 * side by side (the node has 2 CPUs); the one past its time limit takes 60-95 s, so it goes
 * first and is checked last.
 */
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildCli, spawnMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { until } from '../support/until';
import { loadClusterEnv, runSsh } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';

interface StateJson {
  id: string;
  key: string;
  state: string;
  rerunOf?: string;
  request: { sbatchList: string[] };
  raw: { jobId?: string; slurmState?: string; wait?: { reason?: string; expectedStart?: number } };
  usage?: { source: string; state?: string; memoryPeakBytes?: number; memoryRequestBytes?: number; cpuEfficiency?: number; cpuSeconds?: number; elapsedSeconds?: number; timeLimit?: number };
  wait?: { reason?: string; expectedStart?: number };
  advice: Array<{ kind: string; option: string; text: string }>;
}

const MB = 1024 * 1024;
/** Holds 200 MB for `s` seconds (bytearray touches every page). */
const hold = (s: number): string => `python3 -c "import time; b = bytearray(${200 * MB}); time.sleep(${s})"`;
/** Busy on one CPU for 6 s of CPU time, then prints the share of a CPU it was given. */
const BUSY = "python3 -c \"import time; w = time.time(); t = time.process_time() + 6; exec('while time.process_time() < t: pass'); print(time.process_time() / (time.time() - w))\"";

describe('usage figures, wait reasons and rerun with advice (CLI, real sshd + Slurm)', function () {
  this.timeout(200_000);
  let cluster: ClusterEnv;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  const runName = `usage-${randomBytes(4).toString('hex')}`;
  let remoteDir: string;
  const keys: Record<'timeout' | 'memory' | 'busy' | 'held' | 'oom', string> = { timeout: '', memory: '', busy: '', held: '', oom: '' };

  async function muse(args: string[], ms = 90_000): Promise<MuseResult> {
    const child = spawnMuse(args, { env, cwd: tmp });
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`muse ${args.join(' ')} still running after ${ms} ms\nstdout: ${child.out()}\nstderr: ${child.err()}`));
      }, ms);
    });
    try {
      return await Promise.race([child.result, hung]);
    } finally {
      clearTimeout(timer);
    }
  }

  function expectOk(r: MuseResult, what: string): void {
    assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  async function submit(cmd: string, sbatch: string[]): Promise<string> {
    const r = await muse(['submit', 'sw_example', '--cmd', cmd, ...sbatch.flatMap((s) => ['--sbatch', s])]);
    expectOk(r, `submit ${cmd}`);
    return r.stdout.trim().split('\n')[0];
  }

  async function stateOf(key: string): Promise<StateJson> {
    const r = await muse(['state', key, '--json']);
    expectOk(r, `state ${key}`);
    return JSON.parse(r.stdout) as StateJson;
  }

  /** The state once the run ended and accounting has its steps' figures. */
  function ended(key: string, timeoutMs = 60_000): Promise<StateJson> {
    return until(`run ${key} to end`, async () => {
      const s = await stateOf(key);
      return ['ok', 'failed', 'cancelled'].includes(s.state) && s;
    }, { timeoutMs, intervalMs: 1000 });
  }

  function storedRun(key: string): StateJson {
    const runs = (JSON.parse(fs.readFileSync(path.join(env.MUSE_DATA_DIR as string, 'runs.json'), 'utf8')) as { runs: StateJson[] }).runs;
    const r = runs.find((x) => x.key === key);
    assert.ok(r, `run ${key} is stored`);
    return r;
  }

  before(async function () {
    this.timeout(120_000);
    cluster = loadClusterEnv();
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-usage-ssh-'));
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG']) delete env[k];
    const home = (await runSsh(cluster, 'printf %s "$HOME"')).stdout.trim();
    remoteDir = `${home}/muse-runs/${runName}`;
    expectOk(await muse([
      'profiles', 'add', 'cluster', '--kind', 'ssh', '--default',
      '--host', cluster.host, '--port', String(cluster.port), '--user', cluster.user,
      '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile,
      '--remote-root', `~/muse-runs/${runName}`,
      '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand,
    ]), 'profiles add');
    // The long one first; the held one never takes a CPU.
    keys.timeout = await submit('sleep 300', ['--time=1']);
    keys.held = await submit('true', ['--begin=now+1hour']);
    keys.memory = await submit(hold(8), ['--mem=1G']);
    keys.busy = await submit(BUSY, []);
    keys.oom = await submit(hold(6), ['--mem=100M']);
  });

  after(async function () {
    this.timeout(60_000);
    if (!cluster || !env) return;
    let ids: string[] = [];
    try {
      ids = (JSON.parse(fs.readFileSync(path.join(env.MUSE_DATA_DIR as string, 'runs.json'), 'utf8')) as { runs: StateJson[] }).runs
        .map((r) => r.raw?.jobId)
        .filter((j): j is string => Boolean(j && /^\d+$/.test(j)));
    } catch {
      // nothing submitted
    }
    if (ids.length) await runSsh(cluster, `scancel ${ids.join(' ')} 2>/dev/null; true`).catch(() => undefined);
    if (remoteDir) await runSsh(cluster, `rm -rf -- '${remoteDir}'`).catch(() => undefined);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a held job shows its reason and expected start, in muse state and in the stored run', async () => {
    const s = await until('the held job to show its reason', async () => {
      const st = await stateOf(keys.held);
      return st.wait?.reason === 'BeginTime' && st;
    }, { timeoutMs: 30_000, intervalMs: 1000 });
    assert.strictEqual(s.state, 'waiting');
    const inAnHour = Date.now() + 3600_000;
    assert.ok(s.wait?.expectedStart !== undefined && Math.abs(s.wait.expectedStart - inAnHour) < 5 * 60_000, `expected start ${s.wait?.expectedStart}`);
    assert.deepStrictEqual(storedRun(keys.held).raw.wait, s.wait);
    const text = await muse(['state', keys.held]);
    expectOk(text, 'state');
    const hhmm = new Date(s.wait.expectedStart).toTimeString().slice(0, 5);
    assert.match(text.stdout, new RegExp(`^wait: waiting · BeginTime · starts ~(\\d{4}-\\d\\d-\\d\\d )?${hhmm}$`, 'm'));
    expectOk(await muse(['cancel', keys.held]), 'cancel the held job');
  });

  it('a job holding ~200 MB for several seconds reports a peak within 25% of it', async () => {
    const s = await ended(keys.memory, 90_000);
    assert.strictEqual(s.state, 'ok', JSON.stringify(s.raw));
    const peak = s.usage?.memoryPeakBytes;
    assert.ok(peak !== undefined && Math.abs(peak - 200 * MB) <= 50 * MB, `peak ${peak && peak / MB} MB`);
    assert.strictEqual(s.usage?.memoryRequestBytes, 1024 * MB);
    const text = await muse(['state', keys.memory]);
    assert.match(text.stdout, /^usage: CPU \d+% of 1 CPU · memory \d+ MB of 1\.0 GB \(\d+%\) · time 0:\d\d( of [\d:-]+| \(no limit\)) · waited \d+:\d\d$/m);
    assert.match(text.stdout, /^advice: The run used .* --mem=\d+M would do/m, 'a quarter of the request unused: ask less');
  });

  it('a busy loop on one CPU reports a CPU efficiency well above an idle job (over half the CPU share it was given)', async () => {
    const s = await ended(keys.busy, 90_000);
    assert.strictEqual(s.state, 'ok', JSON.stringify(s.raw));
    const share = Number((await muse(['results', keys.busy])).stdout.trim().split('\n').pop());
    assert.ok(share > 0 && share <= 1.05, `the loop's own share of a CPU: ${share}`);
    const eff = s.usage?.cpuEfficiency;
    // Not 0.7 x share: the elapsed time also holds the container's start, and accounting samples
    // CPU time every 2 s (up to one interval missed): on a loaded machine that alone took 0.67 x.
    // An idle job reports about 0, so half the share still tells the figure is the loop's.
    assert.ok(eff !== undefined && eff > 0.5 * share, `CPU efficiency ${eff}, the loop's own share ${share}`);
    // jobacct_gather/linux reads CPU time at its samples (every 2 s here): up to one interval is missed.
    assert.ok((s.usage?.cpuSeconds ?? 0) >= 4 && (s.usage?.cpuSeconds ?? 0) <= 6.5, `CPU time ${s.usage?.cpuSeconds}`);
  });

  it('a job past its --mem is killed (OverMemoryKill): the out-of-memory advice; rerun --apply-advice asks more and links the runs', async () => {
    const s = await ended(keys.oom, 90_000);
    assert.strictEqual(s.state, 'failed', JSON.stringify(s.raw));
    const oom = s.advice.find((a) => a.kind === 'outOfMemory');
    assert.ok(oom, `out-of-memory advice: ${JSON.stringify(s.advice)}`);
    const asked = Number(/^--mem=(\d+)M$/.exec(oom.option)?.[1]);
    assert.ok(asked >= 150, `asks 1.5x what it had or used: ${oom.option}`);

    const r = await muse(['rerun', keys.oom, '--apply-advice', '--wait'], 150_000);
    expectOk(r, 'rerun --apply-advice');
    assert.match(r.stderr, new RegExp(`Applying: ${oom.option}`));
    const newKey = r.stdout.trim().split('\n')[0];
    const again = storedRun(newKey);
    assert.strictEqual(again.state, 'ok');
    assert.strictEqual(again.rerunOf, s.id);
    assert.deepStrictEqual(again.request.sbatchList, [oom.option], 'the advice replaced --mem=100M');
    const runs = await muse(['runs', '--no-refresh']);
    assert.match(runs.stdout, new RegExp(`rerun of ${s.id.slice(0, 8)}`));
  });

  it('a job past its --time ends TIMEOUT with the time advice', async () => {
    const s = await ended(keys.timeout, 150_000);
    assert.strictEqual(s.state, 'failed');
    assert.strictEqual(s.raw.slurmState, 'TIMEOUT');
    assert.strictEqual(s.usage?.state, 'TIMEOUT');
    assert.strictEqual(s.usage?.timeLimit, 60);
    const t = s.advice.find((a) => a.kind === 'timeout');
    assert.ok(t, JSON.stringify(s.advice));
    assert.strictEqual(t.option, '--time=0:02:00');
    const text = await muse(['state', keys.timeout]);
    assert.match(text.stdout, /^advice: The run reached its time limit and was stopped: ask for more time with --time=0:02:00\.$/m);
  });
});
