// The end of a run's output, read in one place (src/core/outputTail.ts): the last bytes of a file,
// a text or a follow answer, never starting in the middle of a UTF-8 character, and a run's tail
// through its backend (its tail, else its whole output only where the caller asks for it).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend, OpOptions, OutputStream, RunRef } from '../../src/core/backend';
import type { Run } from '../../src/core/model';
import { readRunTail, tailOfFile, tailOfParts, tailOfText } from '../../src/core/outputTail';

/** Text with characters of 1, 2, 3 and 4 bytes, so that cuts fall inside each of them. */
const MIXED = 'a é € 𝄞 z\nsecond line: ünïcödé ✓ 𝄢\n';

function run(): Run {
  return {
    id: 'run-1',
    key: 'key-1',
    profile: 'p',
    backend: 'ws',
    software: 'python',
    request: { cmd: 'python add.py', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state: 'failed',
    raw: {},
    createdAt: '2026-12-01T10:00:00Z',
    updatedAt: '2026-12-01T10:00:00Z',
  };
}

function bareBackend(extra: Partial<Backend>): Backend {
  return {
    kind: 'ws',
    submit: async () => ({ key: 'x' }),
    states: async () => new Map(),
    results: async () => ({ kind: 'stdout', text: '' }),
    content: async () => ({ path: '', bytes: 0 }),
    ...extra,
  };
}

describe('output tails (core/outputTail.ts)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-tail-test-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function file(content: string | Buffer): string {
    const f = path.join(dir, 'stderr.txt');
    fs.writeFileSync(f, content);
    return f;
  }

  describe('tailOfFile', () => {
    it('reads the last bytes of a file longer than the limit', async () => {
      const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
      const got = await tailOfFile(file(lines), 20);
      assert.deepStrictEqual(got, { text: '7\nline 998\nline 999\n', truncated: true });
    });

    it('reads the whole file when it is shorter than the limit (or just as long)', async () => {
      assert.deepStrictEqual(await tailOfFile(file('short\n'), 1000), { text: 'short\n', truncated: false });
      assert.deepStrictEqual(await tailOfFile(file('exact\n'), 6), { text: 'exact\n', truncated: false });
      assert.deepStrictEqual(await tailOfFile(file(''), 10), { text: '', truncated: false });
    });

    it('never starts in the middle of a UTF-8 character, at any cut', async () => {
      const f = file(MIXED);
      const size = Buffer.byteLength(MIXED);
      let dropped = 0;
      for (let n = 1; n < size; n++) {
        const { text, truncated } = await tailOfFile(f, n);
        assert.ok(truncated, `limit ${n}`);
        assert.ok(!text.includes('\uFFFD'), `limit ${n}: a cut character became ${JSON.stringify(text)}`);
        assert.ok(MIXED.endsWith(text), `limit ${n}: ${JSON.stringify(text)} is not the end of the file`);
        const bytes = Buffer.byteLength(text);
        assert.ok(bytes <= n && bytes >= n - 3, `limit ${n}: ${bytes} bytes kept (only a cut character's bytes may go)`);
        if (bytes < n) dropped++;
      }
      assert.ok(dropped > 0, 'no limit fell inside a character: the test text does not test the cut');
    });

    it('keeps a character whose first byte is the first byte of the tail', async () => {
      // '€' is 3 bytes: a 3-byte tail of "xx€" starts exactly on it, a 2-byte one inside it.
      assert.deepStrictEqual(await tailOfFile(file('xx€'), 3), { text: '€', truncated: true });
      assert.deepStrictEqual(await tailOfFile(file('xx€'), 2), { text: '', truncated: true });
    });

    it('rejects for a missing file with the error of its open (ENOENT), for each caller to name', async () => {
      await assert.rejects(tailOfFile(path.join(dir, 'none.txt'), 100), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'open');
    });

    it('reads nothing for a limit of 0 or less', async () => {
      assert.deepStrictEqual(await tailOfFile(file('abc'), 0), { text: '', truncated: true });
      assert.deepStrictEqual(await tailOfFile(file('abc'), -5), { text: '', truncated: true });
    });
  });

  describe('tailOfText', () => {
    it('gives a text shorter than the limit back as it is', () => {
      assert.deepStrictEqual(tailOfText('hello\n', 64), { text: 'hello\n', truncated: false });
      assert.deepStrictEqual(tailOfText(MIXED, Buffer.byteLength(MIXED)), { text: MIXED, truncated: false });
    });

    it('counts the limit in UTF-8 bytes and cuts on a whole character', () => {
      // 'ééé' is 6 bytes: a 5-byte tail would start inside the first 'é'.
      assert.deepStrictEqual(tailOfText('ééé', 5), { text: 'éé', truncated: true });
      assert.deepStrictEqual(tailOfText('ééé', 4), { text: 'éé', truncated: true });
      for (let n = 0; n < Buffer.byteLength(MIXED); n++) {
        const { text, truncated } = tailOfText(MIXED, n);
        assert.ok(truncated && MIXED.endsWith(text) && !text.includes('\uFFFD') && Buffer.byteLength(text) <= n, `limit ${n}: ${JSON.stringify(text)}`);
      }
    });
  });

  describe('tailOfParts', () => {
    it('drops the cut character of a skipped part only', () => {
      const euro = Buffer.from('€');
      const got = tailOfParts([
        { file: 'a', from: 10, data: Buffer.concat([euro.subarray(1), Buffer.from('end\n')]), skipped: 10 },
        { file: 'b', from: 0, data: Buffer.from('€ whole\n') },
      ]);
      assert.deepStrictEqual(got, { text: 'end\n€ whole\n', truncated: true });
      assert.deepStrictEqual(tailOfParts([{ file: 'a', from: 0, data: Buffer.from('all\n') }]), { text: 'all\n', truncated: false });
      assert.deepStrictEqual(tailOfParts([]), { text: '', truncated: false });
    });
  });

  describe('readRunTail', () => {
    it("uses the backend's tail when it has one, and never fetches the whole output", async () => {
      const asked: [string, OutputStream, number, OpOptions | undefined][] = [];
      const backend = bareBackend({
        tail: async (r: RunRef, stream: OutputStream, maxBytes: number, opts?: OpOptions) => {
          asked.push([r.id, stream, maxBytes, opts]);
          return 'the end\n';
        },
        output: async () => assert.fail('output was fetched though the backend has a tail'),
      });
      const signal = new AbortController().signal;
      assert.strictEqual(await readRunTail(backend, run(), 'stderr', 123, { wholeOutput: true, signal }), 'the end\n');
      assert.deepStrictEqual(asked, [['run-1', 'stderr', 123, { signal }]], 'the options reach the backend, without wholeOutput');
    });

    it('without a tail, fetches the whole output only when asked, and keeps its end', async () => {
      const dests: string[] = [];
      const backend = bareBackend({
        output: async (_r: RunRef, stream: OutputStream, dest: string) => {
          dests.push(dest);
          const text = 'x'.repeat(100) + `\nlast of ${stream} ✓\n`;
          fs.writeFileSync(dest, text);
          return { path: dest, bytes: Buffer.byteLength(text) };
        },
      });
      assert.strictEqual(await readRunTail(backend, run(), 'stderr', 1000), undefined, 'not asked: no download');
      assert.strictEqual(dests.length, 0);
      assert.strictEqual(await readRunTail(backend, run(), 'stderr', 20, { wholeOutput: true }), '\nlast of stderr ✓\n');
      assert.strictEqual(dests.length, 1);
      assert.ok(!fs.existsSync(path.dirname(dests[0]!)), 'the temporary folder is removed');
    });

    it('is undefined for a backend with neither tail nor output', async () => {
      assert.strictEqual(await readRunTail(bareBackend({}), run(), 'stdout', 100, { wholeOutput: true }), undefined);
    });

    it('rejects when the read fails, and leaves no temporary folder', async () => {
      let dest = '';
      const backend = bareBackend({
        output: async (_r: RunRef, _s: OutputStream, d: string) => {
          dest = d;
          throw new Error('no stderr yet');
        },
      });
      await assert.rejects(readRunTail(backend, run(), 'stderr', 100, { wholeOutput: true }), /no stderr yet/);
      assert.ok(dest && !fs.existsSync(path.dirname(dest)));
      const failingTail = bareBackend({ tail: async () => Promise.reject(new Error('connection lost')) });
      await assert.rejects(readRunTail(failingTail, run(), 'stderr', 100), /connection lost/);
    });
  });
});
