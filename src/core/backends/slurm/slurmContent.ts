/**
 * A run folder as one zip, downloaded: zipped on the cluster and streamed back when it can be,
 * else zipped here from one tar stream (or, without tar, from the files read over SFTP). The backend's bookkeeping files stay out; the
 * zip reaches its destination through `<dest>.part`, renamed once complete.
 */
import { createWriteStream } from 'fs';
import { PassThrough } from 'stream';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import type { Stats } from 'ssh2';
import { ZipFile } from 'yazl';
import type { OpOptions } from '../../backend';
import { replaceAtomically } from '../../atomicFile';
import { MuseError } from '../../errors';
import { partPath } from '../../transfer/streamToFile';
import { BOOKKEEPING, JOBID_FILE, SUBMIT_LOCK } from './runFileNames';
import { readTar } from '../../transfer/tarRead';
import { remoteFacts } from './remoteFacts';
import { sftpCall, sftpError } from './sftp';
import { isConnectionLoss } from './sshConnection';
import type { SshConnection } from './sshConnection';

/**
 * Downloads the run folder `dir` as a zip to `destFile` (through `destFile.part`: a failure
 * leaves no partial file and an older `destFile` as it was). Resolves with the bytes written;
 * fails with `io` (the file here), `notFound` (no run folder), `server`, `network` or
 * `cancelled`, and closes the remote command or SFTP reads it started.
 */
export function downloadRunZip(conn: SshConnection, dir: string, destFile: string, opts: OpOptions = {}): Promise<number> {
  return replaceAtomically(destFile, (tmp) => writeRunZip(conn, dir, tmp, opts), partPath(destFile));
}

