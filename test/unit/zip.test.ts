import * as assert from 'assert';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { extractZip, listZip, openZipEntry } from '../../src/core/transfer/zip';
import { zipDirectory } from '../../src/core/transfer/zipFolder';
import { isMuseError } from '../../src/core/errors';
import { buildRawZip, type RawEntry } from '../fixtures/zips/rawZip';

async function readStream(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Every path under dir (relative, sorted), directories with a trailing slash. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string) => {
    for (const d of await fsp.readdir(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(abs, d.name), r);
      } else out.push(r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

describe('zip helpers', () => {
  let tmp: string;
  let dest: string;
  let outside: string;

  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-zip-'));
    // dest is nested so that "../x" from it lands in a folder we can watch.
    outside = path.join(tmp, 'outside');
    dest = path.join(outside, 'dest');
    await fsp.mkdir(dest, { recursive: true });
    await fsp.writeFile(path.join(dest, 'existing.txt'), 'kept');
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function writeZip(name: string, entries: RawEntry[]): Promise<string> {
    const p = path.join(tmp, name);
    await fsp.writeFile(p, buildRawZip(entries));
    return p;
  }

  async function expectRefused(zipPath: string, messagePart: RegExp, opts = {}): Promise<void> {
    const before = await tree(outside);
    await assert.rejects(extractZip(zipPath, dest, opts), (e: unknown) => {
      assert.ok(isMuseError(e, 'refused'), `expected a refused MuseError, got ${String(e)}`);
      assert.match((e as Error).message, messagePart);
      return true;
    });
    assert.deepStrictEqual(await tree(outside), before, 'nothing written or left behind');
    assert.strictEqual(await fsp.readFile(path.join(dest, 'existing.txt'), 'utf8'), 'kept');
  }

  describe('zipDirectory + extractZip round trip', () => {
    it('keeps relative paths, contents, empty folders, executable bits and odd names', async () => {
      const src = path.join(tmp, 'src');
      await fsp.mkdir(path.join(src, 'sub dir', 'deeper'), { recursive: true });
      await fsp.mkdir(path.join(src, 'empty'));
      await fsp.writeFile(path.join(src, 'a.txt'), 'alpha');
      await fsp.writeFile(path.join(src, 'sub dir', 'deeper', 'é "q" $(x).txt'), 'odd');
      await fsp.writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
      const zipPath = path.join(tmp, 'out.zip');
      const progress: number[] = [];
      const { bytes } = await zipDirectory(src, zipPath, { onProgress: (p) => progress.push(p.done) });
      assert.strictEqual(bytes, (await fsp.stat(zipPath)).size);
      assert.ok(progress.length > 0);

      const names = await extractZip(zipPath, dest);
      assert.ok(names.includes('a.txt') && names.includes('empty/'));
      assert.deepStrictEqual(await tree(dest), [
        'a.txt',
        'empty/',
        'existing.txt',
        'run.sh',
        'sub dir/',
        'sub dir/deeper/',
        'sub dir/deeper/é "q" $(x).txt',
      ]);
      assert.strictEqual(await fsp.readFile(path.join(dest, 'sub dir', 'deeper', 'é "q" $(x).txt'), 'utf8'), 'odd');
      assert.strictEqual((await fsp.stat(path.join(dest, 'run.sh'))).mode & 0o777, 0o755);
      assert.strictEqual((await fsp.stat(path.join(dest, 'a.txt'))).mode & 0o111, 0);
      assert.ok(!(await fsp.readdir(dest)).some((n) => n.startsWith('.muse-extract')), 'no staging folder left');
    });

    it('leaves out symlinks and the zip being written when zipping a folder', async () => {
      const src = path.join(tmp, 'src');
      await fsp.mkdir(src);
      await fsp.writeFile(path.join(src, 'f.txt'), 'f');
      await fsp.writeFile(path.join(tmp, 'secret'), 'secret');
      await fsp.symlink(path.join(tmp, 'secret'), path.join(src, 'link'));
      const zipPath = path.join(src, 'self.zip');
      await zipDirectory(src, zipPath);
      const names = (await listZip(zipPath)).map((e) => e.name);
      assert.deepStrictEqual(names, ['f.txt']);
    });

    it('applies the exclude filter', async () => {
      const src = path.join(tmp, 'src');
      await fsp.mkdir(src);
      await fsp.writeFile(path.join(src, 'keep.txt'), 'k');
      await fsp.writeFile(path.join(src, '__MUSE__state.json'), '{}');
      const zipPath = path.join(tmp, 'o.zip');
      await zipDirectory(src, zipPath, { exclude: (rel) => rel.startsWith('__MUSE__') });
      assert.deepStrictEqual((await listZip(zipPath)).map((e) => e.name), ['keep.txt']);
    });

    it('leaves no partial zip when cancelled', async () => {
      const src = path.join(tmp, 'src');
      await fsp.mkdir(src);
      await fsp.writeFile(path.join(src, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 7));
      const zipPath = path.join(tmp, 'cancel.zip');
      const ac = new AbortController();
      const p = zipDirectory(src, zipPath, { signal: ac.signal, onProgress: () => ac.abort() });
      await assert.rejects(p, (e: unknown) => isMuseError(e, 'cancelled'));
      assert.deepStrictEqual((await fsp.readdir(tmp)).filter((n) => n.includes('cancel.zip')), []);
    });
  });

  describe('extractZip refuses hostile archives', () => {
    it('refuses zip slip (../) and names the entry', async () => {
      const z = await writeZip('slip.zip', [{ name: 'ok.txt', data: 'fine' }, { name: '../evil.txt', data: 'pwned' }]);
      await expectRefused(z, /"\.\.\/evil\.txt".*"\.\."/);
      assert.ok(!fs.existsSync(path.join(outside, 'evil.txt')));
      assert.ok(!fs.existsSync(path.join(dest, 'ok.txt')), 'entries before the bad one are not written either');
    });

    it('refuses a ".." hidden in the middle of a path', async () => {
      const z = await writeZip('slip2.zip', [{ name: 'a/b/../../../evil.txt', data: 'x' }]);
      await expectRefused(z, /a\/b\/\.\.\/\.\.\/\.\.\/evil\.txt/);
    });

    it('refuses absolute and drive paths', async () => {
      await expectRefused(await writeZip('abs.zip', [{ name: path.join(outside, 'abs.txt'), data: 'x' }]), /absolute path/);
      await expectRefused(await writeZip('drive.zip', [{ name: 'C:/Windows/evil.txt', data: 'x' }]), /drive path/);
    });

    it('refuses backslash tricks', async () => {
      await expectRefused(await writeZip('bs.zip', [{ name: '..\\evil.txt', data: 'x' }]), /backslash/);
    });

    it('refuses symlink entries (which could point outside)', async () => {
      const z = await writeZip('link.zip', [
        { name: 'link', data: '/etc/passwd', mode: 0o120777, method: 0 },
        { name: 'link/x', data: 'through the link' },
      ]);
      await expectRefused(z, /"link" is a symbolic link/);
    });

    it('does not write through a symlink already in the destination', async () => {
      const target = path.join(tmp, 'elsewhere');
      await fsp.mkdir(target);
      await fsp.symlink(target, path.join(dest, 'linked'));
      const z = await writeZip('through.zip', [{ name: 'linked/evil.txt', data: 'x' }]);
      await expectRefused(z, /symbolic link/);
      assert.deepStrictEqual(await fsp.readdir(target), []);
    });

    it('replaces a symlinked file in the destination instead of writing through it', async () => {
      const victim = path.join(tmp, 'victim.txt');
      await fsp.writeFile(victim, 'untouched');
      await fsp.symlink(victim, path.join(dest, 'f.txt'));
      await extractZip(await writeZip('f.zip', [{ name: 'f.txt', data: 'new' }]), dest);
      assert.strictEqual(await fsp.readFile(victim, 'utf8'), 'untouched');
      assert.ok(!(await fsp.lstat(path.join(dest, 'f.txt'))).isSymbolicLink());
      assert.strictEqual(await fsp.readFile(path.join(dest, 'f.txt'), 'utf8'), 'new');
    });

    it('refuses a zip bomb by its compression ratio, counting inflated bytes', async () => {
      const z = await writeZip('bomb.zip', [{ name: 'zeros.bin', data: Buffer.alloc(24 * 1024 * 1024) }]);
      assert.ok((await fsp.stat(z)).size < 100_000, 'the bomb is small');
      await expectRefused(z, /zeros\.bin.*compression ratio|inflates to over/);
    });

    it('refuses an archive larger than maxBytes', async () => {
      const z = await writeZip('big.zip', [
        { name: 'a.bin', data: Buffer.alloc(600_000, 1) },
        { name: 'b.bin', data: Buffer.alloc(600_000, 2) },
      ]);
      await expectRefused(z, /limit of 1000000/, { maxBytes: 1_000_000 });
    });

    it('never inflates more than an entry declares (lying header)', async () => {
      const z = await writeZip('liar.zip', [{ name: 'liar.bin', data: Buffer.alloc(2_000_000, 3), declaredSize: 10 }]);
      await assert.rejects(extractZip(z, dest, { maxBytes: 1_000_000 }), (e: unknown) => isMuseError(e));
      assert.deepStrictEqual(await tree(dest), ['existing.txt']);
    });

    it('refuses more entries than maxEntries', async () => {
      const entries = Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: String(i) }));
      await expectRefused(await writeZip('many.zip', entries), /30 entries.*limit of 20/, { maxEntries: 20 });
    });

    it('refuses a file that would overwrite a directory', async () => {
      const z = await writeZip('dup.zip', [{ name: 'd/', data: '' }, { name: 'd/x.txt', data: 'x' }, { name: 'd', data: 'file' }]);
      await expectRefused(z, /overwrite the directory "d"/);
      await fsp.mkdir(path.join(dest, 'sub'));
      await expectRefused(await writeZip('dup2.zip', [{ name: 'sub', data: 'file' }]), /overwrite the directory "sub"/);
    });

    it('refuses duplicate entries', async () => {
      const z = await writeZip('dup3.zip', [{ name: 'x.txt', data: 'one' }, { name: 'x.txt', data: 'two' }]);
      await expectRefused(z, /"x\.txt" appears twice/);
    });

    it('stops when cancelled and leaves nothing behind', async () => {
      const z = await writeZip('c.zip', [{ name: 'a.txt', data: 'a' }]);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(extractZip(z, dest, { signal: ac.signal }), (e: unknown) => isMuseError(e, 'cancelled'));
      assert.deepStrictEqual(await tree(dest), ['existing.txt']);
    });

    it('says clearly when the file is not a zip', async () => {
      const p = path.join(tmp, 'not.zip');
      await fsp.writeFile(p, 'hello, not a zip');
      await assert.rejects(extractZip(p, dest), (e: unknown) => isMuseError(e, 'malformed') && /not\.zip/.test((e as Error).message));
    });
  });

  describe('listZip / openZipEntry (read-only browsing)', () => {
    it('lists entries with implied folders and serves one entry', async () => {
      const z = await writeZip('browse.zip', [
        { name: 'dir/inner.txt', data: 'inner text' },
        { name: 'top.txt', data: 'top', method: 0 },
        { name: '../evil.txt', data: 'hidden' },
      ]);
      const list = await listZip(z);
      assert.deepStrictEqual(
        list.map((e) => [e.name, e.isDirectory, e.size]),
        [
          ['dir', true, 0],
          ['dir/inner.txt', false, 10],
          ['top.txt', false, 3],
        ],
      );
      assert.strictEqual(await readStream(await openZipEntry(z, 'dir/inner.txt')), 'inner text');
      assert.strictEqual(await readStream(await openZipEntry(z, 'top.txt')), 'top');
      await assert.rejects(openZipEntry(z, '../evil.txt'), (e: unknown) => isMuseError(e, 'notFound'));
      await assert.rejects(openZipEntry(z, 'nope'), (e: unknown) => isMuseError(e, 'notFound'));
      assert.deepStrictEqual(await tree(dest), ['existing.txt'], 'browsing extracts nothing');
    });
  });
});
