/**
 * SFTP on a run folder: callback calls as promises with errors a user can read, and remote
 * files read as one stream or downloaded to a local file through its `.part`.
 */
import * as path from 'path';
import { PassThrough } from 'stream';
import type { Readable } from 'stream';
import type { SFTPWrapper } from 'ssh2';
import type { OpOptions } from '../../backend';
import { MuseError } from '../../errors';
import { streamToFile } from '../../transfer/streamToFile';
import type { SshConnection } from './sshConnection';

/** An SFTP failure as a MuseError: missing file, dropped session, or the server's refusal. */
export function sftpError(err: Error, what: string): MuseError {
  const code = (err as { code?: number }).code;
  // SFTP status 2 = no such file.
  if (code === 2) return new MuseError('notFound', `${what}: no such file on the cluster.`, { cause: err });
  return new MuseError(/No response|not connected|closed/i.test(err.message) ? 'network' : 'server', `${what}: ${err.message}`, { cause: err });
}

/** An SFTP call (`fn` given the callback) as a promise; a failure becomes `sftpError(err, what)`. */
export function sftpCall<T>(fn: (cb: (err: Error | undefined | null, v: T) => void) => void, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, v) => {
      if (!err) return resolve(v);
      reject(sftpError(err, what));
    });
  });
}

/**
 * The remote `files`, one after the other, as one stream. Destroying it destroys the file being
 * read (its handle is closed); a failed read destroys it with an SFTP error naming the file.
 * Every read stream keeps an error listener: a handle close failing later (the connection gone)
 * must not crash the process.
 */
function sftpConcat(s: SFTPWrapper, files: string[]): Readable {
  const out = new PassThrough();
  let current: Readable | undefined;
  let i = 0;
  const next = (): void => {
    if (out.destroyed) return;
    if (i >= files.length) {
      out.end();
      return;
    }
    const file = files[i++];
    const rs = s.createReadStream(file);
    current = rs;
    rs.on('error', (e: Error) => out.destroy(sftpError(e, `Reading ${path.posix.basename(file)}`)));
    rs.once('end', next);
    rs.pipe(out, { end: false });
  };
  out.once('close', () => {
    if (current && !current.readableEnded) current.destroy();
  });
  next();
  return out;
}

/**
 * Downloads the remote `files`, joined, to `destFile` through `destFile.part` (renamed once
 * complete: a dropped connection, a cancel or a local write failure leaves no partial file and
 * the older `destFile` as it was). Fails with `io` (local file), `network`, `notFound` or
 * `cancelled`. Resolves with the bytes written.
 */
export async function downloadToFile(conn: SshConnection, files: string[], destFile: string, opts: OpOptions & { what: string }): Promise<number> {
  // Held, not run inside conn.sftp: that returns at once on a drop or a cancel, while the
  // .part is still being closed and removed (a retry would then race the removal).
  const release = conn.hold();
  try {
    const s = await conn.sftp(async (sftp) => sftp, opts.signal);
    return await streamToFile(sftpConcat(s, files), destFile, { signal: opts.signal, onProgress: opts.onProgress, what: opts.what });
  } finally {
    release();
  }
}
