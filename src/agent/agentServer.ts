/**
 * The per-user agent: holds one SSH connection per cluster target for every window and CLI call
 * of the user, and runs their SSH profiles' backend operations on it (the clients run on this
 * machine, so the paths they give are read and written here as they are).
 *
 * It keeps no run state: the run store stays the truth, and a SIGKILL loses nothing but the
 * calls in flight (their clients see the socket close and fail them as retryable).
 *
 * Prompts go to the asker: a login's questions (passphrase, 2FA code, unknown host key) are sent
 * to the client whose call needed the connection (found through AsyncLocalStorage: the login runs
 * inside that call's async context). A background call (a poll) is never asked for anything: it
 * fails with a `needsSignIn` auth error.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { promises as fs } from 'fs';
import * as net from 'net';
import type { Backend, OpOptions } from '../core/backend';
import type { SshConnection } from '../core/backends/slurm/sshConnection';
import { SshConnectionPool } from '../core/backends/slurm/sshConnectionPool';
import { MuseError, errorMessage, isMuseError } from '../core/errors';
import type { SshProfile } from '../core/profiles';
import type { SshPrompts } from '../core/sshPrompts';
import { adoptAuthSock } from './sshAuthSock';
import { FORWARDED_METHODS, LineDecoder, isForwarded, PROTOCOL_VERSION, decodeValue, encodeValue, errorToWire, frame, versionMismatchText } from '../core/agent/agentProtocol';
import type { AgentMessage, AgentStatus, ClientInfo, ClientMessage, HeldConnection, PromptKind } from '../core/agent/agentProtocol';

export interface AgentServerOptions {
  socketPath: string;
  /** Exit after this long with no client and no open connection (default 5 min). */
  idleMs?: number;
  /** An SSH connection unused this long is closed (default 240 min). */
  keepMs?: number;
  log?: (line: string) => void;
  /** Called once the server has closed (idle or `stop`): the process entry exits there. */
  onClosed?: () => void;
  /** Makes the backend of a profile (tests); default: the Slurm backend over the agent's pool. */
  makeBackend?: (profile: SshProfile, prompts: SshPrompts, pool: SshConnectionPool, keepMs: number) => Backend;
  /** The environment logins read (`SSH_AUTH_SOCK`, see sshAuthSock.ts); default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface CallScope {
  client: ClientConn;
  callId: number;
  profile: string;
  background: boolean;
  /** A prompt was refused because the call runs in the background. */
  refusedPrompt: boolean;
}

interface ClientConn {
  socket: net.Socket;
  info?: ClientInfo;
  /** The client's SSH_AUTH_SOCK, from its hello. */
  sshAuthSock?: string;
  connectedAt: number;
  calls: Map<number, { ctrl: AbortController; scope: CallScope }>;
  prompts: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
}

const scopes = new AsyncLocalStorage<CallScope>();

function needsSignIn(profile: string): MuseError {
  return new MuseError('auth', `The cluster of profile "${profile}" needs a sign-in (a passphrase, a code or a host key to confirm): run an operation on it, or Sign In, to give it.`, { needsSignIn: true });
}

