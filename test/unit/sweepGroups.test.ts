import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend, SubmitResult } from '../../src/core/backend';
import { MuseError, isMuseError } from '../../src/core/errors';
import type { Run, SubmitRequest } from '../../src/core/model';
import type { Profile } from '../../src/core/profiles';
import { RunStore } from '../../src/core/store';
import { SWEEP_SUBMIT_CONCURRENCY, submitSweep } from '../../src/core/sweep/submitSweep';
import { cancelSweep, failedTasks, groupSweeps, rerunFailedTasks, sweepCountsText } from '../../src/core/sweep/sweepGroups';
import { makeRun } from '../support/storeWriter';

function task(id: string, index: number, extra: Partial<Run> = {}, sweepId = 's1'): Run {
  return makeRun(id, { sweep: { id: sweepId, index, count: 4, params: { a: String(index) }, template: 'echo {a}' }, ...extra });
}

/** A backend without sweeps of its own: plain submits, recorded in order. */
function plainBackend(onSubmit?: (req: SubmitRequest) => Promise<void>): Backend & { sent: string[]; cancelled: string[] } {
  const sent: string[] = [];
  const cancelled: string[] = [];
  let n = 0;
  return {
    kind: 'ws',
    sent,
    cancelled,
    async submit(req: SubmitRequest): Promise<SubmitResult> {
      await onSubmit?.(req);
      sent.push(req.cmd);
      return { key: `k${n++}` };
    },
    async states() {
      return new Map();
    },
    async results() {
      throw new Error('no');
    },
    async content() {
      throw new Error('no');
    },
    async cancel(run) {
      cancelled.push(run.key!);
    },
  };
}

const profile = { name: 'p', kind: 'ws' } as unknown as Profile;

