/**
 * Following output files on the cluster by byte offset, over the connection's one SFTP session:
 * every followed file of a cluster in one batch per cycle. The stats (or, for job arrays, the
 * run folder listings) of all files go out together, then the opens, then the reads (split in
 * pieces, all in flight at once), then the closes: a few round trips per cycle, whatever the
 * number of files, and never one file after the other.
 */
import type { SFTPWrapper, Stats } from 'ssh2';
import type { FollowOffsets, FollowPart, OutputStream } from '../../backend';
import { MuseError } from '../../errors';
import { outputFileName } from './batchScript';
import { sftpCall } from './sftp';
import type { SshConnection } from './sshConnection';

/** One followed stream of one run folder. */
export interface SlurmFollowItem {
  dir: string;
  stream: OutputStream;
  /** A job array: one file per task (`__WS__stdout_<task>.txt`). */
  array: boolean;
  /** One task of a sweep's array: its own `__WS__stdout_<task>.txt` only. */
  task?: number;
  offsets: FollowOffsets;
  maxBytes: number;
}

/** What one item gained. */
export interface SlurmFollowResult {
  parts: FollowPart[];
  offsets: FollowOffsets;
  missing: boolean;
  error?: Error;
}

/** Bytes asked per SFTP read request (below OpenSSH's packet limit, so never split again). */
const PIECE = 32 * 1024;

interface FileToRead {
  item: number;
  file: string;
  task?: string;
  size: number;
  from: number;
  len: number;
  restarted: boolean;
  skipped: number;
}

const notFound = (e: unknown) => e instanceof MuseError && e.code === 'notFound';

/** The files of each item with their sizes (undefined: none yet), all asked at once. */
async function listAll(s: SFTPWrapper, items: SlurmFollowItem[]): Promise<Array<Array<{ file: string; task?: string; size: number }> | Error>> {
  return Promise.all(
    items.map(async (it) => {
      try {
        if (!it.array || it.task !== undefined) {
          const name = outputFileName(it.stream, it.task);
          const st = await sftpCall<Stats>((cb) => s.stat(`${it.dir}/${name}`, cb), `Reading ${it.stream}`).catch((e: unknown) => {
            if (notFound(e)) return undefined;
            throw e;
          });
          return st ? [{ file: name, size: st.size }] : [];
        }
        const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => s.readdir(it.dir, cb), 'Listing the run folder').catch((e: unknown) => {
          if (notFound(e)) return [];
          throw e;
        });
        const re = new RegExp(`^__WS__${it.stream}_(\\d+)\\.txt$`);
        return list
          .map((e) => ({ e, m: re.exec(e.filename) }))
          .filter((x) => x.m && x.e.attrs.isFile())
          .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
          .map((x) => ({ file: x.e.filename, task: x.m![1], size: x.e.attrs.size }));
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    }),
  );
}

/** Reads `len` bytes from `from` in pieces all in flight at once; stops at the first short piece (no gap). */
async function readRange(s: SFTPWrapper, handle: Buffer, from: number, len: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const pieces: Array<Promise<number>> = [];
  for (let at = 0; at < len; at += PIECE) {
    const n = Math.min(PIECE, len - at);
    pieces.push(sftpCall<number>((cb) => s.read(handle, buf, at, n, from + at, (err, got) => cb(err, got)), what));
  }
  const got = await Promise.all(pieces);
  let contiguous = 0;
  for (let i = 0; i < got.length; i++) {
    const asked = Math.min(PIECE, len - i * PIECE);
    contiguous += got[i];
    if (got[i] < asked) break;
  }
  return buf.subarray(0, contiguous);
}

/**
 * Reads what each item's files gained since their offsets, in one batch over the shared SFTP
 * session. A file smaller than its offset restarts from 0 (`restarted`); a missing file is "no
 * output yet". One item's failure is its `error`; the others are still answered.
 */
export function followSlurmFiles(conn: SshConnection, items: SlurmFollowItem[], signal?: AbortSignal): Promise<SlurmFollowResult[]> {
  return conn.sftp(async (s) => {
    const lists = await listAll(s, items);
    const results: SlurmFollowResult[] = items.map((it, i) => {
      const l = lists[i];
      return l instanceof Error
        ? { parts: [], offsets: { ...it.offsets }, missing: false, error: l }
        : { parts: [], offsets: { ...it.offsets }, missing: l.length === 0 };
    });
    const toRead: FileToRead[] = [];
    lists.forEach((l, item) => {
      if (l instanceof Error) return;
      for (const f of l) {
        const had = items[item].offsets[f.file] ?? 0;
        const restarted = f.size < had;
        const start = restarted ? 0 : had;
        if (f.size === start) {
          results[item].offsets[f.file] = start;
          continue;
        }
        const max = Math.max(1, items[item].maxBytes);
        const skipped = Math.max(0, f.size - start - max);
        toRead.push({ item, file: f.file, task: f.task, size: f.size, from: start + skipped, len: f.size - start - skipped, restarted, skipped });
      }
    });
    await Promise.all(
      toRead.map(async (r) => {
        const path = `${items[r.item].dir}/${r.file}`;
        const what = `Reading ${r.file}`;
        try {
          const handle = await sftpCall<Buffer>((cb) => s.open(path, 'r', cb), what);
          try {
            const data = await readRange(s, handle, r.from, r.len, what);
            const part: FollowPart = { file: r.file, from: r.from, data };
            if (r.task !== undefined) part.task = r.task;
            if (r.restarted) part.restarted = true;
            if (r.skipped) part.skipped = r.skipped;
            results[r.item].parts.push(part);
            results[r.item].offsets[r.file] = r.from + data.length;
          } finally {
            s.close(handle, () => undefined);
          }
        } catch (e) {
          // Removed between the stat and the open: nothing gained this time.
          if (notFound(e)) return;
          results[r.item].error ??= e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
    // Parts in file order (task order for arrays), whatever order the reads answered in.
    for (const [i, res] of results.entries()) {
      const order = new Map((lists[i] instanceof Error ? [] : (lists[i] as Array<{ file: string }>)).map((f, k) => [f.file, k]));
      res.parts.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
    }
    return results;
  }, signal);
}
