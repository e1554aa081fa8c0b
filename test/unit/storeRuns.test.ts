import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend, RunRef, SubmitResult } from '../../src/core/backend';
import { MuseError, isMuseError } from '../../src/core/errors';
import type { StateReport, SubmitRequest } from '../../src/core/model';
import { DEFAULT_LOCAL_PROFILE } from '../../src/core/profiles';
import { refreshRuns, submitRun } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';

/** A backend whose answers the test decides; it reads the store while submitting. */
class FakeBackend implements Backend {
  readonly kind = 'local' as const;
  submitImpl: (req: SubmitRequest) => Promise<SubmitResult> = async () => ({ key: 'k-1', location: '/runs/k-1', jobId: '42' });
  statesImpl: (runs: RunRef[]) => Promise<Map<string, StateReport | Error>> = async () => new Map();
  statesCalls = 0;
  submit(req: SubmitRequest): Promise<SubmitResult> {
    return this.submitImpl(req);
  }
  states(runs: RunRef[]): Promise<Map<string, StateReport | Error>> {
    this.statesCalls++;
    return this.statesImpl(runs);
  }
  results(): never {
    throw new Error('not used');
  }
  content(): never {
    throw new Error('not used');
  }
}

describe('submitRun / refreshRuns', () => {
  let dir: string;
  let store: RunStore;
  let backend: FakeBackend;
  const request: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 4 5' };
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-runs-'));
    store = new RunStore(path.join(dir, 'runs.json'));
    await store.load();
    backend = new FakeBackend();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function onDisk(): { id: string; state: string; key?: string; lastError?: string }[] {
    return JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8')).runs;
  }

  it('records a submitting run on disk before the backend is asked, then the key', async () => {
    let seenWhileSubmitting: ReturnType<typeof onDisk> = [];
    backend.submitImpl = async () => {
      seenWhileSubmitting = onDisk();
      return { key: 'k-1', location: '/runs/k-1', jobId: '42', message: 'accepted' };
    };
    const run = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request, label: 'add' });
    assert.strictEqual(seenWhileSubmitting.length, 1);
    assert.strictEqual(seenWhileSubmitting[0].state, 'submitting');
    assert.strictEqual(seenWhileSubmitting[0].key, undefined);
    assert.match(run.id, /^[0-9a-f-]{36}$/);
    assert.deepStrictEqual(
      { key: run.key, state: run.state, location: run.location, jobId: run.raw.jobId, label: run.label },
      { key: 'k-1', state: 'waiting', location: '/runs/k-1', jobId: '42', label: 'add' },
    );
    assert.strictEqual(onDisk()[0].key, 'k-1');
    assert.strictEqual(run.request.returnedType, 'stdout');
  });

  it('marks a plainly refused submit failed, with the server text', async () => {
    backend.submitImpl = async () => {
      throw new MuseError('server', 'Server error: unknown software "nope".', { status: 400 });
    };
    await assert.rejects(submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request }), (e: unknown) => isMuseError(e, 'server'));
    const [r] = onDisk();
    assert.strictEqual(r.state, 'failed');
    assert.strictEqual(r.lastError, 'Server error: unknown software "nope".');
  });

  it('marks a submit that may have reached the server unknown, and says so', async () => {
    backend.submitImpl = async () => {
      throw new MuseError('network', 'The connection to 127.0.0.1 was reset.');
    };
    await assert.rejects(submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request }));
    const [r] = onDisk();
    assert.strictEqual(r.state, 'unknown');
    assert.match(r.lastError ?? '', /reset\. The request may have reached the server: a run may have been created/);
  });

  it('marks a submit that certainly did not reach the server failed, without the may-have-reached warning', async () => {
    backend.submitImpl = async () => {
      throw new MuseError('network', 'The connection to 127.0.0.1:1 was refused.', { notSent: true });
    };
    await assert.rejects(submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request }));
    const [r] = onDisk();
    assert.strictEqual(r.state, 'failed');
    assert.strictEqual(r.lastError, 'The connection to 127.0.0.1:1 was refused.');
  });

  it('refreshes many runs with one states call, and an error touches only its run', async () => {
    const a = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request });
    backend.submitImpl = async () => ({ key: 'k-2' });
    const b = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request });
    backend.submitImpl = async () => ({ key: 'k-3' });
    const c = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request });
    backend.statesImpl = async (refs) => {
      assert.deepStrictEqual(refs.map((r) => r.key).sort(), ['k-1', 'k-2', 'k-3']);
      return new Map<string, StateReport | Error>([
        [a.id, { state: 'ok', raw: { cr: 'OK', latestCr: 'ENDED_OK' }, endedAt: '2024-05-01T10:00:00.000Z' }],
        [b.id, new MuseError('network', 'state of k-2: connection refused')],
        [c.id, { state: 'waiting', raw: {} }],
      ]);
    };
    const out = await refreshRuns(backend, store, [a, b, c]);
    assert.strictEqual(backend.statesCalls, 1);
    const byId = new Map(out.map((r) => [r.id, r]));
    assert.strictEqual(byId.get(a.id)?.state, 'ok');
    assert.strictEqual(byId.get(a.id)?.raw.cr, 'OK');
    assert.strictEqual(byId.get(a.id)?.raw.jobId, '42', 'earlier facts kept');
    assert.strictEqual(byId.get(a.id)?.endedAt, '2024-05-01T10:00:00.000Z');
    assert.strictEqual(byId.get(b.id)?.state, 'waiting', 'the failing run keeps its state');
    assert.strictEqual(byId.get(b.id)?.lastError, 'state of k-2: connection refused');
    assert.strictEqual(byId.get(c.id)?.updatedAt, c.updatedAt, 'unchanged run not rewritten');
    const fresh = new RunStore(path.join(dir, 'runs.json'));
    await fresh.load();
    assert.strictEqual(fresh.get(a.id)?.state, 'ok');
    assert.strictEqual(fresh.get(b.id)?.lastError, 'state of k-2: connection refused');
  });

  it('stores a poll that changes 1,000 runs with one write and one change event', async () => {
    let writes = 0;
    const counted = new RunStore(path.join(dir, 'runs.json'), { hooks: { beforeRename: () => void writes++ } });
    await counted.load();
    const now = new Date().toISOString();
    const runs = Array.from({ length: 1000 }, (_, i) => ({
      id: `run-${i}`,
      profile: 'local',
      backend: 'local' as const,
      software: 'sw_example',
      key: `k-${i}`,
      request: { cmd: 'x', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout' as const, toDownload: false, sbatchList: [], moduleList: [] },
      state: 'waiting' as const,
      raw: {},
      createdAt: now,
      updatedAt: now,
    }));
    for (const r of runs.slice(0, 3)) await counted.add(r);
    // The other 997 in one go, as another process would have written them.
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8'));
    doc.runs = runs;
    fs.writeFileSync(path.join(dir, 'runs.json'), JSON.stringify(doc));
    await counted.reload();
    writes = 0;
    let events = 0;
    counted.onDidChange(() => void events++);
    backend.statesImpl = async (refs) => new Map(refs.map((r) => [r.id, { state: 'ok', raw: { exitCode: 0 } } as StateReport]));
    const started = performance.now();
    const out = await refreshRuns(backend, counted, counted.list());
    const ms = performance.now() - started;
    assert.strictEqual(writes, 1, 'one store write for the whole poll');
    assert.strictEqual(events, 1, 'one change event');
    assert.strictEqual(out.length, 1000);
    assert.ok(out.every((r) => r.state === 'ok' && r.raw.exitCode === 0));
    const fresh = new RunStore(path.join(dir, 'runs.json'));
    await fresh.load();
    assert.strictEqual(fresh.list().filter((r) => r.state === 'ok').length, 1000);
    console.log(`      (1,000 changed runs stored in ${ms.toFixed(0)} ms)`);
  });

  it('a run removed during the poll is not written back', async () => {
    const a = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request });
    backend.submitImpl = async () => ({ key: 'k-2' });
    const b = await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request });
    backend.statesImpl = async () => {
      await store.remove([a.id]);
      return new Map<string, StateReport | Error>([
        [a.id, { state: 'ok', raw: {} }],
        [b.id, { state: 'ok', raw: {} }],
      ]);
    };
    const out = await refreshRuns(backend, store, [a, b]);
    assert.deepStrictEqual(out.map((r) => r.id), [b.id]);
    assert.strictEqual(store.get(a.id), undefined);
    assert.strictEqual(store.get(b.id)?.state, 'ok');
  });
});
