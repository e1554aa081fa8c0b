/**
 * SHA-256 of each input file of a request, as sent: what Compare says differs between two runs'
 * files. Streamed (a 2 GB input never sits in memory), a few files at once, never sync I/O.
 */
import { createHash } from 'crypto';
import { createReadStream } from 'fs';
import { mapLimit } from './concurrency';
import type { InputFile } from './model';

/** How many files are read at once: enough to overlap a slow disk, few enough to spare it. */
const HASH_CONCURRENCY = 4;

/** The SHA-256 (hex) of one file, read as a stream. */
export function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const stream = createReadStream(file, signal ? { signal } : {});
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * The hashes of a request's input files, by their name in the run folder (`Run.fileHashes`).
 * A file that cannot be read is left out (the submit itself says why it cannot send it); no
 * files gives undefined, so a run without inputs records nothing. Sweeps call it once for all
 * their tasks: the files are the same.
 */
export async function hashInputFiles(files: readonly InputFile[] | undefined, signal?: AbortSignal): Promise<Record<string, string> | undefined> {
  if (!files || files.length === 0) return undefined;
  const hashes = await mapLimit(files, HASH_CONCURRENCY, (f) => sha256OfFile(f.path, signal).catch(() => undefined));
  const out: Record<string, string> = {};
  files.forEach((f, i) => {
    const h = hashes[i];
    if (h !== undefined) out[f.name] = h;
  });
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `{ fileHashes }` for a run record about to be stored, or `{}` when there is nothing to record
 * (so records without inputs stay as they were): `Object.assign(run, await fileHashesField(...))`.
 */
export async function fileHashesField(files: readonly InputFile[] | undefined, signal?: AbortSignal): Promise<{ fileHashes?: Record<string, string> }> {
  const fileHashes = await hashInputFiles(files, signal);
  return fileHashes ? { fileHashes } : {};
}
