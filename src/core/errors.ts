/**
 * Typed errors of the core. Every failure a user can meet is one of these, with a message
 * fit to show as it is; the CLI maps `code` to its exit code, the extension to its dialogs.
 */

export type MuseErrorCode =
  /** Bad arguments or configuration given by the user. */
  | 'usage'
  /** The token is missing, invalid or expired, or the login was refused. */
  | 'auth'
  /** The server answered with an error body or a non-2xx status. */
  | 'server'
  /** The server answered something we cannot read. */
  | 'malformed'
  /** The server (or host) could not be reached, or the connection dropped. */
  | 'network'
  /** The thing asked for does not exist (unknown key, unknown run). */
  | 'notFound'
  /** The operation was cancelled by the user. */
  | 'cancelled'
  /** The run ended, but not well. */
  | 'runFailed'
  /** The operation is not offered by this backend. */
  | 'unsupported'
  /** The run is not finished yet (results asked too early). */
  | 'notReady'
  /**
   * Refused on purpose for safety (hostile zip entry, host key mismatch, a symlink in the way);
   * a bad name or option the user typed is `usage`.
   */
  | 'refused'
  /** A local file system problem. */
  | 'io';

export interface MuseErrorDetails {
  /** HTTP status, when an HTTP answer was read. */
  status?: number;
  /** The server's `error`, `more` and `type` fields, when it sent them. */
  serverError?: string;
  more?: unknown[];
  type?: string;
  /**
   * Set when the request certainly did not reach the server (connection refused, host not found,
   * a submit that failed before its job was handed to Slurm): nothing can have been created.
   */
  notSent?: boolean;
  /**
   * A background operation (a poll) needed an SSH login that asks the user something: it did not
   * ask. The extension shows "needs a sign-in" in the tree with an action that asks in the foreground.
   */
  needsSignIn?: boolean;
  /** The URL asked (never with the token in it). */
  url?: string;
  cause?: unknown;
}

/**
 * Brands MuseErrors so `instanceof MuseError` holds across copies of this module: the extension
 * loads its backends from a second bundle (dist/core.js, kept for activation time: see
 * esbuild.js) that has its own copy.
 */
const MUSE_ERROR_BRAND = Symbol.for('muse-runner.MuseError');

export class MuseError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [MUSE_ERROR_BRAND]?: unknown })[MUSE_ERROR_BRAND] === true;
  }
  readonly code: MuseErrorCode;
  readonly details: MuseErrorDetails;
  constructor(code: MuseErrorCode, message: string, details: MuseErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'MuseError';
    this.code = code;
    this.details = details;
  }
}
Object.defineProperty(MuseError.prototype, MUSE_ERROR_BRAND, { value: true });

export function isMuseError(e: unknown, code?: MuseErrorCode): e is MuseError {
  return e instanceof MuseError && (code === undefined || e.code === code);
}

/** The error to throw when an AbortSignal fired. */
export function cancelledError(what = 'Operation'): MuseError {
  return new MuseError('cancelled', `${what} cancelled.`);
}

/** Throws a `cancelled` MuseError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw cancelledError(what);
}

/** A short text for any thrown value, for logs and messages. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
