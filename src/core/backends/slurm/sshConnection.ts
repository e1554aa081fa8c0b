/**
 * One SSH connection to a target, used by every operation on it: connected once (single-flight),
 * kept alive, closed after an idle time, and opened again on the next operation after a drop;
 * one SFTP session on it. The login (host key, methods, prompts) is sshLogin.ts, a remote
 * command's channel sshExec.ts; backends share connections through sshConnectionPool.ts.
 */
import type { Readable } from 'stream';
import { Client } from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, ClientChannel, SFTPWrapper } from 'ssh2';
import { MuseError, cancelledError, errorMessage } from '../../errors';
import type { SshPrompts } from '../../sshPrompts';
import { shellCommand } from '../../shellQuote';
import { execOnClient } from './sshExec';
import type { ExecOptions, ExecResult } from './sshExec';
import { authQueue, checkHostKey, mapConnectError } from './sshLogin';
import type { LoginOptions } from './sshLogin';
import { describeTarget } from './sshTarget';
import type { SshTarget } from './sshTarget';

export interface SshConnectionOptions extends LoginOptions {
  /** Close the connection after this long without any operation (ms; default 5 min). */
  idleMs?: number;
  /** SSH keepalive interval (ms; default 15 s); the connection is dropped after 3 unanswered. */
  keepaliveMs?: number;
  /** Time allowed for the TCP connect + handshake + login (ms; default 30 s, prompts aside). */
  readyTimeoutMs?: number;
}

/** What the connection layer reports, for logs and for tests that count remote commands. */
export type SshEvent =
  | { type: 'connect'; target: string }
  | { type: 'close'; target: string; unexpected: boolean }
  | { type: 'command'; target: string; command: string };

/** A shared SSH connection to one target. */
export class SshConnection {
  /** Remote commands executed (exec requests sent), for tests and benches. */
  commandCount = 0;
  /** Successful logins, for tests (a reused connection does not add one). */
  connectCount = 0;

  private client?: Client;
  private connecting?: Promise<Client>;
  private sftpSession?: Promise<SFTPWrapper>;
  private jump?: SshConnection;
  private active = 0;
  private idleTimer?: NodeJS.Timeout;
  private disposed = false;
  private readonly listeners = new Set<(e: SshEvent) => void>();
  private readonly name: string;

  constructor(
    readonly target: SshTarget,
    private readonly prompts: SshPrompts,
    private readonly opts: SshConnectionOptions = {},
  ) {
    this.name = describeTarget(target);
  }

  /** Listens to connection events; returns the function that stops listening. */
  onEvent(listener: (e: SshEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: SshEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is not the connection's
      }
    }
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Runs `fn` with the connected client, keeping the idle timer off meanwhile. */
  async use<T>(fn: (client: Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.disposed) throw new MuseError('usage', `The SSH connection to ${this.name} was closed.`);
    this.active++;
    clearTimeout(this.idleTimer);
    try {
      const client = await this.getClient(signal);
      return await fn(client);
    } finally {
      this.active--;
      if (this.active === 0) this.armIdle();
    }
  }

  /** Keeps the connection open (no idle close) until the returned function is called. */
  hold(): () => void {
    this.active++;
    clearTimeout(this.idleTimer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      if (this.active === 0) this.armIdle();
    };
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const ms = this.opts.idleMs ?? 5 * 60_000;
    this.idleTimer = setTimeout(() => {
      if (this.active === 0) this.closeClient();
    }, ms);
    this.idleTimer.unref();
  }

