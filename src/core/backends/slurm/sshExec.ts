/**
 * One remote command over an open SSH connection: its channel, its output (collected or piped
 * with back-pressure), its exit status, and what a cancel or a dropped connection does to it.
 */
import type { Readable } from 'stream';
import type { Client, ClientChannel } from 'ssh2';
import { MuseError, cancelledError } from '../../errors';

export interface ExecResult {
  /** Exit status; null when the command ended by a signal or the channel closed without one. */
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  signal?: AbortSignal;
  /**
   * Sent to the command's standard input, then closed. A stream is piped (with back-pressure);
   * if it fails, the command fails with its error and the channel is closed at once, without
   * the end-of-file a complete input would get.
   */
  stdin?: string | Buffer | Readable;
  /** Standard output is piped here (with back-pressure) instead of being collected. */
  stdoutTo?: NodeJS.WritableStream;
}

/**
 * Runs `command` on a logged-in `client` in a channel of its own and collects its exit status
 * and output. Settles once: on the channel's close, on the caller's cancel (the command is sent
 * KILL and its channel closed) or when the connection drops (`network`).
 */
export function execOnClient(client: Client, command: string, opts: ExecOptions, name: string): Promise<ExecResult> {
  const { signal } = opts;
  return new Promise<ExecResult>((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      client.removeListener('close', onDrop);
      f();
    };
    const onAbort = () => {
      finish(() => reject(cancelledError('Remote command')));
      try {
        channel?.signal('KILL');
        channel?.close();
      } catch {
        // the channel may be gone already
      }
    };
    const onDrop = () => finish(() => reject(new MuseError('network', `The SSH connection to ${name} dropped while running a remote command.`)));
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('close', onDrop);
    client.exec(command, (e, ch) => {
      if (e) return finish(() => reject(new MuseError('network', `Cannot run a command on ${name}: ${e.message}`, { cause: e })));
      channel = ch;
      if (settled) {
        ch.close();
        return;
      }
      let code: number | null = null;
      let sig: string | undefined;
      ch.on('exit', (c: number | null, s?: string) => {
        code = c;
        sig = s ?? undefined;
      });
      if (opts.stdoutTo) ch.pipe(opts.stdoutTo, { end: false });
      else ch.on('data', (d: Buffer) => out.push(d));
      ch.stderr.on('data', (d: Buffer) => err.push(d));
      ch.on('error', (e: Error) => finish(() => reject(new MuseError('network', `Remote command on ${name} failed: ${e.message}`, { cause: e }))));
      ch.on('close', () => finish(() => resolve({ code, signal: sig, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })));
      const input = opts.stdin;
      if (input === undefined) ch.end();
      else if (typeof input === 'string' || Buffer.isBuffer(input)) ch.end(input);
      else {
        input.once('error', (e: Error) => {
          finish(() => reject(e));
          try {
            ch.close();
          } catch {
            // the channel may be gone already
          }
        });
        // The command may end (or fail) before reading all of it: stop reading the source then.
        ch.once('close', () => {
          if (!input.readableEnded) input.destroy();
        });
        input.pipe(ch);
      }
    });
  });
}
