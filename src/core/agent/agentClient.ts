/**
 * A window's or CLI call's link to the per-user agent: connects to its socket (starting the agent
 * when nobody answers), shakes hands on the protocol version, sends calls with ids, relays their
 * progress and cancellation, and answers the agent's SSH questions with the caller's own
 * `SshPrompts` (the terminal, the window's input boxes).
 *
 * Start on demand: a client that finds no agent takes the start lock, looks again (another client
 * may have just started one), removes a socket nobody answers on (a crashed agent's), starts the
 * agent detached, and waits for its socket with a deadline. Two clients starting at once end with
 * one agent. If the agent dies, every call in flight fails with a retryable `network` error (a
 * submit in flight becomes `unknown` by `submitRun`'s rule: it is never sent twice), and the next
 * call starts a new agent.
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import type { OpOptions, Progress } from '../backend';
import { MuseError, cancelledError, errorMessage } from '../errors';
import type { SshProfile } from '../profiles';
import type { SshPrompts } from '../sshPrompts';
import { agentDir, agentScriptPath, agentSocketPath, agentStartLockPath, ensureAgentDir } from './agentPaths';
import { FORWARDED_METHODS, LineDecoder, PROTOCOL_VERSION, decodeValue, encodeValue, errorFromWire, frame, versionMismatchText } from './agentProtocol';
import type { AgentMessage, AgentStatus, ClientInfo, ClientMessage, ForwardedMethod, PromptKind } from './agentProtocol';

export interface AgentClientOptions {
  env?: NodeJS.ProcessEnv;
  client?: ClientInfo;
  /** Start the agent when none answers (default true; `muse agent status|stop` do not). */
  autoStart?: boolean;
  /** The node binary to start the agent with (default `process.execPath`, with ELECTRON_RUN_AS_NODE=1). */
  execPath?: string;
  /** More environment for a started agent (`MUSE_AGENT_KEEP_MS` from the settings), read at each start. */
  startEnv?: Record<string, string> | (() => Record<string, string>);
  /** How long to wait for a started agent's socket (default 10 s). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Whether a call whose options do not say `background: true` is background work all the same
   * (a window: anything the user did not ask for right now; see src/extension/userGesture.ts).
   * Absent: only the options decide (the CLI's calls are all the user's).
   */
  isBackground?: () => boolean;
  /**
   * Told when the link to a running agent closes (stopped, killed, idle exit): its logins are
   * gone with it, so a window polls again soon to learn whether the cluster needs a sign-in.
   */
  onLost?: () => void;
}

/**
 * The agent could not be reached or used at all (not started, refused the handshake, another
 * protocol version): nothing was sent, so the caller may do the work itself (`AgentBackend`'s fallback).
 */
export class AgentUnavailableError extends MuseError {
  /** The pid of an agent of another protocol version (`stop` signals it). */
  agentPid?: number;
  // MuseError's own instanceof test accepts any MuseError: this one checks its own brand.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [AGENT_UNAVAILABLE]?: unknown })[AGENT_UNAVAILABLE] === true;
  }
}
const AGENT_UNAVAILABLE = Symbol.for('muse-runner.AgentUnavailableError');
Object.defineProperty(AgentUnavailableError.prototype, AGENT_UNAVAILABLE, { value: true });

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
  prompts?: SshPrompts;
}

/** One open, handshaken connection to the agent. */
class AgentLink {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  closed = false;

  constructor(
    private readonly socket: net.Socket,
    readonly agentPid: number,
    decoder: LineDecoder,
    private readonly onClose: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of msgs) this.onMessage(m as AgentMessage);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.onClose();
      for (const p of this.pending.values()) {
        p.reject(new MuseError('network', 'The Muse agent stopped during the operation (it is started again by the next one).'));
      }
      this.pending.clear();
    });
  }

  request(msg: Record<string, unknown>, call: Omit<Pending, 'resolve' | 'reject'> = {}, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new MuseError('network', 'The Muse agent connection closed.', { notSent: true }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.send({ t: 'abort', id });
        // The agent stops the work; the caller is not kept waiting for it.
        this.pending.delete(id);
        reject(cancelledError());
      };
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        ...call,
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ ...msg, id } as ClientMessage);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private send(msg: ClientMessage): void {
    if (!this.socket.destroyed) this.socket.write(frame(msg));
  }

  private onMessage(msg: AgentMessage): void {
    switch (msg.t) {
      case 'result':
      case 'error': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (!p) return;
        if (msg.t === 'result') p.resolve(decodeValue(msg.value));
        else p.reject(errorFromWire(msg.error));
        return;
      }
      case 'progress':
        this.pending.get(msg.id)?.onProgress?.(msg.progress);
        return;
      case 'prompt': {
        const prompts = this.pending.get(msg.call)?.prompts;
        void answerPrompt(prompts, msg.kind, msg.args.map(decodeValue)).then(
          (value) => this.send({ t: 'answer', id: msg.id, value: encodeValue(value) }),
          () => this.send({ t: 'answer', id: msg.id, declined: true }),
        );
        return;
      }
      default:
        return;
    }
  }
}

