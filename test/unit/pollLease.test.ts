import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Run } from '../../src/core/model';
import { PollLease, announcesHere, windowId } from '../../src/core/pollLease';
import { processTagAlive } from '../../src/core/processAlive';
import { RunStore } from '../../src/core/store';

/** The pid of a process that has ended (a window that crashed). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('poll lease: one window polls for the user', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-lease-'));
    file = path.join(dir, 'poller.lease');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the first window takes it, a second does not, a focused one takes it over', async () => {
    const a = new PollLease(file, windowId());
    const b = new PollLease(file, windowId());
    assert.strictEqual(await a.acquire(), true);
    assert.strictEqual(await b.acquire(), false);
    assert.strictEqual(await a.acquire(), true, 'renewed by its holder');
    assert.strictEqual(await b.acquire({ steal: true }), true, 'taken over by the focused window');
    assert.strictEqual(await a.acquire(), false, 'the old holder learns it at its next renewal');
    assert.strictEqual(await a.holder(), b.owner);
    assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('is taken at once when its holder closes, died, or stopped renewing', async () => {
    const a = new PollLease(file, windowId());
    const b = new PollLease(file, windowId());
    await a.acquire();
    await a.release();
    assert.strictEqual(await b.acquire(), true, 'released by a closed window');

    const crashed = new PollLease(file, `${os.hostname()}:${deadPid()}:x`);
    fs.writeFileSync(file, JSON.stringify({ owner: crashed.owner, expiresAt: Date.now() + 60_000 }));
    assert.strictEqual(processTagAlive(crashed.owner), false);
    assert.strictEqual(await a.acquire(), true, 'its holder is gone');

    let t = 1_000_000;
    const slow = new PollLease(file, windowId(), { ttlMs: 30_000, now: () => t });
    const other = new PollLease(file, windowId(), { ttlMs: 30_000, now: () => t });
    fs.rmSync(file);
    assert.strictEqual(await slow.acquire(), true);
    t += 29_000;
    assert.strictEqual(await other.acquire(), false, 'still valid');
    t += 2_000;
    assert.strictEqual(slow.held, false, 'the holder knows its lease ran out');
    assert.strictEqual(await other.acquire(), true, 'expired: taken');
  });

  it('of windows asking at the same time, exactly one holds it', async () => {
    for (let round = 0; round < 5; round++) {
      fs.rmSync(file, { force: true });
      const windows = Array.from({ length: 4 }, () => new PollLease(file, windowId()));
      const got = await Promise.all(windows.map((w) => w.acquire()));
      assert.strictEqual(got.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(got)}`);
    }
  });

  it('a torn lease file is replaced, not an error', async () => {
    fs.writeFileSync(file, '{"owner": "half');
    assert.strictEqual(await new PollLease(file, windowId()).acquire(), true);
  });
});

describe('one notification per run end', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-notify-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the submitting window announces while it lives; otherwise the lease holder', () => {
    const me = windowId();
    const other = windowId();
    const gone = `${os.hostname()}:${deadPid()}:x`;
    assert.strictEqual(announcesHere({ notifyIn: me }, me, false), true);
    assert.strictEqual(announcesHere({ notifyIn: other }, me, true), false, 'the submitting window is alive (this process)');
    assert.strictEqual(announcesHere({ notifyIn: gone }, me, true), true, 'its window is gone: the lease holder');
    assert.strictEqual(announcesHere({ notifyIn: gone }, me, false), false);
    assert.strictEqual(announcesHere({}, me, true), true, 'submitted from the CLI: the lease holder');
    assert.strictEqual(announcesHere({}, me, false), false);
  });

  it('of several windows claiming one run end, exactly one wins', async () => {
    const file = path.join(dir, 'runs.json');
    const now = new Date().toISOString();
    const run: Run = {
      id: 'r1', profile: 'local', backend: 'local', software: 'sw', key: 'k',
      request: { cmd: 'x', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
      state: 'ok', raw: {}, createdAt: now, updatedAt: now,
    };
    const stores = await Promise.all([0, 1, 2].map(async () => {
      const s = new RunStore(file);
      await s.load();
      return s;
    }));
    await stores[0].add(run);
    const wins = await Promise.all(stores.map((s, i) => s.claimNotification('r1', `w${i}`)));
    assert.strictEqual(wins.filter(Boolean).length, 1, JSON.stringify(wins));
    assert.strictEqual(await stores[0].claimNotification('r1', 'late'), false);
    assert.strictEqual(await stores[0].claimNotification('missing', 'w0'), false);
  });
});
