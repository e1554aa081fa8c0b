/**
 * What the per-user agent and its clients (windows, CLI calls) say to each other over the
 * agent's socket: one JSON message per line (newline-delimited, each line at most
 * `MAX_LINE_BYTES`), a handshake carrying `PROTOCOL_VERSION`, then calls with ids. Values that
 * JSON cannot carry (Buffers, Maps, Errors, Dates) are tagged by `encodeValue`/`decodeValue`.
 *
 * Raise `PROTOCOL_VERSION` whenever a message changes meaning: a client and an agent of
 * different versions refuse each other with a clear message instead of misreading.
 */
import type { Progress } from '../backend';
import { MuseError } from '../errors';
import type { MuseErrorCode } from '../errors';
import type { SshProfile } from '../profiles';

/** The version both sides send in the handshake; a different one is refused. */
export const PROTOCOL_VERSION = 1;

/** The longest line either side accepts (a follow answer carries base64 output). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The Backend methods a client may call through the agent, each with the index of its options
 * argument (`OpOptions`: its signal and progress stay with the client, the rest travels). The
 * agent calls nothing else (its socket is no way to reach arbitrary methods). A method the Slurm
 * backend gains (sweeps) is added here once: the unit test `agentProtocol.test.ts` fails until it is.
 */
export const FORWARDED_METHODS = {
  submit: 1,
  states: 1,
  results: 2,
  content: 2,
  output: 3,
  cancel: 1,
  tail: 3,
  follow: 1,
  listSoftware: 0,
  submitSweep: 2,
  cancelSweep: 1,
} as const satisfies Record<string, number>;
export type ForwardedMethod = keyof typeof FORWARDED_METHODS;

/** True when `m` is one of the forwarded methods. */
export function isForwarded(m: string): m is ForwardedMethod {
  return Object.prototype.hasOwnProperty.call(FORWARDED_METHODS, m);
}

/** What kind of client this is (for `muse agent status`). */
export interface ClientInfo {
  kind: 'cli' | 'window' | 'test';
  pid: number;
}

/** The kinds of question the SSH layer asks (the methods of `SshPrompts`). */
export type PromptKind = 'passphrase' | 'password' | 'keyboardInteractive' | 'unknownHostKey';

/** One connection held by the agent, for `muse agent status`. */
export interface HeldConnection {
  target: string;
  profiles: string[];
  connected: boolean;
  /** Epoch ms of the last login on it, when logged in. */
  since?: number;
  logins: number;
  commands: number;
}

/** What `status` answers. */
export interface AgentStatus {
  pid: number;
  version: number;
  startedAt: number;
  socket: string;
  clients: Array<ClientInfo & { connectedAt: number }>;
  connections: HeldConnection[];
}

/** Client -> agent. */
export type ClientMessage =
  | {
      t: 'hello';
      version: number;
      client: ClientInfo;
      /** The client's `SSH_AUTH_SOCK` (optional, older clients send none): the agent's logins use the current one. */
      sshAuthSock?: string;
    }
  | {
      t: 'call';
      id: number;
      profile: SshProfile;
      method: string;
      args: unknown[];
      /** A background call (a poll) never prompts: it fails with `needsSignIn` instead. */
      background?: boolean;
    }
  | { t: 'abort'; id: number }
  | { t: 'answer'; id: number; value?: unknown; declined?: boolean }
  | { t: 'status'; id: number }
  | { t: 'stop'; id: number };

/** Agent -> client. */
export type AgentMessage =
  | { t: 'hello'; version: number; pid: number }
  /**
   * Another protocol version: the client is refused. This line's shape never changes across
   * versions (nor `hello`'s), and it carries the agent's pid so that `muse agent stop` of any
   * version can stop it (SIGTERM; the socket's folder is the user's alone).
   */
  | { t: 'mismatch'; version: number; message: string; pid?: number }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; error: WireError }
  | { t: 'progress'; id: number; progress: Progress }
  | { t: 'prompt'; id: number; call: number; kind: PromptKind; args: unknown[] };

/** An error as it travels. */
export interface WireError {
  message: string;
  code?: MuseErrorCode;
  details?: Record<string, unknown>;
}

/** The error a client of another protocol version is told (and the extension shows once). */
export function versionMismatchText(agentVersion: number, clientVersion: number): string {
  const older = clientVersion < agentVersion;
  return (
    `The Muse agent running speaks protocol ${agentVersion}, this ${older ? 'older' : 'newer'} client speaks ${clientVersion}: ` +
    (older
      ? 'reload the VS Code window (Developer: Reload Window) or update the muse CLI.'
      : 'stop the old agent with "muse agent stop" (it also exits by itself once idle), then try again.')
  );
}

/** One message as a line. */
export function frame(msg: ClientMessage | AgentMessage): string {
  return JSON.stringify(msg) + '\n';
}

/**
 * Cuts a byte stream into messages: keeps a partial line until its newline arrives, and refuses a
 * line longer than `maxBytes` (the caller then closes the connection: the stream is not trusted).
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** The whole messages completed by `chunk`, parsed. Throws a `malformed` MuseError on an oversize or unparsable line. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      this.check(piece.length);
      this.parts.push(piece);
      const line = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new MuseError('malformed', 'The Muse agent connection sent a line that is not JSON.');
      }
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.check(rest.length);
      this.parts.push(Buffer.from(rest));
    }
    return out;
  }

  private check(more: number): void {
    this.size += more;
    if (this.size > this.maxBytes) {
      this.parts = [];
      this.size = 0;
      throw new MuseError('malformed', `A message on the Muse agent connection exceeds ${this.maxBytes} bytes.`);
    }
  }
}

/** An error as it travels: MuseErrors keep code and details (not the cause: it may not be JSON). */
export function errorToWire(e: unknown): WireError {
  if (e instanceof MuseError) {
    const { cause: _cause, ...details } = e.details;
    return { message: e.message, code: e.code, details: details as Record<string, unknown> };
  }
  return { message: e instanceof Error ? e.message : String(e) };
}

/** The error back from the wire: a MuseError when it was one. */
export function errorFromWire(w: WireError): Error {
  if (w.code) return new MuseError(w.code, w.message, (w.details ?? {}) as MuseError['details']);
  return new Error(w.message);
}

const TAG = '$muse';

/**
 * A value ready for JSON: Buffers as base64, Maps as entry lists, Errors as `WireError`, Dates as
 * ISO text, functions and undefined left out. `decodeValue` undoes it.
 */
export function encodeValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'function' ? undefined : v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { [TAG]: 'buf', b64: Buffer.from(v as Uint8Array).toString('base64') };
  if (v instanceof Map) return { [TAG]: 'map', entries: [...v.entries()].map(([k, x]) => [encodeValue(k), encodeValue(x)]) };
  if (v instanceof Error) return { [TAG]: 'err', error: errorToWire(v) };
  if (v instanceof Date) return { [TAG]: 'date', iso: v.toISOString() };
  if (Array.isArray(v)) return v.map(encodeValue);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || typeof x === 'function') continue;
    out[k] = encodeValue(x);
  }
  return out;
}

/** The value `encodeValue` was given (Buffers, Maps, Errors and Dates made again). */
export function decodeValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(decodeValue);
  const o = v as Record<string, unknown>;
  switch (o[TAG]) {
    case 'buf':
      return Buffer.from(String(o.b64), 'base64');
    case 'map':
      return new Map((o.entries as unknown[][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    case 'err':
      return errorFromWire(o.error as WireError);
    case 'date':
      return new Date(String(o.iso));
    default: {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) out[k] = decodeValue(x);
      return out;
    }
  }
}
