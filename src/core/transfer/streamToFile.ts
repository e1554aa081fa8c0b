/**
 * Streams a body (an HTTP answer, a zip entry, an SSH channel) to a file without holding it in
 * memory: the bytes go to `<dest>.part`, which becomes `<dest>` only once the body is complete
 * (`replaceAtomically`, the one atomic-write rule). A cancel, a dropped connection or a body
 * shorter than announced removes the `.part` and leaves `<dest>` as it was.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { replaceAtomically } from '../atomicFile';
import type { Progress } from '../backend';
import { MuseError, cancelledError } from '../errors';

export interface StreamToFileOptions {
  /** Bytes announced by the sender (Content-Length); a shorter or longer body is an error. */
  expectedBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Progress phase name (default `download`). */
  phase?: string;
  /** What is transferred, for messages and progress. */
  what?: string;
  /** Bytes already read from `source` by the caller (a sniffed head), written first. */
  head?: Buffer;
}

// Large write buffers: fewer, bigger write(2) calls keep a loopback download near disk speed.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/** The `.part` file used while `dest` is being written. */
export function partPath(dest: string): string {
  return `${dest}.part`;
}

/**
 * Writes `source` to `dest` (through `dest.part`). Resolves with the bytes written.
 * Rejects with `cancelled` (signal), `network` (the source failed or was short) or `io`.
 */
export async function streamToFile(source: Readable, dest: string, opts: StreamToFileOptions = {}): Promise<number> {
  const what = opts.what ?? path.basename(dest);
  const phase = opts.phase ?? 'download';
  const total = opts.expectedBytes;
  let done = 0;
  const report = (): void => opts.onProgress?.({ phase, done, total, file: what });
  // Until pipeline listens, an error of the source (a dropped connection during the mkdir)
  // would be an uncaught exception; pipeline still sees it through `source.errored`.
  const ignore = (): void => undefined;
  source.on('error', ignore);
  try {
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    source.destroy();
    throw new MuseError('io', `Cannot create the folder of ${dest}: ${(e as Error).message}`, { cause: e });
  }
  // The rename's own failure comes back from replaceAtomically as an `io` error naming `dest`;
  // everything before it is classified here, where the cause is known.
  await replaceAtomically(
    dest,
    async (part) => {
      const out = fs.createWriteStream(part, { highWaterMark: WRITE_HIGH_WATER_MARK });
      if (opts.head && opts.head.length > 0) {
        out.write(opts.head);
        done += opts.head.length;
      }
      source.on('data', (chunk: Buffer) => {
        done += chunk.length;
        report();
      });
      try {
        await pipeline(source, out, opts.signal ? { signal: opts.signal } : {});
        if (total !== undefined && done !== total) {
          throw new MuseError('network', `The download of ${what} ended after ${done} of ${total} bytes (the connection dropped). Try again.`);
        }
      } catch (e) {
        // Closed before replaceAtomically removes the .part: one still being opened would reappear.
        if (!out.closed) {
          const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
          out.destroy();
          await closed;
        }
        throw classify(e, dest, what, done, total, opts.signal);
      }
    },
    partPath(dest),
  );
  report();
  return done;
}

/** A failure while writing: cancelled, a local disk problem (`io`), or the source's (`network`). */
function classify(e: unknown, dest: string, what: string, done: number, total: number | undefined, signal?: AbortSignal): MuseError {
  if (signal?.aborted) return cancelledError(`The download of ${what}`);
  if (e instanceof MuseError) return e;
  const err = e as NodeJS.ErrnoException;
  // Write-side failures are local disk problems; everything else came from the connection.
  if (err.syscall && ['open', 'write', 'rename', 'close'].includes(err.syscall)) {
    return new MuseError('io', `Cannot write ${dest}: ${err.message}`, { cause: e });
  }
  return new MuseError('network', `The download of ${what} failed after ${done} bytes${total !== undefined ? ` of ${total}` : ''}: ${err.message}. Try again.`, { cause: e });
}
