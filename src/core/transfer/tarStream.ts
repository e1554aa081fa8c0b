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

/**
 * The archive of `entries` as a stream (with back-pressure: a file is read only as fast as the
 * stream is consumed). `onBytes` is told the content bytes of each file as they go out. A file
 * that cannot be read, or whose size changed since it was listed, fails the stream with an `io`
 * MuseError: the archive is then incomplete, and the reader must not take it as whole.
 */
export function tarStream(entries: readonly TarEntry[], onBytes?: (n: number, name: string) => void): Readable {
  async function* blocks(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      if (e.data) {
        yield memberHeader(e.name, e.data.length, e.mode ?? 0o644, Date.now() / 1000);
        yield e.data;
        yield padding(e.data.length);
        onBytes?.(e.data.length, e.name);
        continue;
      }
      const file = e.path!;
      const fail = (why: string, cause?: unknown) => new MuseError('io', `Cannot read the input file ${file}: ${why}.`, { cause });
      let st;
      try {
        st = await fs.stat(file);
      } catch (err) {
        throw fail(errorMessage(err), err);
      }
      if (!st.isFile()) throw fail('not a regular file');
      const mode = e.mode ?? (0o644 | (st.mode & 0o111));
      yield memberHeader(e.name, st.size, mode, st.mtimeMs / 1000);
      let sent = 0;
      if (st.size <= SMALL_FILE) {
        let data: Buffer;
        try {
          data = await fs.readFile(file);
        } catch (err) {
          throw fail(errorMessage(err), err);
        }
        if (data.length !== st.size) throw fail('it changed while it was being sent');
        sent = data.length;
        yield data;
        onBytes?.(sent, e.name);
      } else {
        const rs = createReadStream(file, { start: 0, end: st.size - 1, highWaterMark: 256 * 1024 });
        try {
          for await (const chunk of rs as AsyncIterable<Buffer>) {
            sent += chunk.length;
            yield chunk;
            onBytes?.(chunk.length, e.name);
          }
        } catch (err) {
          throw fail(errorMessage(err), err);
        }
        if (sent !== st.size) throw fail('it changed while it was being sent');
      }
      yield padding(sent);
    }
    yield TAR_END;
  }
  return Readable.from(blocks(), { objectMode: false });
}
