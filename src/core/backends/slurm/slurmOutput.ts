/**
 * A run's standard output and error on the cluster: which files hold them (one, or one per array
 * task in task order) and the last bytes of them, read over SFTP.
 */
import type { Stats } from 'ssh2';
import type { OutputStream } from '../../backend';
import { MuseError } from '../../errors';
import { outputFileName } from './batchScript';
import { sftpCall } from './sftp';
import type { SshConnection } from './sshConnection';

/** A remote output file and its size when listed. */
export interface OutputFile {
  path: string;
  size: number;
}

/**
 * The files of `stream` in the run folder `dir`: the single output file when it exists, or the
 * array tasks' files (`__WS__<stream>_<task>.txt`) in task order for an array job.
 */
export function listOutputFiles(conn: SshConnection, dir: string, stream: OutputStream, array: boolean, signal?: AbortSignal, task?: number): Promise<OutputFile[]> {
  // One task of a sweep's array reads its own file only.
  const single = outputFileName(stream, task);
  if (task !== undefined) array = false;
  return conn.sftp(async (s) => {
    if (!array) {
      const st = await sftpCall<Stats>((cb) => s.stat(`${dir}/${single}`, cb), `Reading ${stream}`).catch((e) => {
        if (e instanceof MuseError && e.code === 'notFound') return undefined;
        throw e;
      });
      return st ? [{ path: `${dir}/${single}`, size: st.size }] : [];
    }
    const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => s.readdir(dir, cb), 'Listing the run folder');
    const re = new RegExp(`^__WS__${stream}_(\\d+)\\.txt$`);
    return list
      .map((e) => ({ e, m: re.exec(e.filename) }))
      .filter((x) => x.m && x.e.attrs.isFile())
      .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
      .map((x) => ({ path: `${dir}/${x.e.filename}`, size: x.e.attrs.size }));
  }, signal);
}

/** The last `maxBytes` of `files` joined (read from the last file backwards), as UTF-8 text. */
export function readTail(conn: SshConnection, files: OutputFile[], maxBytes: number, stream: OutputStream, signal?: AbortSignal): Promise<string> {
  return conn.sftp(async (s) => {
    const parts: Buffer[] = [];
    let want = Math.max(0, Math.floor(maxBytes));
    for (let i = files.length - 1; i >= 0 && want > 0; i--) {
      const handle = await sftpCall<Buffer>((cb) => s.open(files[i].path, 'r', cb), `Opening ${stream}`);
      try {
        const st = await sftpCall<Stats>((cb) => s.fstat(handle, cb), `Reading ${stream}`);
        const len = Math.min(want, st.size);
        const buf = Buffer.alloc(len);
        let got = 0;
        while (got < len) {
          const n = await sftpCall<number>((cb) => s.read(handle, buf, got, len - got, st.size - len + got, (err, bytesRead) => cb(err, bytesRead)), `Reading ${stream}`);
          if (n <= 0) break;
          got += n;
        }
        parts.unshift(buf.subarray(0, got));
        want -= got;
      } finally {
        s.close(handle, () => undefined);
      }
    }
    return Buffer.concat(parts).toString('utf8');
  }, signal);
}
