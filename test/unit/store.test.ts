import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunStore } from '../../src/core/store';
import { isMuseError } from '../../src/core/errors';
import { spawnSupportScript } from '../support/childScript';
import { makeRun } from '../support/storeWriter';
import { until } from '../support/until';

describe('RunStore', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-store-'));
    file = path.join(dir, 'runs.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts empty when there is no file, and round-trips runs through the file', async () => {
    const a = new RunStore(file);
    await a.load();
    assert.deepStrictEqual(a.list(), []);
    await a.add(makeRun('r1', { createdAt: '2024-01-01T00:00:00.000Z', key: 'aaaa-1111' }));
    await a.add(makeRun('r2', { createdAt: '2024-01-02T00:00:00.000Z', key: 'bbbb-2222' }));
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.strictEqual(doc.version, 1);
    assert.strictEqual(doc.runs.length, 2);

    const b = new RunStore(file);
    await b.load();
    assert.deepStrictEqual(b.list().map((r) => r.id), ['r2', 'r1'], 'newest first');
    assert.strictEqual(b.get('r1')?.key, 'aaaa-1111');
    assert.strictEqual(b.get('bbbb-2222')?.id, 'r2', 'by backend key');
    assert.strictEqual(b.get('bbbb')?.id, 'r2', 'by unique key prefix');
    assert.strictEqual(b.get('r')?.id, undefined, 'ambiguous prefix');
    assert.throws(() => b.resolve('r'), (e: unknown) => isMuseError(e, 'usage') && /matches 2 runs/.test(e.message));
    assert.throws(() => b.resolve('zzz'), (e: unknown) => isMuseError(e, 'notFound'));
    assert.deepStrictEqual(b.warnings, []);
  });

  it('updates the record as it is on disk, removes undefined fields, and removes runs', async () => {
    const a = new RunStore(file);
    const b = new RunStore(file);
    await a.load();
    await b.load();
    await a.add(makeRun('r1', { lastError: 'boom' }));
    // b never saw r1, yet its update merges into the file's copy.
    const up = await b.update('r1', { state: 'ok', lastError: undefined, endedAt: '2024-01-01T00:00:00.000Z' });
    assert.strictEqual(up.state, 'ok');
    assert.strictEqual('lastError' in up, false);
    await a.reload();
    assert.strictEqual(a.get('r1')?.state, 'ok');
    await assert.rejects(b.update('nope', { state: 'ok' }), (e: unknown) => isMuseError(e, 'notFound'));
    await a.remove(['r1']);
    await b.reload();
    assert.deepStrictEqual(b.list(), []);
  });

  it('keeps unknown fields of records and records it cannot show', async () => {
    fs.writeFileSync(file, JSON.stringify({ version: 1, runs: [{ ...makeRun('r1'), futureField: { x: 1 } }, { noId: true }] }));
    const s = new RunStore(file);
    await s.load();
    assert.strictEqual(s.list().length, 1);
    assert.match(s.warnings.join('\n'), /without an "id"/);
    await s.update('r1', { state: 'ok' });
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepStrictEqual(doc.runs[0].futureField, { x: 1 });
    assert.deepStrictEqual(doc.runs[1], { noId: true });
  });

  it('loses nothing when 4 processes add 25 runs each at the same time', async function () {
    this.timeout(120000);
    const results = await Promise.all([0, 1, 2, 3].map((i) => spawnSupportScript('storeWriter', ['add', file, `p${i}`, '25'])));
    for (const r of results) assert.strictEqual(r.code, 0, r.stderr);
    const s = new RunStore(file);
    await s.load();
    assert.strictEqual(s.list().length, 100);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 25; j++) assert.ok(s.get(`p${i}-${j}`), `p${i}-${j} kept`);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['runs.json'], 'no temp or lock file left');
  });

  it('sets a corrupt file aside with a clear warning, never silently empties it', async () => {
    fs.writeFileSync(file, '{"version": 1, "runs": [ {"id": "r1"'); // truncated
    const s = new RunStore(file);
    await s.load();
    assert.deepStrictEqual(s.list(), []);
    const aside = fs.readdirSync(dir).filter((n) => n.startsWith('runs.json.corrupt-'));
    assert.strictEqual(aside.length, 1);
    assert.strictEqual(fs.readFileSync(path.join(dir, aside[0]), 'utf8'), '{"version": 1, "runs": [ {"id": "r1"', 'old bytes kept');
    assert.match(s.warnings.join('\n'), /unreadable \(not valid JSON.*moved to .*runs\.json\.corrupt-/);
    await s.add(makeRun('r2'));
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, 'utf8')).runs.map((r: { id: string }) => r.id), ['r2']);
  });

  it('treats a wrong shape as corrupt too', async () => {
    fs.writeFileSync(file, JSON.stringify([{ id: 'r1' }]));
    const s = new RunStore(file);
    await s.load();
    assert.match(s.warnings.join('\n'), /not a JSON object/);
    assert.strictEqual(fs.readdirSync(dir).filter((n) => n.startsWith('runs.json.corrupt-')).length, 1);
  });

  it('keeps the old file intact when a writer dies between temp write and rename', async function () {
    this.timeout(60000);
    const s = new RunStore(file, { staleMs: 2000 });
    await s.load();
    await s.add(makeRun('before'));
    const beforeText = fs.readFileSync(file, 'utf8');
    const r = await spawnSupportScript('storeWriter', ['crash', file, 'lost']);
    assert.strictEqual(r.signal, 'SIGKILL', r.stderr);
    assert.strictEqual(fs.readFileSync(file, 'utf8'), beforeText, 'old file untouched');
    assert.ok(fs.readdirSync(dir).some((n) => n.startsWith('runs.json.tmp-')), 'the dead writer left its temp file');

    const t = new RunStore(file, { staleMs: 2000 });
    await t.load();
    assert.deepStrictEqual(t.list().map((x) => x.id), ['before']);
    // The next writer takes over the dead writer's stale lock and drops its temp file.
    await t.add(makeRun('after'));
    await t.reload();
    assert.deepStrictEqual(t.list().map((x) => x.id).sort(), ['after', 'before']);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['runs.json']);
  });

  it('notices changes made by another process through watch()', async () => {
    const s = new RunStore(file);
    await s.load();
    const seen: number[] = [];
    s.onDidChange((runs) => seen.push(runs.length));
    const w = s.watch();
    try {
      const r = await spawnSupportScript('storeWriter', ['add', file, 'other', '2']);
      assert.strictEqual(r.code, 0, r.stderr);
      await until('the watcher to reload', () => s.list().length === 2);
      assert.strictEqual(seen[seen.length - 1], 2);
    } finally {
      w.dispose();
    }
  });
  it('reads nothing back after its own write: only a change by someone else is read and parsed', async () => {
    const a = new RunStore(file);
    const b = new RunStore(file);
    await a.load();
    await b.load();
    let reads = 0;
    const readFile = fs.promises.readFile;
    (fs.promises as { readFile: unknown }).readFile = (async (p: fs.PathLike, ...rest: unknown[]) => {
      if (String(p) === file) reads++;
      return (readFile as (...a: unknown[]) => unknown)(p, ...rest);
    }) as typeof readFile;
    try {
      await a.add(makeRun('r1'));
      const afterWrite = reads; // the write reads the file once, under the lock
      assert.strictEqual(await a.reload(), false);
      assert.strictEqual(await a.reload(), false);
      assert.strictEqual(reads, afterWrite, 'the watch events of its own write read the file again');
      await b.add(makeRun('r2'));
      const beforeOther = reads;
      assert.strictEqual(await a.reload(), true, 'the other writer\'s run is seen');
      assert.strictEqual(reads, beforeOther + 1);
      assert.deepStrictEqual(a.list().map((r) => r.id).sort(), ['r1', 'r2']);
      assert.strictEqual(await a.reload(), false);
      assert.strictEqual(reads, beforeOther + 1, 'read once per change');
    } finally {
      (fs.promises as { readFile: unknown }).readFile = readFile;
    }
  });
});
