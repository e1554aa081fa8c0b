/**
 * Reading zips: a safe, streaming extraction (input zips, downloaded results) and a read-only
 * view of a zip without extracting it. Making a zip of a folder is in `zipFolder.ts`.
 *
 * Extraction never trusts the archive: names are checked before anything is written, entries
 * are inflated into a hidden staging folder inside the destination, and only when the whole
 * archive went through are they moved into place. A refusal therefore leaves the destination
 * as it was.
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import * as crypto from 'crypto';
import { Transform, type TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import * as yauzl from 'yauzl';
import type { OpOptions } from '../backend';
import { MuseError, cancelledError, errorMessage, isMuseError } from '../errors';

/** One entry of a zip, as a browser of the zip shows it. */
export interface ZipEntryInfo {
  /** Relative path with `/`, without a trailing slash (also for directories). */
  name: string;
  /** Uncompressed size in bytes (as the archive declares it; reads never go past it). */
  size: number;
  compressedSize: number;
  isDirectory: boolean;
  mtime: Date;
  /** Unix permission bits when the archive was made on Unix. */
  mode?: number;
}

/** Limits of `extractZip`; the defaults fit run folders and keep zip bombs out. */
export interface ExtractOptions extends OpOptions {
  /** Most uncompressed bytes in total, counted as they are inflated (default 4 GiB). */
  maxBytes?: number;
  /** Most entries (default 50,000). */
  maxEntries?: number;
  /**
   * Largest compression ratio accepted (default 500), for an entry once it has inflated more than
   * `ratioMinBytes` and for the whole archive against its file size. Deflate tops out near 1030:1
   * on runs of zeros; real data stays far below.
   */
  maxRatio?: number;
  /** Bytes an entry (or the archive) must inflate before the ratio is judged (default 1 MiB). */
  ratioMinBytes?: number;
}

export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 50_000;
export const DEFAULT_MAX_RATIO = 500;
const DEFAULT_RATIO_MIN_BYTES = 1024 ** 2;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** The checked, normalized relative path of an entry name, or the reason it is refused. */
export function checkEntryName(raw: string): { ok: true; name: string } | { ok: false; reason: string } {
  if (raw.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (raw.includes('\\')) return { ok: false, reason: 'contains a backslash (a Windows path trick)' };
  if (raw.startsWith('/')) return { ok: false, reason: 'is an absolute path' };
  if (/^[A-Za-z]:/.test(raw)) return { ok: false, reason: 'is a drive path' };
  const segments = raw.split('/');
  if (segments.includes('..')) return { ok: false, reason: 'contains a ".." segment' };
  const kept = segments.filter((s) => s !== '' && s !== '.');
  return { ok: true, name: kept.join('/') };
}

function unixMode(entry: yauzl.Entry): number | undefined {
  // Only archives made on Unix (upper byte of "version made by" = 3) carry st_mode bits.
  if (entry.versionMadeBy >> 8 !== 3) return undefined;
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  return mode === 0 ? undefined : mode;
}

function entryRawName(entry: yauzl.Entry): string {
  // decodeStrings is off so that yauzl neither rewrites backslashes nor stops at the first bad
  // name with an anonymous error: we decode and judge names ourselves.
  const rawName = entry.fileName as unknown as Buffer;
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, rawName, entry.extraFields, true);
}

function isDirectoryEntry(rawName: string, mode: number | undefined): boolean {
  return rawName.endsWith('/') || (mode !== undefined && (mode & S_IFMT) === S_IFDIR);
}

function isSymlinkEntry(mode: number | undefined): boolean {
  return mode !== undefined && (mode & S_IFMT) === S_IFLNK;
}

