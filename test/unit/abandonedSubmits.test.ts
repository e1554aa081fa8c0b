// A run left "submitting" by a window or muse command that stopped before the cluster answered:
// nothing else would ever change it. It becomes "unknown", saying to check before sending again;
// a submission whose sender lives (here, or on another host) is left alone.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ABANDONED_TEXT, isAbandonedSubmit, settleAbandonedSubmits } from '../../src/core/abandonedSubmits';
import type { Backend } from '../../src/core/backend';
import type { Run } from '../../src/core/model';
import { processTag } from '../../src/core/processAlive';
import { DEFAULT_LOCAL_PROFILE } from '../../src/core/profiles';
import { submitRun } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { submitSweep } from '../../src/core/sweep/submitSweep';

/** The tag of a process that has ended (a window closed, a muse command killed). */
function deadTag(): string {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return `${os.hostname()}:${r.stdout.toString()}`;
}

function run(id: string, over: Partial<Run>): Run {
  const at = new Date().toISOString();
  return { id, profile: 'p', backend: 'local', software: 'sw', request: { software: 'sw', cmd: 'true' }, state: 'submitting', raw: {}, createdAt: at, updatedAt: at, ...over } as Run;
}

describe('core: abandoned submissions', () => {
  let dir: string;
  let store: RunStore;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-abandoned-'));
    store = new RunStore(path.join(dir, 'runs.json'));
    await store.load();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are the submitting records, without a key, whose sender is gone (or, naming none, a day old)', () => {
    const dead = deadTag();
    const dayAgo = new Date(Date.now() - 25 * 3600_000).toISOString();
    assert.strictEqual(isAbandonedSubmit(run('a', { sentBy: dead })), true, 'its sender is gone');
    assert.strictEqual(isAbandonedSubmit(run('b', { sentBy: processTag() })), false, 'its sender lives');
    assert.strictEqual(isAbandonedSubmit(run('c', { sentBy: `another-host:${process.pid + 100000}` })), false, "another host's process cannot be checked");
    assert.strictEqual(isAbandonedSubmit(run('d', { sentBy: dead, key: 'k' })), false, 'it has its key: the poller follows it');
    assert.strictEqual(isAbandonedSubmit(run('e', { sentBy: dead, state: 'waiting', key: 'k' })), false);
    assert.strictEqual(isAbandonedSubmit(run('f', { sentBy: dead, state: 'unknown' })), false, 'already settled');
    assert.strictEqual(isAbandonedSubmit(run('g', {})), false, 'a record from before sentBy, an hour old at most');
    assert.strictEqual(isAbandonedSubmit(run('h', { createdAt: dayAgo })), true, 'a record from before sentBy, a day old');
  });

  it('are marked unknown in one store write, saying to check before submitting again; the others are untouched', async () => {
    const dead = deadTag();
    await store.addMany([run('gone-1', { sentBy: dead }), run('gone-2', { sentBy: dead }), run('alive', { sentBy: processTag() }), run('keyed', { sentBy: dead, key: 'k', state: 'waiting' })]);
    let writes = 0;
    const off = store.onDidChange(() => writes++);
    const marked = await settleAbandonedSubmits(store);
    off();
    assert.deepStrictEqual(marked.map((r) => r.id).sort(), ['gone-1', 'gone-2']);
    assert.strictEqual(writes, 1, 'one write for the change set');
    const onDisk = new Map((JSON.parse(fs.readFileSync(store.file, 'utf8')).runs as Run[]).map((r) => [r.id, r]));
    assert.strictEqual(onDisk.get('gone-1')?.state, 'unknown');
    assert.strictEqual(onDisk.get('gone-2')?.lastError, ABANDONED_TEXT);
    assert.match(ABANDONED_TEXT, /stopped before the cluster answered.*check before submitting again/);
    assert.strictEqual(onDisk.get('alive')?.state, 'submitting');
    assert.strictEqual(onDisk.get('keyed')?.state, 'waiting');
    assert.deepStrictEqual(await settleAbandonedSubmits(store), [], 'nothing left to mark: no write');
  });

  it('submitRun and submitSweep name this process as the sender', async () => {
    const tags: Array<string | undefined> = [];
    const backend: Backend = {
      kind: 'local',
      submit: async () => {
        tags.push(...store.list().map((r) => r.sentBy));
        return { key: `k-${tags.length}` };
      },
      states: async () => new Map(),
      results: () => Promise.reject(new Error('not used')),
      content: () => Promise.reject(new Error('not used')),
    };
    await submitRun({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request: { software: 'sw', cmd: 'true' } });
    await submitSweep({ backend, store, profile: DEFAULT_LOCAL_PROFILE, request: { software: 'sw', cmd: 'echo {a}' }, spec: { template: 'echo {a}', params: [{ name: 'a', values: ['1', '2'] }], combine: 'product' } });
    assert.ok(tags.length >= 1);
    for (const r of store.list()) assert.strictEqual(r.sentBy, processTag(), `${r.id} names its sender`);
    assert.strictEqual(store.list().length, 3);
  });
});
