/**
 * Staging of input files into a run folder, with the ws server's semantics: for each name in
 * `files_order` (default: the upload order), copy the file in (overwriting), then, if it is a
 * zip, unzip it there. A later file thus overwrites an earlier one, and a plain file listed
 * after a zip overwrites what the zip put there.
 */
import * as fsp from 'fs/promises';
import * as path from 'path';
import type { OpOptions } from '../backend';
import type { InputFile } from '../model';
import { MuseError, cancelledError, errorMessage } from '../errors';
import { checkEntryName, extractZip, type ExtractOptions } from './zip';

/** Options of `stageInputs`: cancellation, progress, and the limits of unzipping. */
export type StageOptions = OpOptions & Pick<ExtractOptions, 'maxBytes' | 'maxEntries' | 'maxRatio'>;

/**
 * Checks the name an input file gets in the run folder and returns it normalized (`a/./b` ->
 * `a/b`). Names with spaces, quotes, `$()`, backticks or non-ASCII are fine (they are never
 * pasted into a shell); empty names, NUL, backslashes, absolute paths and `..` are refused with
 * a `usage` MuseError: the name is the user's own input (exit 2 in the CLI, as on the ssh
 * backend), not a safety refusal of something met on the way (a hostile zip stays `refused`).
 */
export function checkInputName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new MuseError('usage', 'An input file has an empty name.');
  }
  const checked = checkEntryName(name);
  if (!checked.ok) throw new MuseError('usage', `Input file name "${name}" ${checked.reason}.`);
  if (checked.name === '') throw new MuseError('usage', `Input file name "${name}" names no file.`);
  return checked.name;
}

/** True when the file starts like a zip (a local header, or the end record of an empty zip). */
async function looksLikeZip(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead < 4) return false;
    const sig = buf.readUInt32LE(0);
    return sig === 0x04034b50 || sig === 0x06054b50;
  } finally {
    await fh.close();
  }
}

/**
 * Makes the parent folders of `rel` inside `root`. A symlink on the way is `refused` (nothing is
 * written through a link); a file where a folder must be is the user's names clashing (`usage`).
 */
async function ensureParents(root: string, rel: string): Promise<void> {
  const parts = rel.split('/').slice(0, -1);
  let cur = root;
  for (const part of parts) {
    cur = path.join(cur, part);
    const st = await fsp.lstat(cur).catch(() => undefined);
    if (!st) {
      await fsp.mkdir(cur);
    } else if (st.isSymbolicLink()) {
      throw new MuseError('refused', `"${path.relative(root, cur)}" in the run folder is a symbolic link; input files are not written through it.`);
    } else if (!st.isDirectory()) {
      throw new MuseError('usage', `Cannot put "${rel}" in the run folder: "${path.relative(root, cur)}" is a file there.`);
    }
  }
}

/**
 * Copies `files` into `runDir` in the order `filesOrder` gives (default: the order of `files`),
 * overwriting, and unzips each zip (by name `.zip`) right after copying it, safely (see
 * `extractZip`). Files that `filesOrder` does not name are staged after the named ones, in their
 * upload order, so nothing sent is lost. `filesOrder` naming a file that was not sent, two files
 * with the same name, or a hostile name reject with a `usage` MuseError before anything is
 * copied; a file and a folder of the same name (one of them from a zip) are `usage` too. A
 * hostile zip entry is `refused` (see `extractZip`).
 */
export async function stageInputs(
  files: InputFile[],
  filesOrder: string[] | undefined,
  runDir: string,
  opts: StageOptions = {},
): Promise<void> {
  const byName = new Map<string, InputFile>();
  for (const f of files) {
    const name = checkInputName(f.name);
    if (byName.has(name)) throw new MuseError('usage', `Two input files are both named "${name}".`);
    byName.set(name, f);
  }
  const order: string[] = [];
  for (const raw of filesOrder ?? files.map((f) => f.name)) {
    const name = checkInputName(raw);
    if (!byName.has(name)) {
      throw new MuseError('usage', `files_order names "${raw}", which is not among the input files (${[...byName.keys()].join(', ') || 'none'}).`);
    }
    if (!order.includes(name)) order.push(name);
  }
  for (const name of byName.keys()) if (!order.includes(name)) order.push(name);

  await fsp.mkdir(runDir, { recursive: true });
  const root = await fsp.realpath(runDir);
  let done = 0;
  for (const name of order) {
    if (opts.signal?.aborted) throw cancelledError('Staging of input files');
    const src = byName.get(name)!;
    const dest = path.join(root, name);
    opts.onProgress?.({ phase: 'stage', done, total: order.length, file: name });
    await ensureParents(root, name);
    const st = await fsp.lstat(dest).catch(() => undefined);
    if (st?.isDirectory()) {
      throw new MuseError('usage', `Input file "${name}" would overwrite the folder "${name}" in the run folder.`);
    }
    if (st?.isSymbolicLink()) await fsp.unlink(dest); // replace a link, never write through it
    try {
      await fsp.copyFile(src.path, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') {
        throw new MuseError('notFound', `Input file not found (or not a file): ${src.path}`, { cause: e });
      }
      throw new MuseError('io', `Cannot copy ${src.path} into the run folder: ${errorMessage(e)}`, { cause: e });
    }
    if (name.toLowerCase().endsWith('.zip')) {
      if (!(await looksLikeZip(dest))) {
        throw new MuseError('usage', `Input file "${name}" is named .zip but is not a zip file.`);
      }
      // The zip's folder is where it was copied: a zip at "sub/in.zip" unpacks into "sub/".
      await extractZip(dest, path.dirname(dest), {
        signal: opts.signal,
        maxBytes: opts.maxBytes,
        maxEntries: opts.maxEntries,
        maxRatio: opts.maxRatio,
        onProgress: opts.onProgress ? (p) => opts.onProgress!({ ...p, file: name }) : undefined,
      });
    }
    done++;
  }
  opts.onProgress?.({ phase: 'stage', done, total: order.length });
}
