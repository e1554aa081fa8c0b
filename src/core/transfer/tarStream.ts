/**
 * A tar archive written as a stream, so that any number of files travel to a remote `tar -x` in
 * one channel instead of one SFTP round trip series per file. ustar headers, with a pax extended
 * header for what ustar cannot carry (a name over 100 bytes or not ASCII, a size of 8 GiB or
 * more). Names go in as member names: no shell ever sees them.
 */
import { createReadStream, promises as fs } from 'fs';
import { Readable } from 'stream';
import { MuseError, errorMessage } from '../errors';

/** One member of the archive: a regular file, read from `path` or given as `data`. */
export interface TarEntry {
  /** Member name: a relative path with `/` between folders. */
  name: string;
  /** A local file to read (its size must not change while it is sent). */
  path?: string;
  /** The content itself (small generated files such as a batch script). */
  data?: Buffer;
  /** Permission bits (default 0o644; a local file keeps its execute bits). */
  mode?: number;
}

const BLOCK = 512;
/** Files up to this size are read in one call: faster than a stream for many small files. */
const SMALL_FILE = 1024 * 1024;
/** The largest size an ustar header's 11 octal digits hold. */
const USTAR_MAX_SIZE = 0o77777777777;

function writeOctal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

/** One 512-byte ustar header. `name` must be ASCII and at most 100 bytes (pax carries the rest). */
function ustarHeader(name: string, size: number, mode: number, mtime: number, type: '0' | 'x'): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'ascii');
  writeOctal(b, 100, 8, mode);
  writeOctal(b, 108, 8, 0); // uid
  writeOctal(b, 116, 8, 0); // gid
  writeOctal(b, 124, 12, Math.min(size, USTAR_MAX_SIZE));
  writeOctal(b, 136, 12, Math.max(0, Math.floor(mtime)));
  b.write('        ', 148, 8, 'ascii'); // checksum counted as spaces
  b.write(type, 156, 1, 'ascii');
  b.write('ustar\u000000', 257, 8, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/** A pax record `LEN key=value\n`, LEN counting the whole record (its own digits included). */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  const digits = String(bodyLen).length;
  let len = bodyLen + digits;
  if (String(len).length > digits) len++;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * The header blocks of one member: a pax header first when the name or size needs one (GNU,
 * BSD and busybox tar read pax), then the ustar header.
 */
export function memberHeader(name: string, size: number, mode: number, mtime: number): Buffer {
  // eslint-disable-next-line no-control-regex
  const plainName = /^[\x20-\x7e]*$/.test(name) && name.length <= 100;
  const records: Buffer[] = [];
  if (!plainName) records.push(paxRecord('path', name));
  if (size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(size)));
  const ustarName = plainName ? name : name.replace(/[^\x20-\x7e]/g, '_').slice(-100);
  const header = ustarHeader(ustarName, size, mode, mtime, '0');
  if (records.length === 0) return header;
  const pax = Buffer.concat(records);
  return Buffer.concat([ustarHeader(`PaxHeaders/${ustarName}`.slice(0, 100), pax.length, 0o644, mtime, 'x'), pax, padding(pax.length), header]);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** Small files read ahead of the one being sent (local reads overlap the sending). */
const READ_AHEAD = 16;
/** Small members are gathered into chunks of about this size: fewer, larger writes downstream. */
const CHUNK = 256 * 1024;

interface Loaded {
  size: number;
  mode: number;
  mtime: number;
  /** The content of a small file (a large one is streamed when its turn comes). */
  data?: Buffer;
}

/**
 * The archive of `entries` as a stream (with back-pressure: a file is read only as fast as the
 * stream is consumed, small ones a few ahead). `onBytes` is told the content bytes of each file
 * as they go out. A file that cannot be read, or whose size changed since it was listed, fails
 * the stream with an `io` MuseError: the archive is then incomplete, and the reader must not
 * take it as whole.
 */
export function tarStream(entries: readonly TarEntry[], onBytes?: (n: number, name: string) => void): Readable {
  const fail = (file: string, why: string, cause?: unknown) => new MuseError('io', `Cannot read the input file ${file}: ${why}.`, { cause });
  const load = async (e: TarEntry): Promise<Loaded> => {
    if (e.data) return { size: e.data.length, mode: e.mode ?? 0o644, mtime: Date.now() / 1000, data: e.data };
    const file = e.path!;
    let st;
    try {
      st = await fs.stat(file);
    } catch (err) {
      throw fail(file, errorMessage(err), err);
    }
    if (!st.isFile()) throw fail(file, 'not a regular file');
    const loaded: Loaded = { size: st.size, mode: e.mode ?? (0o644 | (st.mode & 0o111)), mtime: st.mtimeMs / 1000 };
    if (st.size <= SMALL_FILE) {
      try {
        loaded.data = await fs.readFile(file);
      } catch (err) {
        throw fail(file, errorMessage(err), err);
      }
      if (loaded.data.length !== st.size) throw fail(file, 'it changed while it was being sent');
    }
    return loaded;
  };

  async function* blocks(): AsyncGenerator<Buffer> {
    const pending: Promise<Loaded>[] = [];
    let next = 0;
    const fill = () => {
      while (next < entries.length && pending.length < READ_AHEAD) {
        const p = load(entries[next++]);
        p.catch(() => undefined); // awaited in its turn; not unhandled meanwhile
        pending.push(p);
      }
    };
    let batch: Buffer[] = [];
    let batched = 0;
    const add = (b: Buffer) => {
      batch.push(b);
      batched += b.length;
    };
    const flush = (): Buffer => {
      const out = batch.length === 1 ? batch[0] : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      return out;
    };
    for (const e of entries) {
      fill();
      const f = await pending.shift()!;
      add(memberHeader(e.name, f.size, f.mode, f.mtime));
      if (f.data) {
        add(f.data);
        add(padding(f.size));
        onBytes?.(f.size, e.name);
        if (batched >= CHUNK) yield flush();
        continue;
      }
      if (batched > 0) yield flush();
      const file = e.path!;
      let sent = 0;
      const rs = createReadStream(file, { start: 0, end: f.size - 1, highWaterMark: CHUNK });
      try {
        for await (const chunk of rs as AsyncIterable<Buffer>) {
          sent += chunk.length;
          yield chunk;
          onBytes?.(chunk.length, e.name);
        }
      } catch (err) {
        // A cancel destroys the stream with its own error: passed on as it is.
        if (err instanceof MuseError) throw err;
        throw fail(file, errorMessage(err), err);
      }
      if (sent !== f.size) throw fail(file, 'it changed while it was being sent');
      add(padding(sent));
    }
    add(TAR_END);
    yield flush();
  }
  return Readable.from(blocks(), { objectMode: false });
}