  private getClient(signal?: AbortSignal): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    // Single flight: every caller waits for the same connect.
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    if (!signal) return this.connecting;
    return raceAbort(this.connecting, signal, 'Connecting');
  }

  /** Opens a TCP tunnel from the far side of this connection (for ProxyJump). */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    return this.use(
      (client) =>
        new Promise<ClientChannel>((resolve, reject) => {
          client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
            if (err) reject(new MuseError('network', `The jump host ${this.name} could not reach ${host}:${port}: ${err.message}`, { cause: err }));
            else resolve(stream);
          });
        }),
    );
  }

  private async connect(): Promise<Client> {
    const t = this.target;
    let sock: Readable | undefined;
    let releaseJump = () => {};
    if (t.jump) {
      this.jump ??= new SshConnection(t.jump, this.prompts, this.opts);
      sock = await this.jump.forwardOut(t.hostName, t.port);
      // The tunnel lives inside the jump connection: keep it open while this one is.
      releaseJump = this.jump.hold();
    }
    const client = new Client();
    let hostKeyError: MuseError | undefined;
    let authError: MuseError | undefined;
    const tried: string[] = [];
    const auth = authQueue(t, this.prompts, this.opts, tried, (e) => {
      authError ??= e;
    });

    return new Promise<Client>((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        if (this.disposed) {
          // Closed while logging in (its callers gave up): nobody else would close this one.
          client.end();
          reject(new MuseError('cancelled', `The SSH connection to ${this.name} was closed while logging in.`));
          return;
        }
        ready = true;
        this.client = client;
        this.connectCount++;
        this.emit({ type: 'connect', target: this.name });
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (ready) return; // after login, failures surface through the operations and 'close'
        reject(hostKeyError ?? authError ?? mapConnectError(err, tried, this.name));
      });
      client.on('close', () => {
        releaseJump();
        if (!ready) {
          reject(hostKeyError ?? authError ?? new MuseError('network', `The SSH connection to ${this.name} closed during login.`));
          return;
        }
        if (this.client === client) {
          this.client = undefined;
          this.sftpSession = undefined;
          this.emit({ type: 'close', target: this.name, unexpected: true });
        }
      });
      client.connect({
        host: t.hostName,
        port: t.port,
        sock,
        username: t.user,
        readyTimeout: this.opts.readyTimeoutMs ?? 30_000,
        keepaliveInterval: this.opts.keepaliveMs ?? 15_000,
        keepaliveCountMax: 3,
        // Not an async function: ssh2 takes any non-undefined return value as the answer.
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          checkHostKey(t, this.prompts, key).then(
            () => verify(true),
            (e: unknown) => {
              hostKeyError = e instanceof MuseError ? e : new MuseError('refused', errorMessage(e), { cause: e });
              verify(false);
            },
          );
        },
        authHandler: (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, next: (m: AnyAuthMethod | false) => void) => {
          auth(methodsLeft).then(next, (e: unknown) => {
            authError ??= e instanceof MuseError ? e : new MuseError('auth', errorMessage(e), { cause: e });
            next(false);
          });
        },
      } as Parameters<Client['connect']>[0]);
      // Without it, Nagle's algorithm holds small SSH packets: uploads drop to ~2 MB/s.
      client.setNoDelay(true);
    });
  }

  /**
   * Runs a remote command given as arguments (each quoted for the remote shell).
   * A non-zero exit is not an error here: see `execOk`.
   */
  exec(args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.execLine(shellCommand(args), opts);
  }

  /** Runs a command line already built from quoted parts (see shellQuote). */
  execLine(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(cancelledError());
    return this.use((client) => {
      this.commandCount++;
      this.emit({ type: 'command', target: this.name, command });
      return execOnClient(client, command, opts, this.name);
    }, signal);
  }

  /** Runs a command and returns its standard output; a non-zero exit throws a `server` MuseError with its stderr. */
  async execOk(args: readonly string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(args, opts);
    if (r.code !== 0) {
      const msg = r.stderr.toString('utf8').trim() || r.stdout.toString('utf8').trim();
      throw new MuseError('server', `\`${args[0]}\` failed on ${this.name} (exit ${r.code ?? r.signal}): ${msg || 'no message'}`);
    }
    return r.stdout.toString('utf8');
  }

  /** Runs `fn` with the connection's SFTP session (opened once per connection). */
  sftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.use(async (client) => {
      this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
        client.sftp((e, s) => {
          if (e) {
            this.sftpSession = undefined;
            reject(new MuseError('network', `Cannot open SFTP on ${this.name}: ${e.message}`, { cause: e }));
            return;
          }
          const forget = () => {
            if (this.client === client) this.sftpSession = undefined;
          };
          s.on('close', forget);
          s.on('error', forget); // the operations in flight fail on their own callbacks

          resolve(s);
        });
      });
      const s = await this.sftpSession;
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        if (!signal) return;
        onAbort = () => {
          reject(cancelledError('Transfer'));
          // Ending the session stops every transfer in flight; the next call opens a new one.
          this.sftpSession = undefined;
          s.end();
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      let onDrop: (() => void) | undefined;
      const dropped = new Promise<never>((_, reject) => {
        onDrop = () => reject(new MuseError('network', `The SSH connection to ${this.name} dropped during a transfer.`));
        client.once('close', onDrop);
      });
      aborted.catch(() => undefined);
      dropped.catch(() => undefined);
      try {
        return await Promise.race([fn(s), aborted, dropped]);
      } finally {
        if (onAbort) signal?.removeEventListener('abort', onAbort);
        if (onDrop) client.removeListener('close', onDrop);
      }
    }, signal);
  }

  private closeClient(): void {
    const c = this.client;
    this.client = undefined;
    this.sftpSession = undefined;
    if (c) {
      this.emit({ type: 'close', target: this.name, unexpected: false });
      c.end();
    }
  }

  /** Drops the current connection at once (tests: simulate a network failure). */
  destroyForTest(): void {
    const c = this.client as unknown as { _sock?: { destroy(): void } } | undefined;
    c?._sock?.destroy();
  }

  /** Closes the connection (and the jump host's) for good. */
  close(): void {
    this.disposed = true;
    clearTimeout(this.idleTimer);
    this.closeClient();
    this.jump?.close();
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(cancelledError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError(what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** True when an error means the connection was lost (worth one retry of an idempotent operation). */
export function isConnectionLoss(e: unknown): boolean {
  return e instanceof MuseError && e.code === 'network';
}
