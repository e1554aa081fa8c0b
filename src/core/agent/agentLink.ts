/**
 * One connected socket to the agent: `handshake` connects and exchanges hellos (a version
 * mismatch is an `AgentUnavailableError`), and `AgentLink` then sends calls with ids over
 * newline-delimited JSON, matches each result or error to its call, relays progress and
 * cancellation, and answers the agent's SSH questions with the call's own `SshPrompts`.
 * When the socket closes, every call in flight fails with a retryable `network` error.
 */
import * as net from 'net';
import type { Progress } from '../backend';
import { MuseError, cancelledError } from '../errors';
import type { SshPrompts } from '../sshPrompts';
import { LineDecoder, PROTOCOL_VERSION, decodeValue, encodeValue, errorFromWire, frame, versionMismatchText } from './agentProtocol';
import type { AgentMessage, ClientInfo, ClientMessage, PromptKind } from './agentProtocol';
import { AgentUnavailableError } from './agentUnavailable';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
  prompts?: SshPrompts;
}

/** One open, handshaken connection to the agent. */
export class AgentLink {
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

/** What a client says in its hello, and whom it tells when the link closes (read when used). */
export interface HandshakeOptions {
  client?: ClientInfo;
  onLost?: () => void;
}

/**
 * Connects to the agent's socket at `path` and exchanges hellos (the client's ssh-agent socket
 * is `env.SSH_AUTH_SOCK`); a version mismatch is a `usage` error telling what to do.
 */
export function handshake(path: string, env: NodeJS.ProcessEnv, opts: HandshakeOptions): Promise<AgentLink> {
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
      const info = opts.client ?? { kind: 'cli', pid: process.pid };
      socket.write(frame({ t: 'hello', version: PROTOCOL_VERSION, client: info, sshAuthSock: env.SSH_AUTH_SOCK || undefined }));
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
        resolve(new AgentLink(socket, first.pid, decoder, () => opts.onLost?.()));
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
