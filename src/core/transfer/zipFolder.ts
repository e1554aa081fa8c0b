/**
 * A streaming zip of a folder (the local runner's run.zip and content zips), written through a
 * temporary name (`replaceAtomically`) so that a cancelled or failed zip leaves nothing.
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { Transform, type TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import * as yazl from 'yazl';
import { replaceAtomically, tempPathFor } from '../atomicFile';
import type { OpOptions } from '../backend';
import { MuseError, cancelledError, errorMessage, isMuseError } from '../errors';

/** Options of `zipDirectory`. */
export interface ZipDirectoryOptions extends OpOptions {
  /** Leaves out the relative paths (with `/`) for which it returns true. */
  exclude?: (relPath: string, isDirectory: boolean) => boolean;
}

/**
 * Zips the content of `dir` (paths relative to it, permission bits and times kept) into
 * `destZip`, streaming. Symbolic links are left out (they could point anywhere). Files that grow
 * while being read (the output of a running job) are taken as they are at that moment. The zip
 * is written under a temporary name and renamed at the end, so a cancelled or failed run leaves
 * no partial `destZip`.
 */
export async function zipDirectory(dir: string, destZip: string, opts: ZipDirectoryOptions = {}): Promise<{ bytes: number }> {
  const signal = opts.signal;
  if (signal?.aborted) throw cancelledError('Zipping');
  const realDir = await fsp.realpath(dir).catch((e) => {
    throw new MuseError('notFound', `Folder not found: ${dir}`, { cause: e });
  });
  const absDest = path.resolve(destZip);
  const tmp = tempPathFor(absDest, 'part');
  const zipfile = new yazl.ZipFile();
  let count = 0;

  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await fsp.readdir(abs)).sort();
    for (const n of names) {
      if (signal?.aborted) throw cancelledError('Zipping');
      const childAbs = path.join(abs, n);
      const childRel = rel ? `${rel}/${n}` : n;
      if (childAbs === absDest || childAbs === tmp) continue;
      const st = await fsp.lstat(childAbs);
      if (st.isDirectory()) {
        if (opts.exclude?.(childRel, true)) continue;
        const before = count;
        await walk(childAbs, childRel);
        if (count === before) zipfile.addEmptyDirectory(childRel, { mtime: st.mtime, mode: st.mode });
      } else if (st.isFile()) {
        if (opts.exclude?.(childRel, false)) continue;
        count++;
        zipfile.addReadStreamLazy(childRel, { mtime: st.mtime, mode: st.mode }, (cb) => cb(null, fs.createReadStream(childAbs)));
      }
    }
  };

  let bytes = 0;
  // The one atomic-write rule: the zip is made at `tmp` (which the walk skips) and renamed at
  // the end; a failure of the rename itself comes back as an `io` error naming the zip.
  await replaceAtomically(
    absDest,
    async (part) => {
      const out = fs.createWriteStream(part);
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          bytes += chunk.length;
          opts.onProgress?.({ phase: 'zip', done: bytes });
          cb(null, chunk);
        },
      });
      const piped = pipeline(zipfile.outputStream, counter, out, signal ? { signal } : {});
      const zipErrors = new Promise<never>((_, reject) => zipfile.on('error', reject));
      try {
        await Promise.race([
          (async () => {
            await walk(realDir, '');
            zipfile.end();
            await piped;
          })(),
          zipErrors,
        ]);
      } catch (e) {
        (zipfile.outputStream as unknown as { destroy?: () => void }).destroy?.();
        out.destroy();
        piped.catch(() => undefined);
        if (signal?.aborted) throw cancelledError('Zipping');
        if (isMuseError(e)) throw e;
        throw new MuseError('io', `Cannot zip ${dir}: ${errorMessage(e)}`, { cause: e });
      }
    },
    tmp,
  );
  return { bytes };
}
