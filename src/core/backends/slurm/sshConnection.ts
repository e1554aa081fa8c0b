/**
 * One SSH connection per target, shared by every operation: connected once (single-flight),
 * kept alive, closed after an idle time, and opened again on the next operation after a drop.
 * Host keys are checked against known_hosts; logins go through agent, key files, keyboard-
 * interactive and password, asking the user through `SshPrompts` when needed.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import type { Readable } from 'stream';
import { Client, utils } from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, ClientChannel, ParsedKey, SFTPWrapper } from 'ssh2';
import { MuseError, cancelledError, errorMessage } from '../../errors';
import type { SshPrompts } from '../../sshPrompts';
import { knownHostsName, verifyHostKey } from './knownHosts';
import { shellCommand } from '../../shellQuote';
import { defaultIdentityFiles, describeTarget, sshAgents } from './sshTarget';
import type { SshTarget } from './sshTarget';

export interface SshConnectionOptions {
  /** Close the connection after this long without any operation (ms; default 5 min). */
  idleMs?: number;
  /** SSH keepalive interval (ms; default 15 s); the connection is dropped after 3 unanswered. */
  keepaliveMs?: number;
  /** Time allowed for the TCP connect + handshake + login (ms; default 30 s, prompts aside). */
  readyTimeoutMs?: number;
  /** Environment (for `SSH_AUTH_SOCK`, tests). */
  env?: NodeJS.ProcessEnv;
  /** Home folder for default key files (tests). */
  homeDir?: string;
}

/** What the connection layer reports, for logs and for tests that count remote commands. */
export type SshEvent =
  | { type: 'connect'; target: string }
  | { type: 'close'; target: string; unexpected: boolean }
  | { type: 'command'; target: string; command: string };

export interface ExecResult {
  /** Exit status; null when the command ended by a signal or the channel closed without one. */
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  signal?: AbortSignal;
  /** Sent to the command's standard input, then closed. */
  stdin?: string | Buffer;
  /** Standard output is piped here (with back-pressure) instead of being collected. */
  stdoutTo?: NodeJS.WritableStream;
}

