/**
 * Following output over SSH on the test cluster: a job printing a numbered line every 0.5 s for
 * 10 s, followed through the core (every line once, in order, the first before the job ends),
 * with the connection killed mid-follow (no gap, no duplicate); the same through `muse logs -f`;
 * a Python script sent from a subfolder that raises: the explanation names the file and line.
 */
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import { failureLine } from '../../src/core/failure/explainFailure';
import { failureOfRun } from '../../src/core/failure/failureOfRun';
import { Follower } from '../../src/core/follow/follower';
import { isFinal, normalizeRequest } from '../../src/core/model';
import type { Run, SubmitRequest } from '../../src/core/model';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { buildCli, spawnMuse } from '../support/museCli';
import { until } from '../support/until';
import { clusterSshProfile, loadClusterEnv } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';

const COUNTER = 'import time\nfor i in range(1, 21):\n    print(f"line {i}", flush=True)\n    time.sleep(0.5)\n';

const noPrompts: SshPrompts = {
  passphrase: async () => undefined,
  password: async () => undefined,
  keyboardInteractive: async () => undefined,
  unknownHostKey: async () => false,
};

function expectLines(text: string, n: number): void {
  const want = Array.from({ length: n }, (_, i) => `line ${i + 1}`);
  assert.deepStrictEqual(text.split('\n').filter((l) => l.startsWith('line ')), want, `every line once, in order:\n${text}`);
}