export class AgentServer {
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly clients = new Set<ClientConn>();
  private readonly backends = new Map<string, { profile: SshProfile; backend: Backend }>();
  private readonly pool = new SshConnectionPool();
  private readonly connInfo = new WeakMap<SshConnection, { since?: number }>();
  private readonly startedAt = Date.now();
  private lastActivity = Date.now();
  private idleTimer?: NodeJS.Timeout;
  private nextPromptId = 1;
  private closed = false;
  private readonly idleMs: number;
  private readonly keepMs: number;
  private readonly prompts: SshPrompts;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: AgentServerOptions) {
    this.env = opts.env ?? process.env;
    this.idleMs = opts.idleMs ?? 5 * 60_000;
    this.keepMs = opts.keepMs ?? 240 * 60_000;
    const ask = (kind: PromptKind, args: unknown[]): Promise<unknown> => this.ask(kind, args);
    this.prompts = {
      passphrase: (keyPath) => ask('passphrase', [keyPath]) as Promise<string | undefined>,
      password: (user, host) => ask('password', [user, host]) as Promise<string | undefined>,
      keyboardInteractive: (name, instructions, prompts) => ask('keyboardInteractive', [name, instructions, prompts]) as Promise<string[] | undefined>,
      unknownHostKey: async (host, port, keyType, fp) => (await ask('unknownHostKey', [host, port, keyType, fp])) === true,
      cannotAsk: () => (this.askerOf() ? undefined : needsSignIn(scopes.getStore()?.profile ?? '?')),
    };
  }

  /**
   * Listens on the socket. A socket file left by a crashed agent (nobody answers on it) is
   * replaced; when another agent answers, this one is not needed: a `usage` MuseError.
   */
  async listen(): Promise<void> {
    const path = this.opts.socketPath;
    try {
      await this.listenOnce(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      if (await answers(path)) throw new MuseError('usage', `Another Muse agent already listens on ${path}.`);
      await fs.unlink(path).catch(() => undefined);
      await this.listenOnce(path);
    }
    if (process.platform !== 'win32') await fs.chmod(path, 0o600).catch(() => undefined);
    this.log(`listening on ${path} (pid ${process.pid}, protocol ${PROTOCOL_VERSION})`);
    const every = Math.max(50, Math.min(30_000, Math.floor(this.idleMs / 4)));
    this.idleTimer = setInterval(() => this.checkIdle(), every);
  }

  private listenOnce(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(path, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** Closes every client and connection; `onClosed` runs after. */
  async close(why: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log(`closing: ${why}`);
    clearInterval(this.idleTimer);
    for (const c of this.clients) c.socket.destroy();
    for (const { backend } of this.backends.values()) await Promise.resolve(backend.dispose?.()).catch(() => undefined);
    this.pool.dispose();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.opts.onClosed?.();
  }

  /** What `muse agent status` shows. */
  async status(): Promise<AgentStatus> {
    const byConn = new Map<SshConnection, HeldConnection>();
    for (const { profile, backend } of this.backends.values()) {
      const conn = await connectionOf(backend);
      if (!conn) continue;
      let held = byConn.get(conn);
      if (!held) {
        const t = conn.target;
        held = { target: `${t.user}@${t.hostName}:${t.port}`, profiles: [], connected: conn.connected, since: this.connInfo.get(conn)?.since, logins: conn.connectCount, commands: conn.commandCount };
        byConn.set(conn, held);
      }
      held.profiles.push(profile.name);
    }
    return {
      pid: process.pid,
      version: PROTOCOL_VERSION,
      startedAt: this.startedAt,
      socket: this.opts.socketPath,
      clients: [...this.clients].filter((c) => c.info).map((c) => ({ ...c.info!, connectedAt: c.connectedAt })),
      connections: [...byConn.values()],
    };
  }

  private log(line: string): void {
    this.opts.log?.(`${new Date().toISOString()} ${line}`);
  }

  private checkIdle(): void {
    if (this.clients.size > 0) {
      this.lastActivity = Date.now();
      return;
    }
    void this.anyConnected().then((open) => {
      if (open) this.lastActivity = Date.now();
      else if (Date.now() - this.lastActivity >= this.idleMs) void this.close('idle');
    });
  }

  private async anyConnected(): Promise<boolean> {
    for (const { backend } of this.backends.values()) {
      if ((await connectionOf(backend))?.connected) return true;
    }
    return false;
  }

  private accept(socket: net.Socket): void {
    const client: ClientConn = { socket, connectedAt: Date.now(), calls: new Map(), prompts: new Map() };
    this.clients.add(client);
    this.lastActivity = Date.now();
    const decoder = new LineDecoder();
    socket.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = decoder.push(chunk);
      } catch (e) {
        this.log(`client ${client.info?.pid ?? '?'}: ${errorMessage(e)}; closing it`);
        socket.destroy();
        return;
      }
      for (const m of msgs) this.onMessage(client, m as ClientMessage);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.clients.delete(client);
      this.lastActivity = Date.now();
      // Nobody is left to want these answers: stop the work, fail the questions.
      for (const { ctrl } of client.calls.values()) ctrl.abort();
      for (const p of client.prompts.values()) p.reject(new MuseError('cancelled', 'The client that was asked went away.'));
    });
  }

  private send(client: ClientConn, msg: AgentMessage): void {
    if (!client.socket.destroyed) client.socket.write(frame(msg));
  }

  private onMessage(client: ClientConn, msg: ClientMessage): void {
    this.lastActivity = Date.now();
    if (!client.info) {
      if (msg.t !== 'hello') {
        client.socket.destroy();
        return;
      }
      if (msg.version !== PROTOCOL_VERSION) {
        this.send(client, { t: 'mismatch', version: PROTOCOL_VERSION, message: versionMismatchText(PROTOCOL_VERSION, msg.version), pid: process.pid });
        client.socket.end();
        return;
      }
      client.info = { kind: msg.client?.kind ?? 'test', pid: Number(msg.client?.pid) || 0 };
      client.sshAuthSock = typeof msg.sshAuthSock === 'string' ? msg.sshAuthSock : undefined;
      this.send(client, { t: 'hello', version: PROTOCOL_VERSION, pid: process.pid });
      return;
    }
    switch (msg.t) {
      case 'call':
        void this.runCall(client, msg);
        return;
      case 'abort':
        client.calls.get(msg.id)?.ctrl.abort();
        return;
      case 'answer': {
        const p = client.prompts.get(msg.id);
        client.prompts.delete(msg.id);
        p?.resolve(msg.declined ? undefined : decodeValue(msg.value));
        return;
      }
      case 'status':
        void this.status().then((s) => this.send(client, { t: 'result', id: msg.id, value: s }));
        return;
      case 'stop':
        this.send(client, { t: 'result', id: msg.id, value: { pid: process.pid } });
        // After the answer is out: the client sees its reply, then the close.
        setImmediate(() => void this.close(`stop asked by pid ${client.info?.pid}`));
        return;
      default:
        return;
    }
  }

  private backendFor(profile: SshProfile): Backend {
    const sig = JSON.stringify(profile);
    let hit = this.backends.get(sig);
    if (!hit) {
      const make =
        this.opts.makeBackend ??
        ((p: SshProfile, prompts: SshPrompts, pool: SshConnectionPool, keepMs: number) =>
          new (require('../core/backends/slurm/slurmBackend') as typeof import('../core/backends/slurm/slurmBackend')).SlurmBackend(p, prompts, pool, { connection: { idleMs: keepMs, env: this.env } }));
      hit = { profile, backend: make(profile, this.prompts, this.pool, this.keepMs) };
      this.backends.set(sig, hit);
      this.log(`backend for profile "${profile.name}" (${profile.host})`);
    }
    return hit.backend;
  }

  private async runCall(client: ClientConn, msg: Extract<ClientMessage, { t: 'call' }>): Promise<void> {
    const ctrl = new AbortController();
    const scope: CallScope = { client, callId: msg.id, profile: msg.profile?.name ?? '?', background: !!msg.background, refusedPrompt: false };
    client.calls.set(msg.id, { ctrl, scope });
    try {
      if (!isForwarded(msg.method)) throw new MuseError('unsupported', `The Muse agent does not run "${msg.method}".`);
      if (msg.profile?.kind !== 'ssh') throw new MuseError('unsupported', 'The Muse agent runs SSH profiles only.');
      // Before a login this call may start: the caller's ssh-agent, not a gone session's.
      if (await adoptAuthSock(this.env, client.sshAuthSock)) this.log(`logins use the ssh-agent of client pid ${client.info?.pid} (${client.sshAuthSock})`);
      const backend = this.backendFor(msg.profile);
      const fn = (backend as unknown as Record<string, unknown>)[msg.method];
      if (typeof fn !== 'function') throw new MuseError('unsupported', `Profile "${msg.profile.name}" cannot "${msg.method}".`);
      const args = (msg.args ?? []).map(decodeValue);
      const at = FORWARDED_METHODS[msg.method];
      {
        const given = (args[at] ?? {}) as OpOptions;
        while (args.length < at) args.push(undefined);
        args[at] = { ...given, signal: ctrl.signal, onProgress: (progress: OpOptions['onProgress'] extends (p: infer P) => void ? P : never) => this.send(client, { t: 'progress', id: msg.id, progress }) };
      }
      // A sweep's per-task callback cannot cross the socket: its keys go back with the answer.
      const sweepKeys: Array<[number, unknown]> = [];
      if (msg.method === 'submitSweep') args[1] = { ...(args[1] as object), onSubmitted: (index: number, result: unknown) => sweepKeys.push([index, result]) };
      const answer = await scopes.run(scope, () => (fn as (...a: unknown[]) => Promise<unknown>).apply(backend, args));
      const value = msg.method === 'submitSweep' ? sweepKeys : answer;
      await this.watchConnection(backend);
      this.send(client, { t: 'result', id: msg.id, value: encodeValue(value) });
    } catch (e) {
      const err = scope.refusedPrompt && !isMuseError(e, 'cancelled') ? needsSignIn(scope.profile) : e;
      this.send(client, { t: 'error', id: msg.id, error: errorToWire(err) });
    } finally {
      client.calls.delete(msg.id);
      this.lastActivity = Date.now();
    }
  }

  /** Notes when a connection logs in (for status). */
  private async watchConnection(backend: Backend): Promise<void> {
    const conn = await connectionOf(backend);
    if (!conn || this.connInfo.has(conn)) return;
    const info: { since?: number } = { since: conn.connected ? Date.now() : undefined };
    this.connInfo.set(conn, info);
    conn.onEvent((e) => {
      if (e.type === 'connect') info.since = Date.now();
      if (e.type === 'close') info.since = undefined;
    });
  }

  /** Routes one SSH question to the client whose call needs it (see the file comment). */
  private async ask(kind: PromptKind, args: unknown[]): Promise<unknown> {
    const scope = this.askerOf();
    if (!scope) throw needsSignIn(scopes.getStore()?.profile ?? '?');
    const id = this.nextPromptId++;
    const { client } = scope;
    return new Promise((resolve, reject) => {
      client.prompts.set(id, { resolve, reject });
      this.send(client, { t: 'prompt', id, call: scope.callId, kind, args: args.map(encodeValue) });
    });
  }

  /**
   * The call whose client may be asked now, or undefined (a background call: it is then marked
   * as having refused a question, so that it fails with the sign-in error).
   */
  private askerOf(): CallScope | undefined {
    const scope = scopes.getStore() ?? this.latestForegroundCall();
    if (scope && !scope.background && !scope.client.socket.destroyed) return scope;
    if (scope) scope.refusedPrompt = true;
    return undefined;
  }

  /** Without an async context (a login started elsewhere): the newest foreground call in flight. */
  private latestForegroundCall(): CallScope | undefined {
    let best: CallScope | undefined;
    for (const c of this.clients) {
      for (const { scope } of c.calls.values()) {
        if (!scope.background && (!best || scope.callId > best.callId)) best = scope;
      }
    }
    return best;
  }
}

/** The connection a Slurm backend holds (undefined for other backends, or before its first use). */
async function connectionOf(backend: Backend): Promise<SshConnection | undefined> {
  const b = backend as unknown as { connection?: () => Promise<SshConnection> };
  if (typeof b.connection !== 'function') return undefined;
  try {
    return await b.connection();
  } catch {
    return undefined;
  }
}

/** True when something answers on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
