/**
 * `streamToFile` (the undici path's writer, the SSH and zip-entry copies') on in-memory
 * streams: a body is written through `<dest>.part`, and a short, failed or cancelled one leaves
 * `<dest>` as it was.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { isMuseError } from '../../src/core/errors';
import { partPath, streamToFile } from '../../src/core/transfer/streamToFile';

describe('streamToFile (unit)', () => {
  let tmp: string;
  let dest: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'httpfile-unit-'));
    dest = path.join(tmp, 'sub', 'out.bin');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const rejectsCode = async (p: Promise<unknown>, code: string, re?: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(isMuseError(e, code as never), `expected ${code}, got ${String(e)}`);
      if (re) assert.match((e as Error).message, re);
      return true;
    });
  };

  it('writes the head, then the stream, creating the folder, and reports progress to the end', async () => {
    const seen: number[] = [];
    const n = await streamToFile(Readable.from([Buffer.from('lo '), Buffer.from('world')]), dest, {
      head: Buffer.from('hel'),
      expectedBytes: 11,
      onProgress: (p) => seen.push(p.done),
    });
    assert.strictEqual(n, 11);
    assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello world');
    assert.strictEqual(seen[seen.length - 1], 11);
    assert.ok(!fs.existsSync(partPath(dest)));
  });

  it('a body shorter or longer than announced is a network error; the older file stays, no .part', async () => {
    fs.mkdirSync(path.dirname(dest));
    fs.writeFileSync(dest, 'older');
    await rejectsCode(streamToFile(Readable.from([Buffer.from('abc')]), dest, { expectedBytes: 10 }), 'network', /3 of 10 bytes/);
    await rejectsCode(streamToFile(Readable.from([Buffer.from('abcdefghijkl')]), dest, { expectedBytes: 10 }), 'network');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), ['out.bin']);
    assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'older');
  });

  it('a source that fails is a network error, a cancel is cancelled, and neither leaves a .part', async () => {
    const failing = new PassThrough();
    const p1 = streamToFile(failing, dest);
    failing.write('partial');
    failing.destroy(new Error('socket hang up'));
    await rejectsCode(p1, 'network', /socket hang up/);
    assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), []);

    const ac = new AbortController();
    const endless = new PassThrough();
    const p2 = streamToFile(endless, dest, { signal: ac.signal });
    endless.write('some');
    ac.abort();
    await rejectsCode(p2, 'cancelled');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), []);
    assert.ok(endless.destroyed, 'the source is destroyed');
  });

  it('a destination that cannot be written is an io error naming it', async () => {
    fs.mkdirSync(dest, { recursive: true }); // a folder where the file should go
    await rejectsCode(streamToFile(Readable.from([Buffer.from('x')]), dest), 'io', /out\.bin/);
  });
});
