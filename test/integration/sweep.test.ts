/**
 * Sweeps on the web API test server and the local runner: the 2x3 sweep of the example
 * software's `python /add.py {a} {b}` as six grouped runs with the right six results, and the
 * local runner's limit of tasks running at once.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend } from '../../src/core/backend';
import { LocalBackend } from '../../src/core/backends/local/localBackend';
import { localSlots } from '../../src/core/backends/local/slots';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { isMuseError } from '../../src/core/errors';
import { isFinal } from '../../src/core/model';
import type { Run } from '../../src/core/model';
import type { Profile } from '../../src/core/profiles';
import { refreshRuns, runRef } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { submitSweep } from '../../src/core/sweep/submitSweep';
import { groupSweeps, sweepCountsText } from '../../src/core/sweep/sweepGroups';
import { startMuseServer, type MuseTestServer } from '../server/museServer';
import { buildCli, runMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';
import { until } from '../support/until';

const SPEC = {
  template: 'python /add.py {a} {b}',
  params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }],
  combine: 'product' as const,
};
const EXPECTED = ['11.0', '21.0', '31.0', '12.0', '22.0', '32.0'];

describe('sweeps on the web API and the local runner', function () {
  this.timeout(120_000);
  let tmp: string;
  let store: RunStore;

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sweep-int-'));
    store = new RunStore(path.join(tmp, 'runs.json'));
    await store.load();
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Polls the sweep's tasks until all have ended; returns them in index order. */
  async function allEnded(backend: Backend, runs: Run[]): Promise<Run[]> {
    return until('every task to end', async () => {
      const now = await refreshRuns(backend, store, store.list().filter((r) => runs.some((x) => x.id === r.id)));
      return now.every((r) => isFinal(r.state)) && now.sort((a, b) => a.sweep!.index - b.sweep!.index);
    }, { timeoutMs: 90_000, intervalMs: 300 });
  }

  async function checkSweep(backend: Backend, profile: Profile): Promise<void> {
    const runs = await submitSweep({ backend, store, profile, request: { software: 'sw_example', cmd: SPEC.template }, spec: SPEC, label: 'add' });
    assert.strictEqual(runs.length, 6);
    const ended = await allEnded(backend, runs);
    const [group] = groupSweeps(store.list());
    assert.strictEqual(groupSweeps(store.list()).length, 1);
    assert.strictEqual(group.count, 6);
    assert.strictEqual(sweepCountsText(group.counts), '6 ok');
    const texts: string[] = [];
    for (const r of ended) {
      const out = await backend.results(runRef(r), path.join(tmp, `out-${r.sweep!.index}`));
      assert.strictEqual(out.kind, 'stdout');
      texts.push(out.kind === 'stdout' ? out.text.trim() : '');
    }
    assert.deepStrictEqual(texts, EXPECTED);
    assert.deepStrictEqual(ended.map((r) => r.sweep!.params), [
      { a: '1', b: '10' }, { a: '1', b: '20' }, { a: '1', b: '30' }, { a: '2', b: '10' }, { a: '2', b: '20' }, { a: '2', b: '30' },
    ]);
  }

  describe('web API test server', () => {
    let server: MuseTestServer;
    let backend: WsBackend;
    let dir: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sweep-ws-'));
      const image = path.join(dir, 'image');
      execFileSync('bash', [path.join(repoRoot(), 'test/fixtures/singularity/build-image.sh'), image], { stdio: 'pipe' });
      server = await startMuseServer({ dataDir: path.join(dir, 'data'), images: { sw_example: image }, singularityCommand: SINGULARITY_STAND_IN });
      let token: string | undefined;
      backend = new WsBackend({ baseUrl: server.url, getToken: async () => token, attempts: 3, retryDelayMs: 20 });
      token = await backend.client.obtainToken('alice', 'secret');
    });
    after(async () => {
      await backend?.dispose();
      await server?.close();
      // Tasks sent by the cancel test may still be writing their run folders for a moment.
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    });

    it('a 2x3 sweep of add.py is six grouped runs with the right six results', async () => {
      await checkSweep(backend, { name: 'muse', kind: 'ws', url: server.url } as unknown as Profile);
    });

    it('a cancel while the tasks are being sent stops sending: the tasks sent stay listed with their keys', async () => {
      const ac = new AbortController();
      let n = 0;
      const real = backend.submit.bind(backend);
      const counting = Object.create(backend) as WsBackend;
      counting.submit = async (req, opts) => {
        const r = await real(req, opts);
        if (++n === 2) ac.abort();
        return r;
      };
      const values = Array.from({ length: 20 }, (_, i) => String(i));
      await assert.rejects(
        submitSweep({ backend: counting, store, profile: { name: 'muse', kind: 'ws', url: server.url } as unknown as Profile, request: { software: 'sw_example', cmd: 'python /add.py {i} 1' }, spec: { template: 'python /add.py {i} 1', params: [{ name: 'i', values }], combine: 'product' } }, { signal: ac.signal }),
        (e: unknown) => isMuseError(e, 'cancelled') && /tasks were sent; those stay listed/.test(e.message),
      );
      const listed = store.list();
      const keyed = listed.filter((r) => r.key);
      assert.strictEqual(keyed.length, n, 'every task whose key came is listed with it');
      // Those cut while in flight (at most the 3 other workers) may exist on the server: kept, and said so.
      const cut = listed.filter((r) => !r.key);
      assert.ok(cut.length <= 3, `${cut.length} cut in flight`);
      assert.ok(cut.every((r) => r.state === 'unknown' && /may have reached the server/.test(r.lastError ?? '')), JSON.stringify(cut.map((r) => r.lastError)));
      assert.ok(listed.length < 20, 'the tasks never sent are not listed');
      const answers = await backend.states(keyed.map(runRef));
      for (const r of keyed) assert.ok(!(answers.get(r.id) instanceof Error), `the server knows ${r.key}`);
    });
    it('an input file that disappeared before the submit: a clear error naming it, no task sent or left waiting', async () => {
      const files = ['a.txt', 'b.txt'].map((n) => {
        const p = path.join(tmp, n);
        fs.writeFileSync(p, `${n}\n`);
        return { path: p, name: n };
      });
      fs.rmSync(files[1].path);
      const before = store.list().length;
      await assert.rejects(
        submitSweep({
          backend,
          store,
          profile: { name: 'muse', kind: 'ws', url: server.url } as unknown as Profile,
          request: { software: 'sw_example', cmd: 'cat {f}', files },
          spec: { template: 'cat {f}', params: [{ name: 'f', values: ['a.txt', 'b.txt'] }], combine: 'product' },
        }),
        (e: unknown) => isMuseError(e) && e.message.includes('b.txt'),
      );
      const left = store.list().slice(before);
      assert.ok(left.every((r) => !r.key && r.state !== 'waiting'), JSON.stringify(left.map((r) => [r.state, r.lastError])));
    });
  });

  describe('local runner', () => {
    it('a 2x3 sweep of add.py is six grouped runs with the right six results', async () => {
      const backend = new LocalBackend({ root: path.join(tmp, 'runs'), images: { sw_example: swExampleImage() }, singularityCommand: SINGULARITY_STAND_IN });
      await checkSweep(backend, { name: 'local', kind: 'local' });
    });

    it('runs at most the throttle at once', async () => {
      const backend = new LocalBackend({ root: path.join(tmp, 'runs') });
      const log = path.join(tmp, 'times.log');
      // Each task logs its start and end (ms); the sleep makes overlaps certain without a limit.
      const template = `sh -c 'echo "$(date +%s%3N) 1" >> ${log}; sleep 1; echo "$(date +%s%3N) -1" >> ${log}' task {i}`;
      const spec = { template, params: [{ name: 'i', values: ['0', '1', '2', '3', '4'] }], combine: 'product' as const };
      const runs = await submitSweep({ backend, store, profile: { name: 'local', kind: 'local' }, request: { software: 'plain', cmd: template }, spec, throttle: 2 });
      // The tasks past the limit show waiting (for a slot), the others running.
      await until('running and waiting tasks', async () => {
        await refreshRuns(backend, store, store.list());
        const c = groupSweeps(store.list())[0].counts;
        return c.running === localSlots(2) && c.waiting === 5 - localSlots(2);
      }, { timeoutMs: 10_000, intervalMs: 100 });
      const ended = await allEnded(backend, runs);
      assert.ok(ended.every((r) => r.state === 'ok'), JSON.stringify(ended.map((r) => r.lastError ?? r.state)));
      const events = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      assert.strictEqual(events.length, 10);
      let running = 0;
      let most = 0;
      for (const [, d] of events) most = Math.max(most, (running += d));
      assert.strictEqual(most, localSlots(2), `at most the throttle (or one per core) at once, and the limit is used (${most})`);
    });
  });

  describe('muse CLI (built, local runner)', () => {
    let env: NodeJS.ProcessEnv;
    let cwd: string;
    const muse = (args: string[]): Promise<MuseResult> => runMuse(args, { env, cwd });
    const ok = (r: MuseResult, what: string): MuseResult => {
      assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      return r;
    };
    before(function () {
      this.timeout(300_000);
      buildCli();
    });
    beforeEach(async () => {
      cwd = path.join(tmp, 'work');
      fs.mkdirSync(cwd, { recursive: true });
      env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
      delete env.MUSE_PROFILE;
      ok(await muse(['profiles', 'add', 'loc', '--kind', 'local', '--default']), 'add profile');
    });

    it('submit --param prints the sweep id; runs shows one row with its counts (--all its tasks); cancel SWEEP stops it', async () => {
      const a = ok(await muse(['submit', 'plain', '--cmd', 'printf "%s\\n" {v}', '--param', 'v=["x y", "$(id)"]']), 'submit sweep');
      const id = a.stdout.trim();
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.match(a.stderr, /2 task\(s\); the first commands:\n {2}printf "%s\\n" 'x y'\n {2}printf "%s\\n" '\$\(id\)'/);
      await until('the sweep row to say 2 ok', async () => {
        const r = ok(await muse(['runs']), 'runs');
        return r.stdout.split('\n').filter((l) => l.includes('sweep of 2')).length === 1 && /2 ok/.test(r.stdout);
      }, { timeoutMs: 30_000, intervalMs: 300 });
      const all = ok(await muse(['runs', '--all']), 'runs --all').stdout;
      assert.match(all, /#0 v=x y/);
      assert.match(all, /#1 v=\$\(id\)/);
      const store = new RunStore(path.join(env.MUSE_DATA_DIR as string, 'runs.json'));
      await store.load();
      const texts = await Promise.all(groupSweeps(store.list())[0].tasks.map(async (t) => {
        const r = ok(await muse(['results', t.id.slice(0, 8)]), 'results');
        return r.stdout.trim();
      }));
      assert.deepStrictEqual(texts, ['x y', '$(id)'], 'each value reached the program as one argument, uninterpreted');

      const b = ok(await muse(['submit', 'plain', '--cmd', 'sleep 60 # {i}', '--param', 'i=1:3', '--throttle', '1']), 'submit long sweep');
      const long = b.stdout.trim();
      const c = ok(await muse(['cancel', long.slice(0, 8)]), 'cancel sweep');
      assert.match(c.stderr, /Cancel asked for 3 task\(s\) of sweep/);
      await until('the sweep to be cancelled', async () => /3 cancelled/.test(ok(await muse(['runs']), 'runs').stdout), { timeoutMs: 30_000, intervalMs: 300 });
      fs.writeFileSync(path.join(cwd, 'one.txt'), 'A\n');
      fs.writeFileSync(path.join(cwd, 'two.txt'), 'B\n');
      const f = ok(await muse(['--json', 'submit', 'plain', '--cmd', 'cat {f}', '--param-file', 'f=*.txt']), 'submit --param-file');
      const sent = JSON.parse(f.stdout) as { sweep: { id: string; count: number }; runs: Run[] };
      assert.strictEqual(sent.sweep.count, 2);
      assert.deepStrictEqual(sent.runs.map((r) => r.request.cmd).sort(), ['cat one.txt', 'cat two.txt']);
      await until('the file sweep to end', async () => /2 ok/.test(ok(await muse(['runs']), 'runs').stdout), { timeoutMs: 30_000, intervalMs: 300 });
      const outs = await Promise.all(sent.runs.map(async (r) => ok(await muse(['results', r.id.slice(0, 8)]), 'results').stdout.trim()));
      assert.deepStrictEqual(outs.sort(), ['A', 'B'], 'one task per file, each reading its own');

      const bad = await muse(['submit', 'plain', '--cmd', 'echo {a} {b}', '--param', 'a=1,2']);
      assert.strictEqual(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /\{b\} has no values/);
    });
  });
});
