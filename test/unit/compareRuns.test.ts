// Compare: what differs between two runs' requests (files by the hash recorded at submit), the
// line diff of their outputs, and the hashes recorded by submitRun.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lineDiff, splitLines, unifiedDiff } from '../../src/core/compare/lineDiff';
import { requestDiff, requestDiffLines } from '../../src/core/compare/requestDiff';
import { hashInputFiles } from '../../src/core/fileHashes';
import type { Backend } from '../../src/core/backend';
import type { Run } from '../../src/core/model';
import { submitRun } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';

function run(id: string, extra: Partial<Run> = {}, req: Partial<Run['request']> = {}): Run {
  return {
    id,
    key: `key-${id}`,
    profile: 'muse',
    backend: 'ws',
    software: 'python',
    request: { cmd: 'python add.py 1 2', cmdOption: '', files: ['add.py'], filesOrder: ['add.py'], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [], ...req },
    state: 'ok',
    raw: {},
    createdAt: '2026-12-01T10:00:00Z',
    updatedAt: '2026-12-01T10:00:00Z',
    ...extra,
  };
}

describe('request diff', () => {
  it('lists the fields that differ, a then b', () => {
    const a = run('a', {}, { sbatchList: ['--mem=1G'] });
    const b = run('b', { software: 'python3.11' }, { cmd: 'python add.py 3 4', sbatchList: ['--mem=2G', '--time=10'] });
    const d = requestDiff(a, b);
    assert.deepStrictEqual(d.fields, [
      { field: 'command', a: 'python add.py 1 2', b: 'python add.py 3 4' },
      { field: 'software', a: 'python', b: 'python3.11' },
      { field: 'sbatch', a: '--mem=1G', b: '--mem=2G --time=10' },
    ]);
    const lines = requestDiffLines(d);
    assert.strictEqual(lines[0], 'command:  - python add.py 1 2');
    assert.strictEqual(lines[1], '          + python add.py 3 4');
  });

  it('compares files by content hash: added, removed, changed, same, and unknown without hashes', () => {
    const a = run('a', { fileHashes: { 'add.py': 'h1', 'data.csv': 'h2', 'old.txt': 'h3', 'same.txt': 'h4' } }, { files: ['add.py', 'data.csv', 'old.txt', 'same.txt', 'nohash.txt'] });
    const b = run('b', { fileHashes: { 'add.py': 'h1x', 'data.csv': 'h2', 'new.txt': 'h5', 'same.txt': 'h4' } }, { files: ['add.py', 'data.csv', 'same.txt', 'new.txt', 'nohash.txt'] });
    const d = requestDiff(a, b);
    assert.deepStrictEqual(d.files, [
      { name: 'add.py', change: 'changed' },
      { name: 'old.txt', change: 'removed' },
      { name: 'nohash.txt', change: 'unknown' },
      { name: 'new.txt', change: 'added' },
    ]);
    assert.strictEqual(d.sameFiles, 2);
    assert.ok(requestDiffLines(d).includes('file add.py: changed (content differs)'));
    assert.ok(requestDiffLines(d).includes('file nohash.txt: not compared (no content hash recorded)'));
  });

  it('says so when nothing differs', () => {
    const h = { 'add.py': 'h' };
    assert.deepStrictEqual(requestDiffLines(requestDiff(run('a', { fileHashes: h }), run('b', { fileHashes: h }))), ['The requests are the same (1 input file with the same content).']);
  });
});