async function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  try {
    return await yauzl.openPromise(zipPath, { lazyEntries: true, decodeStrings: false, autoClose: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MuseError('notFound', `Zip file not found: ${zipPath}`, { cause: e });
    }
    throw new MuseError('malformed', `${path.basename(zipPath)} is not a readable zip file: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}

/** Reads the central directory entry by entry; `visit` returning false stops early. */
async function eachEntry(zip: yauzl.ZipFile, zipPath: string, visit: (e: yauzl.Entry) => boolean | void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      cleanup();
      reject(new MuseError('malformed', `${path.basename(zipPath)} is damaged: ${err.message}`, { cause: err }));
    };
    const onEntry = (entry: yauzl.Entry) => {
      let goOn: boolean | void;
      try {
        goOn = visit(entry);
      } catch (e) {
        cleanup();
        reject(e);
        return;
      }
      if (goOn === false) {
        cleanup();
        resolve();
      } else {
        zip.readEntry();
      }
    };
    const onEnd = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function refused(zipPath: string, message: string): MuseError {
  return new MuseError('refused', `Refused to extract ${path.basename(zipPath)}: ${message}`);
}

interface PlannedEntry {
  entry: yauzl.Entry;
  name: string;
  isDirectory: boolean;
  mode?: number;
}

/**
 * Extracts `zipPath` into `destDir` (created if missing), overwriting files of the same name.
 * Refuses (MuseError `refused`, naming the entry) names with `..`, absolute or drive paths,
 * backslashes or NUL, symlink entries, encrypted entries, duplicates, a file replacing a
 * directory (or the reverse), more than `maxEntries` entries, more than `maxBytes` inflated
 * bytes (counted as inflated), and compression ratios above `maxRatio`. Nothing is written
 * outside `destDir`; on refusal, error or cancellation the destination is left as it was.
 * Resolves with the extracted relative paths (directories end with `/`), in archive order.
 */
export async function extractZip(zipPath: string, destDir: string, opts: ExtractOptions = {}): Promise<string[]> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
  const ratioMinBytes = opts.ratioMinBytes ?? DEFAULT_RATIO_MIN_BYTES;
  const signal = opts.signal;
  if (signal?.aborted) throw cancelledError('Extraction');

  const zipSize = (await fsp.stat(zipPath).catch((e) => {
    throw new MuseError('notFound', `Zip file not found: ${zipPath}`, { cause: e });
  })).size;
  const zip = await openZip(zipPath);
  try {
    if (zip.entryCount > maxEntries) {
      throw refused(zipPath, `it has ${zip.entryCount} entries, more than the limit of ${maxEntries}.`);
    }
    // Pass 1: judge every name and type before writing a byte.
    const planned: PlannedEntry[] = [];
    const kinds = new Map<string, 'file' | 'dir'>();
    let declared = 0;
    await eachEntry(zip, zipPath, (entry) => {
      const raw = entryRawName(entry);
      const checked = checkEntryName(raw);
      if (!checked.ok) throw refused(zipPath, `entry "${raw}" ${checked.reason}.`);
      const mode = unixMode(entry);
      if (isSymlinkEntry(mode)) throw refused(zipPath, `entry "${raw}" is a symbolic link.`);
      if (entry.isEncrypted()) throw refused(zipPath, `entry "${raw}" is encrypted.`);
      const isDirectory = isDirectoryEntry(raw, mode);
      const name = checked.name;
      if (name === '') {
        if (isDirectory) return; // "./": the destination itself
        throw refused(zipPath, `entry "${raw}" has no file name.`);
      }
      // Every parent must be (or become) a directory, never a file of this archive.
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (kinds.get(parent) === 'file') {
          throw refused(zipPath, `entry "${raw}" would put a file under "${parent}", which the archive makes a file.`);
        }
        kinds.set(parent, 'dir');
      }
      const before = kinds.get(name);
      if (before === 'dir' && !isDirectory) {
        throw refused(zipPath, `entry "${raw}" would overwrite the directory "${name}" with a file.`);
      }
      if (before === 'file') {
        throw refused(zipPath, `entry "${raw}" appears twice in the archive.`);
      }
      if (before === 'dir' && isDirectory) return; // implied earlier by a child, or repeated
      kinds.set(name, isDirectory ? 'dir' : 'file');
      declared += isDirectory ? 0 : entry.uncompressedSize;
      planned.push({ entry, name, isDirectory, mode });
    });
    if (declared > maxBytes) {
      throw refused(zipPath, `it would inflate to ${declared} bytes, more than the limit of ${maxBytes}.`);
    }

    // Pass 2: the destination must not hold something the archive cannot replace safely.
    await fsp.mkdir(destDir, { recursive: true });
    const realDest = await fsp.realpath(destDir);
    for (const [name, kind] of kinds) {
      const target = path.join(realDest, name);
      const st = await fsp.lstat(target).catch(() => undefined);
      if (!st) continue;
      if (st.isSymbolicLink() && kind === 'dir') {
        throw refused(zipPath, `"${name}" in the destination is a symbolic link; files will not be written through it.`);
      }
      if (kind === 'file' && st.isDirectory()) {
        throw refused(zipPath, `entry "${name}" would overwrite the directory "${name}" with a file.`);
      }
      if (kind === 'dir' && !st.isDirectory()) {
        throw refused(zipPath, `entry "${name}" needs a directory where the destination has a file.`);
      }
    }

    // Pass 3: inflate into a staging folder beside the targets (same file system for renames).
    const staging = path.join(realDest, `.muse-extract-${crypto.randomBytes(6).toString('hex')}`);
    await fsp.mkdir(staging);
    try {
      let total = 0;
      let index = 0;
      for (const p of planned) {
        if (signal?.aborted) throw cancelledError('Extraction');
        const staged = path.join(staging, String(index++));
        if (p.isDirectory) continue;
        const stream = await zip.openReadStreamPromise(p.entry).catch((e: unknown) => {
          throw new MuseError('malformed', `Cannot read entry "${p.name}" of ${path.basename(zipPath)}: ${errorMessage(e)}`, {
            cause: e,
          });
        });
        let entryBytes = 0;
        const compressed = Math.max(p.entry.compressedSize, 1);
        const guard = new Transform({
          transform(chunk: Buffer, _enc, cb: TransformCallback) {
            entryBytes += chunk.length;
            total += chunk.length;
            if (total > maxBytes) {
              cb(refused(zipPath, `it inflates to more than the limit of ${maxBytes} bytes (at entry "${p.name}").`));
              return;
            }
            if (entryBytes > ratioMinBytes && entryBytes / compressed > maxRatio) {
              cb(refused(zipPath, `entry "${p.name}" has a suspicious compression ratio (over ${maxRatio}:1), like a zip bomb.`));
              return;
            }
            if (total > ratioMinBytes && total / Math.max(zipSize, 1) > maxRatio) {
              cb(refused(zipPath, `the archive inflates to over ${maxRatio} times its size (at entry "${p.name}"), like a zip bomb.`));
              return;
            }
            opts.onProgress?.({ phase: 'extract', done: total, total: declared, file: p.name });
            cb(null, chunk);
          },
        });
        const out = fs.createWriteStream(staged, { flags: 'wx', mode: 0o600 });
        try {
          await pipeline(stream, guard, out, signal ? { signal } : {});
        } catch (e) {
          if (isMuseError(e)) throw e;
          if (signal?.aborted) throw cancelledError('Extraction');
          throw new MuseError('malformed', `Cannot extract entry "${p.name}" of ${path.basename(zipPath)}: ${errorMessage(e)}`, {
            cause: e,
          });
        }
      }

      // Pass 4: move into place, directories first by construction of the archive order.
      if (signal?.aborted) throw cancelledError('Extraction');
      const done: string[] = [];
      index = 0;
      for (const p of planned) {
        const staged = path.join(staging, String(index++));
        const target = path.join(realDest, p.name);
        const perm = p.mode !== undefined ? p.mode & 0o777 : undefined;
        if (p.isDirectory) {
          await fsp.mkdir(target, { recursive: true });
          done.push(`${p.name}/`);
          continue;
        }
        await fsp.mkdir(path.dirname(target), { recursive: true });
        // Keep the permission bits (an executable script stays executable), never setuid/setgid.
        await fsp.chmod(staged, perm ?? 0o644);
        const st = await fsp.lstat(target).catch(() => undefined);
        if (st?.isSymbolicLink()) await fsp.unlink(target); // replace the link, never write through it
        // A move, not an atomic write (replaceAtomically): every entry was written in pass 3, before
        // any is placed, so that a refused archive changes nothing in the destination.
        await fsp.rename(staged, target);
        const mtime = p.entry.getLastModDate();
        await fsp.utimes(target, mtime, mtime).catch(() => undefined);
        done.push(p.name);
      }
      return done;
    } finally {
      await fsp.rm(staging, { recursive: true, force: true });
    }
  } finally {
    zip.close();
  }
}

/**
 * Lists the entries of a zip without extracting it, for a read-only browser. Directories that
 * the archive only implies (`a/b.txt` without `a/`) are listed too. Entries whose names could
 * escape (`..`, absolute, backslash) and symbolic links are left out: a browser must not show
 * a path it cannot open safely.
 */
export async function listZip(zipPath: string): Promise<ZipEntryInfo[]> {
  const zip = await openZip(zipPath);
  try {
    const out = new Map<string, ZipEntryInfo>();
    await eachEntry(zip, zipPath, (entry) => {
      const raw = entryRawName(entry);
      const checked = checkEntryName(raw);
      const mode = unixMode(entry);
      if (!checked.ok || checked.name === '' || isSymlinkEntry(mode)) return;
      const isDirectory = isDirectoryEntry(raw, mode);
      const mtime = entry.getLastModDate();
      const parts = checked.name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (!out.has(parent)) out.set(parent, { name: parent, size: 0, compressedSize: 0, isDirectory: true, mtime });
      }
      const info: ZipEntryInfo = {
        name: checked.name,
        size: isDirectory ? 0 : entry.uncompressedSize,
        compressedSize: isDirectory ? 0 : entry.compressedSize,
        isDirectory,
        mtime,
      };
      if (mode !== undefined) info.mode = mode & 0o7777;
      out.set(checked.name, info);
    });
    return [...out.values()];
  } finally {
    zip.close();
  }
}

/**
 * A stream of one file of a zip (`name` as `listZip` gives it). The stream never yields more
 * bytes than the entry declares (yauzl checks it). Rejects with `notFound` for a missing entry.
 */
export async function openZipEntry(zipPath: string, name: string): Promise<NodeJS.ReadableStream> {
  const zip = await openZip(zipPath);
  try {
    let found: yauzl.Entry | undefined;
    await eachEntry(zip, zipPath, (entry) => {
      const raw = entryRawName(entry);
      const checked = checkEntryName(raw);
      if (!checked.ok || isSymlinkEntry(unixMode(entry)) || isDirectoryEntry(raw, unixMode(entry))) return;
      if (checked.name === name) {
        found = entry;
        return false;
      }
    });
    if (!found) throw new MuseError('notFound', `No file "${name}" in ${path.basename(zipPath)}.`);
    if (found.isEncrypted()) throw new MuseError('refused', `"${name}" in ${path.basename(zipPath)} is encrypted.`);
    try {
      // The stream holds its own reference to the file: closing the zip below is safe.
      return await zip.openReadStreamPromise(found);
    } catch (e) {
      throw new MuseError('malformed', `Cannot read "${name}" of ${path.basename(zipPath)}: ${errorMessage(e)}`, { cause: e });
    }
  } finally {
    zip.close();
  }
}