describe('following output over SSH (real sshd + Slurm)', function () {
  this.timeout(180_000);
  let cluster: ClusterEnv;
  let tmp: string;
  let backend: SlurmBackend;
  const pool = new SshConnectionPool();
  const remoteRoot = `~/muse-runs/follow-${randomBytes(4).toString('hex')}`;

  before(async () => {
    cluster = loadClusterEnv();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-follow-ssh-'));
    const profile = clusterSshProfile(cluster, tmp, { name: 'cluster', remoteRoot, singularityCommand: cluster.singularityCommand, images: cluster.images });
    backend = new SlurmBackend(profile, noPrompts, pool);
  });
  after(async () => {
    const conn = await backend.connection().catch(() => undefined);
    await conn?.exec(['sh', '-c', `rm -rf ${remoteRoot.replace(/^~\//, '"$HOME"/')}`]).catch(() => undefined);
    await backend?.dispose();
    pool.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function file(rel: string, text: string): { path: string; name: string } {
    const p = path.join(tmp, 'ws', ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return { path: p, name: rel };
  }

  async function submit(req: SubmitRequest): Promise<Run> {
    const r = await backend.submit(req);
    const now = new Date().toISOString();
    return { id: `run-${r.key}`, key: r.key, location: r.location, profile: 'cluster', backend: 'ssh', software: req.software, request: normalizeRequest(req), state: 'waiting', raw: { jobId: r.jobId }, createdAt: now, updatedAt: now };
  }

  it('every line once, in order, the first before the end; the connection killed mid-follow loses and repeats nothing', async () => {
    const run = await submit({ software: 'sw_example', cmd: 'python count.py', files: [file('count.py', COUNTER)] });
    const conn = await backend.connection();
    const f = new Follower({ backendOf: () => backend });
    let text = '';
    let earlyAt = 0;
    let ended = false;
    let killed = false;
    let errors = 0;
    const batchesBefore = f.batches;
    f.add(run, 'stdout', (e) => {
      text += e.text;
      if (e.error) errors++;
      if (!earlyAt && !e.ended && /line 1\n/.test(text)) earlyAt = Date.now();
      ended ||= e.ended;
    });
    f.start(() => 500);
    f.poke();
    try {
      await until('line 5 while following', () => /line 5\n/.test(text), { timeoutMs: 90_000 });
      conn.destroyForTest();
      killed = true;
      await until('the job to end while followed', () => ended, { timeoutMs: 90_000 });
    } finally {
      f.dispose();
    }
    assert.ok(killed);
    expectLines(text, 20);
    assert.ok(earlyAt > 0, 'a line came before the job ended');
    assert.ok(f.batches - batchesBefore >= 1);
    assert.ok(errors <= 2, `at most a couple of failed cycles around the drop (${errors})`);
  });

  it('the streams of several jobs are read in one batch per cycle, over the one connection', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => submit({ software: 'sw_example', cmd: 'python count.py', files: [file('count.py', COUNTER)] })));
    const conn = await backend.connection();
    const f = new Follower({ backendOf: () => backend });
    const texts = new Map<string, string>();
    for (const r of runs) f.add(r, 'stdout', (e) => texts.set(r.id, (texts.get(r.id) ?? '') + e.text));
    const commandsBefore = conn.commandCount;
    await until('a line from each job', async () => {
      await f.cycle();
      return runs.every((r) => /line 1\n/.test(texts.get(r.id) ?? ''));
    }, { timeoutMs: 90_000, intervalMs: 500 });
    const cycles = f.cycles;
    // Per cycle: one sacct (plus squeue for jobs sacct does not show yet) and one SFTP batch.
    assert.ok(conn.commandCount - commandsBefore <= cycles * 2, `${conn.commandCount - commandsBefore} remote commands for ${cycles} cycles of 3 jobs`);
    assert.strictEqual(f.batches, cycles, 'one follow batch per cycle for the three jobs');
    f.dispose();
    await conn.exec(['scancel', ...runs.map((r) => r.raw.jobId!)]).catch(() => undefined);
  });

  it('a Python script sent from a subfolder that raises: the explanation names the file and line', async () => {
    const run = await submit({
      software: 'sw_example',
      cmd: 'python src/main.py',
      files: [file('src/main.py', 'from add import add\nprint(add(1, 0))\n'), file('src/add.py', 'def add(a, b):\n    x = 1\n    return a / b\n')],
    });
    const ended = await until('the job to end', async () => {
      const st = (await backend.states([run])).get(run.id);
      if (st instanceof Error) throw st;
      return st && isFinal(st.state) ? st : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    const done: Run = { ...run, state: ended.state, raw: { ...run.raw, ...ended.raw } };
    const cause = await failureOfRun(backend, done);
    assert.ok(cause, 'a cause');
    assert.deepStrictEqual(cause.location, { name: 'src/add.py', line: 3 });
    assert.strictEqual(failureLine(done, cause), 'failed: ZeroDivisionError at src/add.py:3');
  });

  it('muse logs -f prints the lines as they come and exits 0 when the job ends', async () => {
    buildCli();
    const env: NodeJS.ProcessEnv = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG', 'MUSE_FOLLOW_SECONDS']) delete env[k];
    const run = (args: string[]) => {
      const c = spawnMuse(args, { env, cwd: path.join(tmp, 'ws') });
      return c;
    };
    const add = await run([
      'profiles', 'add', 'cluster', '--kind', 'ssh', '--default',
      '--host', cluster.host, '--port', String(cluster.port), '--user', cluster.user,
      '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile,
      '--remote-root', remoteRoot,
      '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand,
    ]).result;
    assert.strictEqual(add.code, 0, add.stderr);
    file('count.py', COUNTER);
    const s = await run(['submit', 'sw_example', '--cmd', 'python count.py', '--file', 'count.py']).result;
    assert.strictEqual(s.code, 0, s.stderr);
    const key = s.stdout.trim().split('\n')[0]!;
    const child = run(['logs', '-f', key]);
    await until('a first line while the job goes on', () => /line 1\n/.test(child.out()), { timeoutMs: 90_000 });
    assert.doesNotMatch(child.out(), /line 20/, 'the first line came before the last was written');
    const r = await child.result;
    assert.strictEqual(r.code, 0, r.stderr);
    expectLines(r.stdout, 20);
  });
});