/** Error codes of Node sockets that mean "the network", not "the server said no". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

function isEncryptedKeyError(e: Error): boolean {
  return /encrypted|passphrase|bad decrypt|integrity check/i.test(e.message);
}

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
    const auth = this.authQueue(tried, (e) => {
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
        reject(hostKeyError ?? authError ?? this.mapConnectError(err, tried));
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
          this.verifyHostKey(key).then(
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

  private mapConnectError(err: Error & { level?: string; code?: string }, tried: string[]): MuseError {
    if (err.level === 'client-authentication') {
      return new MuseError(
        'auth',
        `SSH login to ${this.name} refused: tried ${tried.length ? tried.join(', ') : 'no method'}. ` +
          'Check the user, the key (identityFile, ssh-agent) or the password.',
        { cause: err },
      );
    }
    if (err.level === 'client-timeout') {
      return new MuseError('network', `SSH connection to ${this.name} timed out during the handshake.`, { cause: err });
    }
    if (err.code && NETWORK_CODES.has(err.code)) {
      return new MuseError('network', `Cannot reach ${this.name}: ${err.message}.`, { cause: err });
    }
    return new MuseError('network', `SSH connection to ${this.name} failed: ${err.message}.`, { cause: err });
  }

  private async verifyHostKey(key: Buffer): Promise<void> {
    const t = this.target;
    const names = [knownHostsName(t.hostName, t.port)];
    if (t.alias !== t.hostName) names.push(knownHostsName(t.alias, t.port));
    await verifyHostKey(key, { names, files: t, askUnknown: (type, fp) => this.prompts.unknownHostKey(t.hostName, t.port, type, fp) });
  }

  /**
   * The login methods, tried in order: agent, each key file, keyboard-interactive, password.
   * Returns a function giving the next method the server still accepts.
   */
  private authQueue(tried: string[], onError: (e: MuseError) => void): (methodsLeft: AuthenticationType[] | null) => Promise<AnyAuthMethod | false> {
    const t = this.target;
    const env = this.opts.env ?? process.env;
    const home = this.opts.homeDir ?? os.homedir();
    type Step = { kind: AuthenticationType; make: () => Promise<AnyAuthMethod | undefined> };
    const steps: Step[] = [];
    for (const agent of sshAgents(env)) {
      steps.push({ kind: 'publickey', make: async () => (tried.push('ssh-agent'), { type: 'agent', username: t.user, agent }) });
    }
    const explicit = t.identityFiles.length > 0;
    const keyFiles = explicit ? t.identityFiles : defaultIdentityFiles(home);
    for (const file of keyFiles) {
      steps.push({
        kind: 'publickey',
        make: async () => {
          const key = await this.loadKey(file, explicit, onError);
          if (!key) return undefined;
          tried.push(`key ${file}`);
          return { type: 'publickey', username: t.user, key };
        },
      });
    }
    steps.push({
      kind: 'keyboard-interactive',
      make: async () => {
        tried.push('keyboard-interactive');
        return {
          type: 'keyboard-interactive',
          username: t.user,
          prompt: (name, instructions, _lang, prompts, finish) => {
            if (prompts.length === 0) return finish([]);
            this.prompts
              .keyboardInteractive(name, instructions, prompts.map((p) => ({ prompt: p.prompt, echo: !!p.echo })))
              .then(
                (answers: string[] | undefined) => finish(answers ?? []),
                () => finish([]),
              );
          },
        };
      },
    });
    steps.push({
      kind: 'password',
      make: async () => {
        const password = await this.prompts.password(t.user, t.hostName);
        if (password === undefined) return undefined;
        tried.push('password');
        return { type: 'password', username: t.user, password };
      },
    });
    return async (methodsLeft) => {
      while (steps.length > 0) {
        const step = steps.shift()!;
        if (methodsLeft && !methodsLeft.includes(step.kind)) continue;
        const m = await step.make();
        if (m) return m;
      }
      return false;
    };
  }

  /** Reads and parses a private key, asking for its passphrase when it is encrypted. */
  private async loadKey(file: string, explicit: boolean, onError: (e: MuseError) => void): Promise<ParsedKey | undefined> {
    let data: Buffer;
    try {
      data = await fs.readFile(file);
    } catch (e) {
      if (explicit) onError(new MuseError('auth', `Cannot read the SSH key ${file}: ${errorMessage(e)}.`, { cause: e }));
      return undefined;
    }
    let parsed = utils.parseKey(data);
    for (let attempt = 0; parsed instanceof Error && isEncryptedKeyError(parsed) && attempt < 3; attempt++) {
      const pass = await this.prompts.passphrase(file);
      if (pass === undefined) return undefined;
      parsed = utils.parseKey(data, pass);
    }
    if (parsed instanceof Error) {
      if (explicit || !isEncryptedKeyError(parsed)) onError(new MuseError('auth', `Cannot use the SSH key ${file}: ${parsed.message}.`));
      return undefined;
    }
    return Array.isArray(parsed) ? parsed[0] : parsed;
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
    return this.use(
      (client) =>
        new Promise<ExecResult>((resolve, reject) => {
          this.commandCount++;
          this.emit({ type: 'command', target: this.name, command });
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
          const onDrop = () => finish(() => reject(new MuseError('network', `The SSH connection to ${this.name} dropped while running a remote command.`)));
          signal?.addEventListener('abort', onAbort, { once: true });
          client.once('close', onDrop);
          client.exec(command, (e, ch) => {
            if (e) return finish(() => reject(new MuseError('network', `Cannot run a command on ${this.name}: ${e.message}`, { cause: e })));
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
            ch.on('error', (e: Error) => finish(() => reject(new MuseError('network', `Remote command on ${this.name} failed: ${e.message}`, { cause: e }))));
            ch.on('close', () => finish(() => resolve({ code, signal: sig, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })));
            if (opts.stdin !== undefined) ch.end(opts.stdin);
            else ch.end();
          });
        }),
      signal,
    );
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