/** Writes the zip of `dir` to `tmp`; settles only once `tmp` is closed. */
async function writeRunZip(conn: SshConnection, dir: string, tmp: string, opts: OpOptions): Promise<number> {
  const out = createWriteStream(tmp);
  let outError: Error | undefined;
  const counting = new PassThrough();
  // Closes the remote zip's channel when the file here fails: left alone, its unread data
  // fills the SSH window and the command never ends. The caller's cancel does the same.
  const stopRemote = new AbortController();
  const onCancel = () => stopRemote.abort();
  opts.signal?.addEventListener('abort', onCancel, { once: true });
  if (opts.signal?.aborted) stopRemote.abort();
  // Listened to from the start: a failed write (disk full) must fail this call, not the process.
  out.on('error', (e) => {
    outError ??= e;
    stopRemote.abort();
    counting.destroy();
  });
  counting.on('error', () => undefined); // its failures are outError's, told below
  let bytes = 0;
  counting.on('data', (c: Buffer) => {
    bytes += c.length;
    opts.onProgress?.({ phase: 'download', done: bytes });
  });
  counting.pipe(out);
  try {
    // zip on the cluster, streamed back. Info-ZIP zip does not flag UTF-8 names, so readers
    // would show non-ASCII names garbled: those folders (95), and clusters without zip (97),
    // are zipped here instead, from files streamed over SFTP.
    const script =
      'cd -- "$1" || exit 98; command -v zip >/dev/null 2>&1 || exit 97; ' +
      "if LC_ALL=C find . -name '*[! -~]*' -print | head -n 1 | grep -q .; then exit 95; fi; " +
      `exec zip -q -r - . -x '${SUBMIT_LOCK}' '${SUBMIT_LOCK}/*' '${JOBID_FILE}'`;
    const r = await conn.exec(['sh', '-c', script, 'sh', dir], {
      signal: stopRemote.signal,
      stdoutTo: counting,
    });
    if (r.code === 97 || r.code === 95) {
      // A far side that cannot even answer the probe is taken as one without tar.
      const facts = await remoteFacts(conn, opts.signal).catch((e: unknown) => {
        if (isConnectionLoss(e) || opts.signal?.aborted) throw e;
        return undefined;
      });
      if (facts?.tar) await zipFromTar(conn, dir, counting, stopRemote.signal, opts);
      else await zipHere(conn, dir, counting, opts);
    } else if (r.code === 98) {
      throw new MuseError('notFound', `The run folder ${dir} is not on the cluster any more.`);
    } else if (r.code !== 0) {
      throw new MuseError('server', `zip failed in ${dir}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
    } else {
      counting.end();
    }
    await new Promise<void>((res, rej) => {
      if (outError) return rej(outError);
      if (out.writableFinished) return res();
      out.once('finish', () => res());
      out.once('error', rej);
    });
    return bytes;
  } catch (e) {
    counting.destroy();
    // Closed before replaceAtomically removes it: a file still being opened would come back after it.
    if (!out.closed) await new Promise<void>((res) => out.once('close', () => res()).destroy());
    if (outError) throw new MuseError('io', `Cannot write ${tmp}: ${outError.message}`, { cause: outError });
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onCancel);
  }
}

/**
 * The run folder as one tar stream from the cluster, made into a zip here (yazl flags UTF-8
 * names, which Info-ZIP's zip does not): one remote command, where SFTP costs round trips per file.
 */
async function zipFromTar(conn: SshConnection, dir: string, dest: PassThrough, stop: AbortSignal, opts: OpOptions): Promise<void> {
  const tarOut = new PassThrough();
  const zip = new ZipFile();
  const zipping = pipeline(zip.outputStream, dest, { signal: opts.signal });
  zipping.catch(() => undefined); // awaited below, after the remote command
  const reading = readTar(tarOut, (f) => {
    if (BOOKKEEPING.has(f.name.split('/')[0])) return undefined;
    const pt = new PassThrough();
    zip.addReadStream(pt, f.name, { mtime: f.mtime, size: f.size });
    return pt;
  }).then(() => zip.end());
  reading.catch(() => undefined);
  const r = await conn.exec(['sh', '-c', 'cd -- "$1" || exit 98; exec tar --format=pax -cf - .', 'sh', dir], { signal: stop, stdoutTo: tarOut });
  tarOut.end();
  if (r.code === 98) throw new MuseError('notFound', `The run folder ${dir} is not on the cluster any more.`);
  if (r.code !== 0) throw new MuseError('server', `tar failed in ${dir}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
  await reading;
  await zipping;
}

/** The run folder's files streamed over SFTP into a zip made here (yazl), when the cluster has no zip nor tar. */
async function zipHere(conn: SshConnection, dir: string, dest: PassThrough, opts: OpOptions): Promise<void> {
  return conn.sftp(async (s) => {
    const files: { rel: string; size: number; mtime: number }[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      if (depth > 32) return;
      const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => s.readdir(rel ? `${dir}/${rel}` : dir, cb), 'Listing the run folder');
      for (const e of list) {
        if (!rel && BOOKKEEPING.has(e.filename)) continue;
        const r = rel ? `${rel}/${e.filename}` : e.filename;
        if (e.attrs.isDirectory()) await walk(r, depth + 1);
        else if (e.attrs.isFile()) files.push({ rel: r, size: e.attrs.size, mtime: e.attrs.mtime });
      }
    };
    await walk('', 0);
    const zip = new ZipFile();
    let failure: Error | undefined;
    const fail = (e: Error) => {
      failure ??= e;
      // yazl stalls when a source stops: ending its output fails the pipeline below.
      (zip.outputStream as Readable).destroy(failure);
    };
    zip.on('error', (e: Error) => fail(e));
    const streams: Readable[] = [];
    const settled: Promise<void>[] = [];
    for (const f of files) {
      // No size given: a file that grows meanwhile (a running job's output) is zipped as read.
      zip.addReadStreamLazy(f.rel, { mtime: new Date(f.mtime * 1000) }, (cb) => {
        const rs = s.createReadStream(`${dir}/${f.rel}`);
        streams.push(rs);
        // ssh2's read streams close their remote handle after 'end' and say 'close' once that is
        // answered, or 'error' (an error emitted after destroy is the last word). Every error is
        // listened to: one left alone would crash the process, e.g. when the caller then closes
        // the connection and the pending close fails with "No response from server".
        settled.push(
          new Promise<void>((res) => {
            rs.once('close', () => res());
            rs.on('error', (e: Error) => {
              if (!rs.readableEnded) fail(sftpError(e, `Reading ${f.rel}`));
              if (rs.destroyed) res();
            });
          }),
        );
        cb(null, rs);
      });
    }
    zip.end();
    try {
      await pipeline(zip.outputStream, dest, { signal: opts.signal });
    } catch (e) {
      for (const rs of streams) if (!rs.readableEnded) rs.destroy();
      await Promise.all(settled);
      throw failure ?? e;
    }
    // Resolve only once every remote handle is closed: nothing of this zip is left in flight.
    await Promise.all(settled);
  }, opts.signal);
}
