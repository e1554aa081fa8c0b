/**
 * Atomic file writes, the one rule: a file is made under a temporary name in its own folder and
 * renamed over its destination only once complete, so a reader (another window, the CLI, the
 * user) sees the old file or the new one, never half a file; on failure the temporary file is
 * removed and the destination is left as it was.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { MuseError, errorMessage, isMuseError } from './errors';
import { processAlive } from './processAlive';

/** A fresh temporary name beside `file` (`<file>.<tag>-<pid>-<random>`), for one write. */
export function tempPathFor(file: string, tag = 'tmp'): string {
  return `${file}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface AtomicWriteOptions {
  /** Mode of the new file (default 0o644; secrets use 0o600). */
  mode?: number;
  /** fsync the file and its folder before and after the rename (durable across a crash). */
  durable?: boolean;
  /** Called with the complete temporary file just before the rename (tests simulate crashes). */
  beforeRename?: (tmp: string) => Promise<void> | void;
}

/**
 * Removes the temporary files beside `file` left by writers that died between write and rename
 * (their process is gone): never read, safe to drop. A live writer's file is left alone.
 */
export async function removeDeadTempFiles(file: string, tag = 'tmp'): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.${tag}-`;
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) {
      await fs.promises.unlink(path.join(dir, n)).catch(() => undefined);
    }
  }
}

/** Writes `data` to `file` atomically (its folder is made when missing). Throws an `io` MuseError. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(file);
  let fh: fs.promises.FileHandle | undefined;
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    fh = await fs.promises.open(tmp, 'wx', opts.mode ?? 0o644);
    await fh.writeFile(data);
    if (opts.durable) await fh.sync();
    await fh.close();
    fh = undefined;
    await opts.beforeRename?.(tmp);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw new MuseError('io', `Cannot write ${file}: ${errorMessage(e)}`, { cause: e });
  }
  if (opts.durable) await syncFolder(path.dirname(file));
}

/**
 * The synchronous form, for the CLI's small configuration and token files only (never on a path
 * the extension runs): durable, created with `mode`.
 */
export function writeFileAtomicSync(file: string, data: string, mode: number): void {
  const tmp = tempPathFor(file);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing left to clean
    }
    throw new MuseError('io', `Cannot write ${file}: ${errorMessage(e)}`, { cause: e });
  }
}

/** Options of `replaceAtomically`. */
export interface ReplaceOptions {
  /**
   * `produce` may leave nothing at `tmp` (it had nothing to write, or moved the file elsewhere
   * itself): `dest` is then left as it is. Without it, a missing `tmp` is an error.
   */
  optional?: boolean;
}

/**
 * Makes `dest` through a temporary path: `produce(tmp)` writes the file (or folder) at `tmp` and
 * must not settle before it is closed; then `tmp` is renamed to `dest`. If `produce` or the
 * rename fails, `tmp` is removed and the error is thrown again (a MuseError as it is; any other
 * as an `io` MuseError naming `dest`). `tmp` defaults to a fresh name beside `dest`.
 */
export async function replaceAtomically<T>(
  dest: string,
  produce: (tmp: string) => Promise<T>,
  tmp = tempPathFor(dest, 'part'),
  opts: ReplaceOptions = {},
): Promise<T> {
  let result: T;
  try {
    await fs.promises.mkdir(path.dirname(path.resolve(dest)), { recursive: true });
    result = await produce(tmp);
    const made = !opts.optional || (await fs.promises.lstat(tmp).then(() => true, () => false));
    if (made) await fs.promises.rename(tmp, dest);
  } catch (e) {
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (isMuseError(e)) throw e;
    throw new MuseError('io', `Cannot write ${dest}: ${errorMessage(e)}`, { cause: e });
  }
  return result;
}

/** fsyncs a folder so that a rename in it survives a crash; best effort (not every platform can). */
export async function syncFolder(dir: string): Promise<void> {
  try {
    const dh = await fs.promises.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Windows and some file systems cannot sync a folder: the rename is still atomic.
  }
}
