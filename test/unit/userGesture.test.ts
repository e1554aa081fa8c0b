/**
 * The window's rule for "may this work ask the user?" (src/extension/userGesture.ts) and the poll
 * that fails when its login needed a sign-in (src/extension/pollRefresh.ts): both without VS Code.
 */
import * as assert from 'assert';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend, RunRef } from '../../src/core/backend';
import { MuseError, isMuseError } from '../../src/core/errors';
import type { Run, StateReport } from '../../src/core/model';
import { RunStore } from '../../src/core/store';
import { pollProfileRuns } from '../../src/extension/pollRefresh';
import { asUserGesture, isUserInitiated, outsideGesture } from '../../src/extension/userGesture';

describe('user gestures: what may ask the user', () => {
  it('is the user\'s inside a gesture only, until it ends, and never in a timer cleared of it', async () => {
    assert.strictEqual(isUserInitiated(), false);
    const seen: Record<string, boolean> = {};
    let timer: Promise<void> | undefined;
    let cleared: Promise<void> | undefined;
    await asUserGesture('muse.refresh', async () => {
      seen.start = isUserInitiated();
      await new Promise((r) => setImmediate(r));
      seen.afterAwait = isUserInitiated();
      timer = new Promise<void>((r) => setTimeout(() => ((seen.timerAfterEnd = isUserInitiated()), r()), 20));
      cleared = new Promise<void>((r) => outsideGesture(() => setTimeout(() => ((seen.outside = isUserInitiated()), r()), 0)));
      await cleared;
    });
    await timer;
    assert.deepStrictEqual(seen, { start: true, afterAwait: true, outside: false, timerAfterEnd: false });
    assert.strictEqual(isUserInitiated(), false);
  });
});

describe('a window poll of a profile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'muse-poll-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function storeWithRun(): Promise<{ store: RunStore; run: Run }> {
    const store = new RunStore(path.join(dir, 'runs.json'));
    await store.load();
    const now = new Date().toISOString();
    const run = { id: `r${Math.random().toString(36).slice(2)}`, profile: 'hpc', backend: 'ssh', software: 'sw', request: { cmd: 'x' }, state: 'waiting', raw: { jobId: '7' }, key: 'k7', createdAt: now, updatedAt: now } as unknown as Run;
    await store.add(run);
    return { store, run: store.get(run.id)! };
  }
  const backendAnswering = (answer: (r: RunRef) => StateReport | Error): Backend =>
    ({ kind: 'ssh', states: async (refs: RunRef[]) => new Map(refs.map((r) => [r.id, answer(r)])) }) as unknown as Backend;

  it('fails when its login needed a sign-in it may not ask for (the tree then offers Sign In), keeping the reason on the run', async () => {
    const { store, run } = await storeWithRun();
    const why = new MuseError('auth', 'The cluster of profile "hpc" needs a sign-in.', { needsSignIn: true });
    await assert.rejects(pollProfileRuns(backendAnswering(() => why), store, [run], new AbortController().signal), (e: unknown) => isMuseError(e, 'auth') && e.details.needsSignIn === true);
    assert.match(store.get(run.id)?.lastError ?? '', /needs a sign-in/);
  });

  it('stores the states and succeeds otherwise, a run\'s own error included', async () => {
    const { store, run } = await storeWithRun();
    const after = await pollProfileRuns(backendAnswering(() => ({ state: 'ok', raw: { slurmState: 'COMPLETED' } }) as StateReport), store, [run], new AbortController().signal);
    assert.strictEqual(after[0].state, 'ok');
    const { store: s2, run: r2 } = await storeWithRun();
    await pollProfileRuns(backendAnswering(() => new MuseError('notFound', 'No such job.')), s2, [r2], new AbortController().signal);
    assert.match(s2.get(r2.id)?.lastError ?? '', /No such job/);
  });
});
