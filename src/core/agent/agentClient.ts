/**
 * A window's or CLI call's link to the per-user agent, and its public entry points: `call` runs a
 * backend method in the agent, `ensureRunning`, `status`, `stop`, `dispose`. It connects to the
 * agent's socket and keeps the link (`agentLink.ts`: framing, ids, progress, cancellation, SSH
 * questions answered with the caller's own `SshPrompts`, the handshake); when nobody answers it
 * starts the agent (`agentStart.ts`: under a lock, stale socket replaced). An agent that cannot be
 * used at all is an `AgentUnavailableError` (`agentUnavailable.ts`).
 *
 * If the agent dies, every call in flight fails with a retryable `network` error (a submit in
 * flight becomes `unknown` by `submitRun`'s rule: it is never sent twice), and the next call
 * starts a new agent.
 */
import type { OpOptions } from '../backend';
import { MuseError, cancelledError } from '../errors';
import type { SshProfile } from '../profiles';
import type { SshPrompts } from '../sshPrompts';
import { handshake } from './agentLink';
import type { AgentLink } from './agentLink';
import { agentSocketPath } from './agentPaths';
import { FORWARDED_METHODS, encodeValue } from './agentProtocol';
import type { AgentStatus, ClientInfo, ForwardedMethod } from './agentProtocol';
import { startAgentAndConnect } from './agentStart';
import type { AgentStartOptions } from './agentStart';
import { AgentUnavailableError, nobodyThere, unreachableError } from './agentUnavailable';

/** A client's options; how it starts the agent (`execPath`, `startEnv`, `startTimeoutMs`, `log`) is `AgentStartOptions`. */
export interface AgentClientOptions extends AgentStartOptions {
  env?: NodeJS.ProcessEnv;
  client?: ClientInfo;
  /** Start the agent when none answers (default true; `muse agent status|stop` do not). */
  autoStart?: boolean;
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

  /** Connects to the running agent, or starts one when nobody answers and `autoStart` allows it. */
  private async open(autoStart: boolean): Promise<AgentLink> {
    const path = this.socketPath;
    try {
      return await handshake(path, this.env, this.opts);
    } catch (e) {
      if (!autoStart || !nobodyThere(e)) throw unreachableError(this.socketPath, e);
    }
    return startAgentAndConnect(path, this.env, this.opts, () => handshake(path, this.env, this.opts));
  }
}