describe('line diff', () => {
  it('keeps common lines and marks the changed ones', () => {
    const d = lineDiff(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'e']);
    assert.deepStrictEqual(
      d.lines.map((l) => `${l.op}${l.text}`),
      [' a', '-b', '+x', ' c', ' d', '+e'],
    );
    assert.strictEqual(d.approximate, false);
  });

  it('finds the longest common part in the middle', () => {
    const d = lineDiff(['1', 'a', 'b', 'c', '2'], ['1', 'b', 'c', 'z', '2']);
    assert.deepStrictEqual(d.lines.map((l) => `${l.op}${l.text}`), [' 1', '-a', ' b', ' c', '+z', ' 2']);
  });

  it('is a shortest edit: both texts come back, and the kept lines are a longest common subsequence', () => {
    let seed = 42;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const lcs = (a: string[], b: string[]): number => {
      const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
      for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
      return t[0]![0]!;
    };
    for (let round = 0; round < 300; round++) {
      const a = Array.from({ length: rnd(12) }, () => 'xyzw'[rnd(4)]!);
      const b = Array.from({ length: rnd(12) }, () => 'xyzw'[rnd(4)]!);
      const d = lineDiff(a, b);
      assert.deepStrictEqual(d.lines.filter((l) => l.op !== '+').map((l) => l.text), a);
      assert.deepStrictEqual(d.lines.filter((l) => l.op !== '-').map((l) => l.text), b);
      assert.strictEqual(d.lines.filter((l) => l.op === ' ').length, lcs(a, b), `${a.join('')} -> ${b.join('')}`);
    }
  });

  it('matches long outputs with scattered changes exactly (5,000 lines, 500 changed)', () => {
    const a = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const b = a.map((l, i) => (i % 10 === 7 ? l.toUpperCase() : l));
    const d = lineDiff(a, b);
    assert.strictEqual(d.approximate, false);
    assert.strictEqual(d.lines.filter((l) => l.op === '-').length, 500);
    assert.strictEqual(d.lines.filter((l) => l.op === ' ').length, 4500);
  });

  it('falls back to removed-then-added when the middles are too large for the table', () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 50 }, (_, i) => (i % 2 ? `a${i}` : `b${i}`));
    const d = lineDiff(['head', ...a, 'tail'], ['head', ...b, 'tail'], 100);
    assert.strictEqual(d.approximate, true);
    assert.deepStrictEqual(d.lines[0], { op: ' ', text: 'head' });
    assert.strictEqual(d.lines.filter((l) => l.op === '-').length, 49);
    assert.deepStrictEqual(d.lines[d.lines.length - 1], { op: ' ', text: 'tail' });
  });

  it('writes a unified diff with hunk headers and 3 lines of context', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const b = a.replace('line 10\n', 'line ten\n');
    assert.deepStrictEqual(unifiedDiff(a, b, { labelA: 'A', labelB: 'B' }), [
      '--- A',
      '+++ B',
      '@@ -7,7 +7,7 @@',
      ' line 7',
      ' line 8',
      ' line 9',
      '-line 10',
      '+line ten',
      ' line 11',
      ' line 12',
      ' line 13',
    ]);
    assert.deepStrictEqual(unifiedDiff(a, a, { labelA: 'A', labelB: 'B' }), []);
    assert.deepStrictEqual(unifiedDiff('', 'x\n', { labelA: 'A', labelB: 'B' }), ['--- A', '+++ B', '@@ -0,0 +1,1 @@', '+x']);
    assert.deepStrictEqual(splitLines('a\r\nb\n'), ['a', 'b']);
  });
});

describe('input file hashes', () => {
  it('are the SHA-256 of each file by its name in the run folder; unreadable files are left out', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-hash-'));
    try {
      fs.writeFileSync(path.join(dir, 'add.py'), 'print(1)\n');
      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      fs.writeFileSync(path.join(dir, 'big.bin'), big);
      const h = await hashInputFiles([
        { path: path.join(dir, 'add.py'), name: 'add.py' },
        { path: path.join(dir, 'big.bin'), name: 'data/big.bin' },
        { path: path.join(dir, 'gone'), name: 'gone' },
      ]);
      assert.deepStrictEqual(h, {
        'add.py': createHash('sha256').update('print(1)\n').digest('hex'),
        'data/big.bin': createHash('sha256').update(big).digest('hex'),
      });
      assert.strictEqual(await hashInputFiles([]), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are recorded on the run by submitRun, before the request leaves', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-hash-submit-'));
    try {
      fs.writeFileSync(path.join(dir, 'fit.py'), 'print(2)\n');
      const store = new RunStore(path.join(dir, 'runs.json'));
      await store.load();
      let seen: Run | undefined;
      const backend = { kind: 'local', submit: async () => ({ key: 'k1' }), states: async () => new Map() } as unknown as Backend;
      const run = await submitRun({
        backend,
        store,
        profile: { name: 'local', kind: 'local' },
        request: { software: 'python', cmd: 'python fit.py', files: [{ path: path.join(dir, 'fit.py'), name: 'fit.py' }] },
        onRecorded: (r) => (seen = r),
      });
      const want = { 'fit.py': createHash('sha256').update('print(2)\n').digest('hex') };
      assert.deepStrictEqual(seen?.fileHashes, want, 'on the submitting record already');
      assert.deepStrictEqual(store.get(run.id)?.fileHashes, want);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
