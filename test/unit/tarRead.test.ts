/**
 * The tar reader, fed what GNU tar writes (pax and GNU formats: long and non-ASCII names,
 * subfolders, empty and large files): every file comes out under its name, byte for byte; an
 * archive cut short is an error, not a shorter set of files.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable, Writable } from 'stream';
import { isMuseError } from '../../src/core/errors';
import { readTar } from '../../src/core/transfer/tarRead';

async function files(tar: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  // Small chunks: headers and data split across reads.
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += 777) chunks.push(tar.subarray(i, i + 777));
  await readTar(Readable.from(chunks), (f) => {
    const parts: Buffer[] = [];
    const w = new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
      final(cb) {
        out.set(f.name, Buffer.concat(parts));
        cb();
      },
    });
    return w;
  });
  await new Promise((r) => setImmediate(r));
  return out;
}

describe('readTar: GNU tar archives read back (unit)', () => {
  let tmp: string;
  const content = new Map<string, Buffer>([
    ['plain.txt', Buffer.from('plain\n')],
    ['empty.bin', Buffer.alloc(0)],
    [`deep/${'sub/'.repeat(40)}long name.txt`, Buffer.from('deep')],
    ['données/日本 été.csv', Buffer.from('a,b\n1,2\n')],
    ['big.bin', Buffer.alloc(2 * 1024 * 1024 + 3, 9)],
  ]);
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-tarread-'));
    for (const [n, c] of content) {
      mkdirSync(path.dirname(path.join(tmp, 'src', n)), { recursive: true });
      writeFileSync(path.join(tmp, 'src', n), c);
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const format of ['pax', 'gnu']) {
    it(`reads every file of a ${format} archive byte for byte`, async () => {
      const tar = spawnSync('tar', [`--format=${format}`, '-cf', '-', '-C', path.join(tmp, 'src'), '.'], { maxBuffer: 64 * 1024 * 1024 }).stdout;
      const got = await files(tar);
      assert.deepStrictEqual([...got.keys()].sort(), [...content.keys()].sort());
      for (const [n, c] of content) assert.ok(got.get(n)!.equals(c), n);
    });
  }

  it('an archive cut short is a malformed error', async () => {
    const tar = spawnSync('tar', ['--format=pax', '-cf', '-', '-C', path.join(tmp, 'src'), '.'], { maxBuffer: 64 * 1024 * 1024 }).stdout;
    await assert.rejects(readTar(Readable.from([tar.subarray(0, 5000)]), () => new PassThrough().resume()), (e: unknown) => isMuseError(e, 'malformed'));
  });
});
