/**
 * Reading a tar stream as it arrives (ustar, pax and GNU long names): each regular file is
 * handed over with its name and its bytes, in archive order, with back-pressure. What the remote
 * `tar -c` of a run folder sends, turned here into a zip when the cluster cannot make one.
 */
import { once } from 'events';
import type { Readable, Writable } from 'stream';
import { MuseError } from '../errors';

/** A regular file of the archive. */
export interface TarFile {
  name: string;
  size: number;
  mtime: Date;
}

const BLOCK = 512;

function field(b: Buffer, offset: number, width: number): string {
  const raw = b.subarray(offset, offset + width);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? width : end).toString('utf8');
}

function octal(b: Buffer, offset: number, width: number): number {
  // GNU base-256 for large values: the high bit of the first byte set.
  if (b[offset] & 0x80) {
    let v = 0;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + b[i];
    return v;
  }
  const s = field(b, offset, width).trim();
  return s ? parseInt(s, 8) : 0;
}

/** The records of a pax extended header (`LEN key=value\n`...). */
function paxRecords(data: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(data.toString('ascii', i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) m.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return m;
}

/**
 * Reads the tar archive `src` to its end-of-archive blocks, calling `onFile` for each regular
 * file: the returned stream (or undefined to skip it) receives the file's bytes and is ended
 * after them. Directories, links and other members are passed over. A stream that ends before
 * the end of the archive, or a header whose checksum is wrong, is a `malformed` MuseError.
 */
export async function readTar(src: Readable, onFile: (f: TarFile) => Writable | undefined): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let pending: { name?: string; size?: number } = {};
  // What is being read: a header, a member's data (to a file, or collected for pax/longname), its padding.
  let state: { kind: 'header' } | { kind: 'data'; left: number; pad: number; to?: Writable; collect?: Buffer[]; meta?: 'x' | 'L' } = { kind: 'header' };
  let ended = false;

  const finishData = (s: Extract<typeof state, { kind: 'data' }>) => {
    if (s.to) s.to.end();
    if (s.meta && s.collect) {
      const data = Buffer.concat(s.collect);
      if (s.meta === 'x') {
        const r = paxRecords(data);
        if (r.has('path')) pending.name = r.get('path');
        if (r.has('size')) pending.size = Number(r.get('size'));
      } else pending.name = field(data, 0, data.length);
    }
  };

  for await (const chunk of src as AsyncIterable<Buffer>) {
    // Read to its end even past the end blocks: the writer must not meet a closed pipe.
    if (ended) continue;
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (!ended) {
      if (state.kind === 'header') {
        if (buf.length < BLOCK) break;
        const h = buf.subarray(0, BLOCK);
        buf = buf.subarray(BLOCK);
        if (h.every((x) => x === 0)) {
          ended = true;
          break;
        }
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
        if (sum !== octal(h, 148, 8)) throw new MuseError('malformed', 'The archive from the cluster is damaged (a header checksum does not match).');
        const type = String.fromCharCode(h[156] || 0x30);
        const prefix = field(h, 345, 155);
        const name = pending.name ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
        const size = pending.size ?? octal(h, 124, 12);
        const mtime = new Date(octal(h, 136, 12) * 1000);
        const pad = (BLOCK - (size % BLOCK)) % BLOCK;
        if (type === 'x' || type === 'L') {
          state = { kind: 'data', left: size, pad, collect: [], meta: type };
          continue;
        }
        pending = {};
        const to = type === '0' || type === '7' ? onFile({ name: name.replace(/^(\.\/)+/, ''), size, mtime }) : undefined;
        state = { kind: 'data', left: size, pad, to };
        if (size === 0) {
          finishData(state);
          state = { kind: 'header' };
        }
        continue;
      }
      // data, then its padding
      if (state.left > 0) {
        if (buf.length === 0) break;
        const part = buf.subarray(0, Math.min(buf.length, state.left));
        buf = buf.subarray(part.length);
        state.left -= part.length;
        if (state.collect) state.collect.push(Buffer.from(part));
        if (state.to && !state.to.write(part)) await once(state.to, 'drain');
        if (state.left > 0) continue;
      }
      if (buf.length < state.pad) break;
      buf = buf.subarray(state.pad);
      finishData(state);
      state = { kind: 'header' };
    }
  }
  if (!ended) throw new MuseError('malformed', 'The archive from the cluster ended before its end: the connection may have dropped.');
}