describe('sweep groups and submits', () => {
  let dir: string;
  let store: RunStore;
  let writes: number;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sweep-'));
    writes = 0;
    store = new RunStore(path.join(dir, 'runs.json'), { hooks: { beforeRename: () => void writes++ } });
    await store.load();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('groups tasks by sweep, the latest run of each index, with counts text', () => {
    const t0 = '2026-01-01T00:00:00.000Z';
    const t1 = '2026-01-02T00:00:00.000Z';
    const runs = [
      task('a', 0, { state: 'ok', createdAt: t0 }),
      task('b', 1, { state: 'failed', createdAt: t0 }),
      task('b2', 1, { state: 'waiting', raw: { slurmState: 'RUNNING' }, createdAt: t1 }),
      task('c', 2, { state: 'waiting', raw: { slurmState: 'PENDING' }, createdAt: t0 }),
      task('d', 3, { state: 'unknown', createdAt: t0 }),
      makeRun('plain'),
    ];
    const [g] = groupSweeps(runs);
    assert.strictEqual(groupSweeps(runs).length, 1);
    assert.deepStrictEqual(g.tasks.map((t) => t.id), ['a', 'b2', 'c', 'd']);
    assert.strictEqual(sweepCountsText(g.counts), '1 ok · 1 running · 1 waiting · 1 unknown');
    assert.deepStrictEqual(failedTasks(g).map((t) => t.id), ['d']);
  });

  it('records all tasks in one store write (addMany) and stores keys as they come', async () => {
    const backend = plainBackend();
    let recorded: Run[] = [];
    const runs = await submitSweep({
      backend, store, profile, request: { software: 'sw', cmd: 'python /add.py {a} {b}' },
      spec: { template: 'python /add.py {a} {b}', params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }], combine: 'product' },
      onRecorded: (r) => (recorded = r),
    });
    assert.strictEqual(recorded.length, 6);
    assert.strictEqual(runs.length, 6);
    assert.ok(runs.every((r) => r.state === 'waiting' && r.key && r.sweep?.count === 6));
    assert.deepStrictEqual(backend.sent.sort(), ['python /add.py 1 10', 'python /add.py 1 20', 'python /add.py 1 30', 'python /add.py 2 10', 'python /add.py 2 20', 'python /add.py 2 30']);
    assert.ok(writes >= 2 && writes <= 7, `one write for the records, then batched key writes (${writes})`);
    const again = new RunStore(store.file);
    await again.load();
    assert.strictEqual(again.list().filter((r) => r.key).length, 6);
    assert.strictEqual(groupSweeps(again.list())[0].counts.waiting, 6);
  });

  it('sends plain submits at most 4 at once (SWEEP_SUBMIT_CONCURRENCY)', async () => {
    let now = 0;
    let most = 0;
    const backend = plainBackend(async () => {
      most = Math.max(most, ++now);
      await new Promise((r) => setTimeout(r, 20));
      now--;
    });
    const values = Array.from({ length: 12 }, (_, i) => String(i));
    const runs = await submitSweep({ backend, store, profile, request: { software: 'sw', cmd: 'echo {i}' }, spec: { template: 'echo {i}', params: [{ name: 'i', values }], combine: 'product' } });
    assert.strictEqual(runs.length, 12);
    assert.strictEqual(most, SWEEP_SUBMIT_CONCURRENCY);
    assert.strictEqual(SWEEP_SUBMIT_CONCURRENCY, 4);
  });

  it('a refused task fails alone with its reason; the tasks never sent say why; none is lost', async () => {
    let n = 0;
    const backend = plainBackend(async () => {
      if (++n === 2) throw new MuseError('server', 'Internal error', { status: 500 });
    });
    const values = Array.from({ length: 10 }, (_, i) => String(i));
    await assert.rejects(submitSweep({ backend, store, profile, request: { software: 'sw', cmd: 'echo {i}' }, spec: { template: 'echo {i}', params: [{ name: 'i', values }], combine: 'product' } }));
    const runs = store.list();
    assert.strictEqual(runs.length, 10);
    const withKey = runs.filter((r) => r.key);
    assert.strictEqual(withKey.length, backend.sent.length);
    assert.ok(withKey.every((r) => r.state === 'waiting'));
    assert.strictEqual(runs.filter((r) => r.state === 'unknown').length, 1, 'the 500 may have made a run');
    assert.ok(runs.filter((r) => r.state === 'failed').every((r) => /^Not sent/.test(r.lastError ?? '')));
  });

  it('addMany is one write and one change event for many runs', async () => {
    let events = 0;
    store.onDidChange(() => events++);
    await store.addMany(Array.from({ length: 1000 }, (_, i) => task(`t${i}`, i)));
    assert.strictEqual(writes, 1);
    assert.strictEqual(events, 1);
    assert.strictEqual(store.list().length, 1000);
  });

  it('a cancel while submitting stops sending: the sent tasks stay listed, the others are gone', async () => {
    const ac = new AbortController();
    let n = 0;
    const backend = plainBackend(async () => {
      if (++n === 3) ac.abort();
    });
    await assert.rejects(
      submitSweep({ backend, store, profile, request: { software: 'sw', cmd: 'echo {a}' }, spec: { template: 'echo {a}', params: [{ name: 'a', values: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] }], combine: 'product' } }, { signal: ac.signal }),
      (e: unknown) => isMuseError(e, 'cancelled') && /after \d+ of 10 tasks/.test(e.message),
    );
    const listed = store.list();
    assert.ok(listed.length >= 3 && listed.length < 10, `${listed.length} listed`);
    assert.strictEqual(listed.length, backend.sent.length);
    assert.ok(listed.every((r) => r.key !== undefined));
  });

  it('reruns only the failed tasks, into the same sweep, and cancels the live ones', async () => {
    const backend = plainBackend();
    const spec = { template: 'echo {a}', params: [{ name: 'a', values: ['x', 'y', 'z'] }], combine: 'product' as const };
    const runs = await submitSweep({ backend, store, profile, request: { software: 'sw', cmd: 'echo {a}' }, spec });
    await store.update(runs[1].id, { state: 'failed' });
    await store.update(runs[0].id, { state: 'ok' });
    const [g] = groupSweeps(store.list());
    const again = await rerunFailedTasks({ backend, store, profile, request: { software: 'sw', cmd: 'ignored' }, group: g });
    assert.deepStrictEqual(again.map((r) => [r.sweep!.id, r.sweep!.index, r.request.cmd]), [[g.id, 1, 'echo y']]);
    const [g2] = groupSweeps(store.list());
    assert.strictEqual(g2.tasks.length, 3);
    assert.strictEqual(g2.tasks[1].id, again[0].id);
    assert.strictEqual(await cancelSweep(backend, store, g2), 2);
    assert.deepStrictEqual(backend.cancelled.sort(), [again[0].key, runs[2].key].sort());
  });
});