async function answerPrompt(prompts: SshPrompts | undefined, kind: PromptKind, a: unknown[]): Promise<unknown> {
  if (!prompts) return undefined;
  switch (kind) {
    case 'passphrase':
      return prompts.passphrase(String(a[0]));
    case 'password':
      return prompts.password(String(a[0]), String(a[1]));
    case 'keyboardInteractive':
      return prompts.keyboardInteractive(String(a[0]), String(a[1]), a[2] as { prompt: string; echo: boolean }[]);
    case 'unknownHostKey':
      return prompts.unknownHostKey(String(a[0]), Number(a[1]), String(a[2]), String(a[3]));
    default:
      return undefined;
  }
}

/**
 * True for the errors of a socket nobody listens on: absent, left by a dead agent, or reset by
 * an agent dying (or stopping) as we connect.
 */
function nobodyThere(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}

export class AgentClient {
  private link?: Promise<AgentLink>;
  private current?: AgentLink;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: AgentClientOptions = {}) {
    this.env = opts.env ?? process.env;
  }

  /** The socket this client uses. */
  get socketPath(): string {
    return agentSocketPath(this.env);
  }

  /**
   * Runs `method` of the backend of an SSH profile in the agent. Its options argument (see
   * FORWARDED_METHODS) keeps its signal and progress here; everything else travels.
   */
  async call(profile: SshProfile, method: ForwardedMethod, args: unknown[], prompts?: SshPrompts): Promise<unknown> {
    const optsIndex = FORWARDED_METHODS[method];
    const opts = (args[optsIndex] ?? {}) as OpOptions;
    if (opts.signal?.aborted) throw cancelledError();
    // Decided now, in the caller's context (a window's gesture scope), not once connected.
    const background = opts.background === true || this.opts.isBackground?.() === true;
    const link = await this.connect();
    const wireArgs = args.map((a, i) => {
      if (i !== optsIndex || a === undefined) return encodeValue(a);
      const { signal: _s, onProgress: _p, ...rest } = a as OpOptions;
      return encodeValue(rest);
    });
    return link.request(
      { t: 'call', profile, method, args: wireArgs, background: background || undefined },
      { onProgress: opts.onProgress, prompts },
      opts.signal,
    );
  }

  /** Connects to the agent, starting it when none answers (unless `autoStart` is false); its pid. */
  async ensureRunning(): Promise<number> {
    return (await this.connect()).agentPid;
  }

  /** The running agent's status, or undefined when none runs (never starts one). */
  async status(): Promise<AgentStatus | undefined> {
    const link = await this.connectExisting();
    return link ? ((await link.request({ t: 'status' })) as AgentStatus) : undefined;
  }

  /** Stops the running agent (of any protocol version); undefined when none ran. */
  async stop(): Promise<{ pid: number } | undefined> {
    let link: AgentLink | undefined;
    try {
      link = await this.connectExisting();
    } catch (e) {
      // An agent of another version cannot be asked: it said its pid, and a signal stops it.
      if (!(e instanceof AgentUnavailableError) || e.agentPid === undefined) throw e;
      const pid = e.agentPid;
      process.kill(pid, 'SIGTERM');
      return { pid };
    }
    if (!link) return undefined;
    const r = (await link.request({ t: 'stop' })) as { pid: number };
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (link.closed) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    return r;
  }

  /** Closes this client's connection (the agent goes on for the others). */
  dispose(): void {
    const l = this.link;
    this.link = undefined;
    void l?.then((x) => x.close()).catch(() => undefined);
  }

  private async connectExisting(): Promise<AgentLink | undefined> {
    try {
      return await this.connect(false);
    } catch (e) {
      if (e instanceof MuseError && e.details.notSent && nobodyThere(e.details.cause)) return undefined;
      throw e;
    }
  }

  /** The open link, made on first use and again after the agent went away. */
  private connect(autoStart = this.opts.autoStart !== false): Promise<AgentLink> {
    // The agent went away (killed, stopped, idle): the next call connects (or starts it) again.
    if (this.current?.closed) {
      this.current = undefined;
      this.link = undefined;
    }
    if (!this.link) {
      const p = this.open(autoStart);
      this.link = p;
      void p.then((l) => (this.current = l), () => undefined);
      p.catch(() => {
        if (this.link === p) this.link = undefined;
      });
    }
    return this.link;
  }

  private async open(autoStart: boolean): Promise<AgentLink> {
    const path = this.socketPath;
    try {
      return await this.handshake(path);
    } catch (e) {
      if (!autoStart || !nobodyThere(e)) throw this.unreachable(e);
    }
    try {
      await ensureAgentDir(this.env);
    } catch (e) {
      throw new AgentUnavailableError('io', errorMessage(e), { notSent: true, cause: e });
    }
    const { lock } = require('proper-lockfile') as typeof import('proper-lockfile');
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lock(agentStartLockPath(this.env), { realpath: false, stale: 15_000, retries: { retries: 100, minTimeout: 20, maxTimeout: 200, randomize: true } });
    } catch (e) {
      throw new AgentUnavailableError('io', `Cannot take the Muse agent's start lock: ${errorMessage(e)}.`, { cause: e, notSent: true });
    }
    try {
      // Someone may have started it while we waited for the lock.
      try {
        return await this.handshake(path);
      } catch (e) {
        if (!nobodyThere(e)) throw this.unreachable(e);
        // A socket file nobody answers on: a crashed agent's. Ours replaces it.
        if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' && process.platform !== 'win32') await fs.unlink(path).catch(() => undefined);
      }
      await this.startAgent();
      const deadline = Date.now() + (this.opts.startTimeoutMs ?? 10_000);
      for (;;) {
        try {
          return await this.handshake(path);
        } catch (e) {
          if (!nobodyThere(e) || Date.now() > deadline) throw this.unreachable(e, 'it did not answer after being started');
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    } finally {
      await release().catch(() => undefined);
    }
  }

  private async startAgent(): Promise<void> {
    const script = await agentScriptPath(this.env);
    if (!script) throw new AgentUnavailableError('io', 'The Muse agent program (agent.js) is not installed beside this one.', { notSent: true });
    const execPath = this.opts.execPath ?? process.execPath;
    this.opts.log?.(`starting the Muse agent: ${execPath} ${script}`);
    // ELECTRON_RUN_AS_NODE: in VS Code the extension host's execPath is the editor itself.
    const child = spawn(execPath, [script], {
      detached: true,
      // Not the caller's folder: a long-lived process must not keep a workspace (or a mount) busy.
      cwd: agentDir(this.env),
      stdio: 'ignore',
      windowsHide: true,
      env: { ...this.env, ...(typeof this.opts.startEnv === 'function' ? this.opts.startEnv() : this.opts.startEnv), ELECTRON_RUN_AS_NODE: '1' },
    });
    child.on('error', (e) => this.opts.log?.(`the Muse agent could not start: ${errorMessage(e)}`));
    child.unref();
  }

  private unreachable(e: unknown, why?: string): MuseError {
    if (e instanceof MuseError) return e;
    return new AgentUnavailableError('network', `Cannot reach the Muse agent at ${this.socketPath}${why ? ` (${why})` : ''}: ${errorMessage(e)}.`, { notSent: true, cause: e });
  }

  /** Connects and exchanges hellos; a version mismatch is a `usage` error telling what to do. */
  private handshake(path: string): Promise<AgentLink> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      const decoder = new LineDecoder();
      let settled = false;
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(e);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(Object.assign(new Error('the agent closed the connection during the handshake'), { code: 'ECONNRESET' })));
      socket.once('connect', () => {
        const info = this.opts.client ?? { kind: 'cli', pid: process.pid };
        socket.write(frame({ t: 'hello', version: PROTOCOL_VERSION, client: info, sshAuthSock: this.env.SSH_AUTH_SOCK || undefined }));
      });
      const onData = (chunk: Buffer): void => {
        let msgs: unknown[];
        try {
          msgs = decoder.push(chunk);
        } catch (e) {
          fail(e);
          return;
        }
        const first = msgs[0] as AgentMessage | undefined;
        if (!first) return;
        socket.off('data', onData);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        if (first.t === 'hello' && first.version === PROTOCOL_VERSION) {
          settled = true;
          resolve(new AgentLink(socket, first.pid, decoder, () => this.opts.onLost?.()));
          return;
        }
        const agentVersion = first.t === 'hello' || first.t === 'mismatch' ? first.version : NaN;
        const err = new AgentUnavailableError('usage', versionMismatchText(agentVersion, PROTOCOL_VERSION), { notSent: true });
        if (first.t === 'mismatch' && Number.isInteger(first.pid) && first.pid! > 0) err.agentPid = first.pid;
        fail(err);
      };
      socket.on('data', onData);
    });
  }
}
