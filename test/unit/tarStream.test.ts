/**
 * The tar writer, checked by what GNU tar makes of its archives: every member extracted byte
 * for byte under its own name (long, non-ASCII, spaces, quotes, `$()`), subfolders made, execute
 * bits kept, and a file that changes while it is sent failing the stream.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { isMuseError } from '../../src/core/errors';
import { tarStream } from '../../src/core/transfer/tarStream';
import type { TarEntry } from '../../src/core/transfer/tarStream';

async function archive(entries: TarEntry[], onBytes?: (n: number) => void): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    tarStream(entries, onBytes),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

describe('tarStream: archives GNU tar extracts (unit)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-tar-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function extract(tar: Buffer): string {
    const out = path.join(tmp, 'out');
    mkdirSync(out, { recursive: true });
    const r = spawnSync('tar', ['-x', '-o', '-f', '-', '-C', out], { input: tar });
    assert.strictEqual(r.status, 0, r.stderr.toString());
    assert.strictEqual(r.stderr.toString(), '', 'no warning from tar');
    return out;
  }

  it('carries hostile, long and non-ASCII names, subfolders, big and empty files, byte for byte', async () => {
    const src = path.join(tmp, 'src');
    mkdirSync(src);
    const names = [
      'plain.txt',
      'with space.txt',
      `quote'd "and" $(touch pwned) \`x\`.txt`,
      'données/été/naïve ünïcode 数据.csv',
      `deep/${'sub/'.repeat(30)}file.txt`,
      `${'n'.repeat(99)}`,
      `${'l'.repeat(101)}`,
      'empty.bin',
      'big.bin',
    ];
    const entries: TarEntry[] = names.map((name, i) => {
      const p = path.join(src, `f${i}`);
      const content = name === 'empty.bin' ? Buffer.alloc(0) : name === 'big.bin' ? Buffer.alloc(3 * 1024 * 1024 + 17, 5) : Buffer.from(`content of ${name}\n`);
      writeFileSync(p, content);
      return { name, path: p };
    });
    chmodSync(entries[0].path!, 0o755);
    entries.push({ name: 'generated/batch.sh', data: Buffer.from('#!/bin/bash\necho hi\n'), mode: 0o755 });
    let counted = 0;
    const tar = await archive(entries, (n) => (counted += n));
    assert.strictEqual(tar.length % 512, 0);
    const out = extract(tar);
    for (const e of entries) {
      const want = e.data ?? readFileSync(e.path!);
      assert.deepStrictEqual(readFileSync(path.join(out, e.name)), want, e.name);
    }
    assert.strictEqual(counted, entries.reduce((a, e) => a + (e.data ?? readFileSync(e.path!)).length, 0));
    assert.ok(statSync(path.join(out, 'plain.txt')).mode & 0o100, 'the execute bit is kept');
    assert.ok(statSync(path.join(out, 'generated/batch.sh')).mode & 0o100);
    assert.strictEqual(statSync(path.join(out, 'with space.txt')).mode & 0o111, 0, 'a plain file gets no execute bit');
    const listed = spawnSync('tar', ['-t', '-f', '-'], { input: tar }).stdout.toString().split('\n').filter(Boolean);
    assert.deepStrictEqual(listed, entries.map((e) => e.name));
  });

  it('fails with an io error when a file is missing, before its header goes out', async () => {
    await assert.rejects(archive([{ name: 'gone.txt', path: path.join(tmp, 'nope') }]), (e: unknown) => isMuseError(e, 'io') && /nope/.test((e as Error).message));
  });
});
