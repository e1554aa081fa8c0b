/**
 * The end of a run's output, read in one place: the last bytes of a file (fs/promises), of a
 * text or of a `follow` answer's parts, cut where a UTF-8 character starts, and the tail of a
 * run's stream through its backend (its `tail`, else, where the caller accepts the cost, its
 * whole `output` fetched to a temporary file and its end kept).
 */
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { Backend, FollowPart, OpOptions, OutputStream } from './backend';
import { can } from './backend';
import { fromCharacterStart } from './follow/outputText';
import type { Run } from './model';
import { runRef } from './runs';

/** The end of an output as text; `truncated` when bytes before it were left out. */
export interface TailText {
  text: string;
  truncated: boolean;
}

function byteLimit(maxBytes: number): number {
  return Math.max(0, Math.floor(maxBytes));
}

/** The last `maxBytes` of `text` (as UTF-8), starting on a whole character. */
export function tailOfText(text: string, maxBytes: number): TailText {
  const limit = byteLimit(maxBytes);
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= limit) return { text, truncated: false };
  return { text: fromCharacterStart(buf.subarray(buf.length - limit)).toString('utf8'), truncated: true };
}

/**
 * The last `maxBytes` of `file` as UTF-8 text, starting on a whole character when the file is
 * longer. Rejects with the file system's error (`code` `ENOENT`, `syscall` `open` for a missing
 * file): each caller says what a missing output means to it.
 */
export async function tailOfFile(file: string, maxBytes: number): Promise<TailText> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, byteLimit(maxBytes));
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, size - len + got);
      if (bytesRead <= 0) break;
      got += bytesRead;
    }
    const data = buf.subarray(0, got);
    const truncated = len < size;
    return { text: (truncated ? fromCharacterStart(data) : data).toString('utf8'), truncated };
  } finally {
    await fh.close();
  }
}

/**
 * The text of a `follow` answer asked from no offset with a `maxBytes` tail: a part whose
 * beginning was skipped starts on a whole character.
 */
export function tailOfParts(parts: readonly FollowPart[]): TailText {
  const truncated = parts.some((p) => (p.skipped ?? 0) > 0);
  const text = parts.map((p) => ((p.skipped ?? 0) > 0 ? fromCharacterStart(p.data) : p.data).toString('utf8')).join('');
  return { text, truncated };
}

export interface RunTailOptions extends OpOptions {
  /**
   * Where the backend has no `tail`, fetch the stream's whole `output` and keep its end. On the
   * web API that is a download of the run folder: only for a caller that reads once, after the
   * run ended (a failure explained, the CLI's hint), never for a page that redraws.
   */
  wholeOutput?: boolean;
}

/**
 * The last `maxBytes` of `run`'s `stream` through `backend`: its `tail`, else (with
 * `wholeOutput`) its `output`. Undefined when the backend can do neither; rejects when the read
 * fails (no output yet, a lost connection): the caller decides what that means.
 */
export async function readRunTail(backend: Backend, run: Run, stream: OutputStream, maxBytes: number, opts: RunTailOptions = {}): Promise<string | undefined> {
  const { wholeOutput, ...op } = opts;
  if (can(backend, 'tail')) return backend.tail(runRef(run), stream, maxBytes, op);
  if (!wholeOutput || !can(backend, 'output')) return undefined;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-tail-'));
  try {
    const { path: file } = await backend.output(runRef(run), stream, path.join(dir, `${stream}.txt`), op);
    return (await tailOfFile(file, maxBytes)).text;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
