/**
 * Transport of the Muse web API client, over undici: one request with its timeouts, the
 * retries its kind allows and their policy (GETs on transient failures with backoff; a POST
 * only when the connection was refused, so nothing was sent), no redirect following (a
 * redirect would drop a POST body), Basic credentials from the API URL, HTTP(S)_PROXY /
 * NO_PROXY honoured, and file GETs straight to disk through `getToFile` when no proxy is in
 * the way. Every failure comes out as a MuseError whose message hides the token.
 */
import { Readable } from 'stream';
import type { Dispatcher } from 'undici';
import type { OpOptions } from '../../backend';
import { MuseError, cancelledError, throwIfAborted } from '../../errors';
import { basicAuth, getToFile, type GetToFileAnswer } from '../../transfer/httpFile';
import { ERROR_BODY_MAX, header, httpError, isFileAnswer, readBounded, scrub, type AnswerContext, type WsResponse } from './wsAnswer';
import { idleFirstPoolFactory } from './idleFirstPool';
import type { BodyParts } from './wsRequestBody';

/** Options of a `WsClient`. */
export interface WsClientOptions {
  /** Base URL of the API (`http://host/api/`); a missing trailing slash is added. */
  baseUrl: string;
  /** Time allowed to connect, to receive the headers, and between two body chunks (default 30 s). */
  timeoutMs?: number;
  /** Attempts of a GET on transient failures, the first included (default 4). */
  attempts?: number;
  /** First retry delay in ms, doubled at each attempt, with jitter (default 300). */
  retryDelayMs?: number;
  /** Largest JSON answer read (default 16 MB). */
  maxJsonBytes?: number;
  /** The undici dispatcher to use (default: an `EnvHttpProxyAgent` owned by this client). */
  dispatcher?: Dispatcher;
  /**
   * File answers written asynchronously (undici and a write stream) instead of by the CLI's raw
   * GET, which writes synchronously in its socket callback for flat memory: the extension host
   * must never block on a slow disk (an NFS home).
   */
  asyncFileWrites?: boolean;
}

/** One request of the API. */
export interface CallSpec {
  method: 'GET' | 'POST';
  /** Path relative to the base URL, already encoded, slashed form. */
  path: string;
  /** Builds the body of one attempt (a retry needs a fresh stream). */
  body?: () => Promise<BodyParts>;
  /** GETs may be retried on transient failures; submits only if the connection was refused. */
  idempotent: boolean;
  /** The token sent in the body, to scrub from messages and to recognise auth errors. */
  token?: string;
  /** "the state of run K", for messages. */
  what: string;
}

/** How a call treats its answer. */
export interface CallFlags {
  /** A 400 of a `jwt/` request is a refused login or token (`auth`), not a server failure. */
  authOnClientError?: boolean;
  /** A GET whose file answer goes straight to this path (see `WsTransport.rawGetsAllowed`). */
  toFile?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_JSON = 16 * 1024 * 1024;
// Download reads: bigger chunks than undici's 64 KB default mean fewer writes to disk.
const BODY_HIGH_WATER_MARK = 1024 * 1024;
const MAX_RETRY_DELAY_MS = 10_000;
const MAX_RETRY_AFTER_MS = 30_000;
/** How long an idle keep-alive connection is kept (when the server does not say less). */
const KEEP_ALIVE_MS = 65_000;
/** A 500 is tried again at most this many times (it may be a bug, not a passing overload). */
const MAX_500_RETRIES = 2;

/** Connection failures after which a GET is tried again. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * A 2xx answer that could not be read as what it must be: not JSON, cut off, empty. The server
 * or a proxy garbled it, and a read asked again usually gets a whole one.
 */
export function isBadAnswer(e: unknown): boolean {
  return e instanceof MuseError && (e.code === 'malformed' || e.code === 'network');
}

/**
 * Whether a request that failed with this connection error code may be sent again: a GET on
 * any transient failure; anything else only when the connection was refused (nothing was sent).
 */
export function retriableFailure(code: string | undefined, idempotent: boolean): boolean {
  return code !== undefined && (idempotent ? TRANSIENT_CODES.has(code) : code === 'ECONNREFUSED');
}

/** Whether a GET answered with this status is tried again (`earlier500s`: 500s already retried). */
export function retriableStatus(status: number, earlier500s: number): boolean {
  return status === 502 || status === 503 || status === 504 || (status === 500 && earlier500s < MAX_500_RETRIES);
}

// undici (~20 MB of RSS once loaded) is required on first use: a download, which does not
// need it (getToFile), stays small.
function undici(): typeof import('undici') {
  return require('undici') as typeof import('undici');
}

/** The code of a connection error (undici wraps the system error in `cause`). */
function errCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; cause?: { code?: unknown } };
  if (typeof err?.code === 'string' && err.code !== 'UND_ERR_SOCKET') return err.code;
  if (typeof err?.cause?.code === 'string') return err.cause.code;
  return typeof err?.code === 'string' ? err.code : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const onAbort = (): void => {
      clearTimeout(t);
      reject(cancelledError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function stripQuery(u: string): string {
  const i = u.search(/[?#]/);
  return i < 0 ? u : u.slice(0, i);
}

/** A `getToFile` answer in the shape `call` and the answer readers read. */
function answerAsResponse(a: GetToFileAnswer): WsResponse {
  const body = Object.assign(Readable.from(a.body && a.body.length > 0 ? [a.body] : []), {
    dump: async (): Promise<void> => undefined,
  });
  return { statusCode: a.statusCode, headers: a.headers, body, written: a.bytes } as unknown as WsResponse;
}

/** Requests to one Muse web API: base URL, dispatcher, timeouts and retries. */
export class WsTransport implements AnswerContext {
  /** The base URL, ending in `/`. */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxJsonBytes: number;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private dispatcherInstance: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
  private readonly asyncFileWrites: boolean;
  private readonly authHeader: Record<string, string>;

  constructor(opts: WsClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    } catch {
      throw new MuseError('usage', `Invalid Muse API URL: ${JSON.stringify(opts.baseUrl)} (expected like http://host/api/).`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new MuseError('usage', `The Muse API URL must start with http:// or https:// (got ${base.protocol}).`);
    }
    base.search = '';
    base.hash = '';
    this.baseUrl = base.href;
    this.asyncFileWrites = opts.asyncFileWrites ?? false;
    // undici drops the user and password of a URL without a word: sent as Basic auth instead
    // (getToFile does the same from the URL).
    this.authHeader = base.username || base.password ? { authorization: basicAuth(base) } : {};
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.retryDelayMs = opts.retryDelayMs ?? 300;
    this.maxJsonBytes = opts.maxJsonBytes ?? DEFAULT_MAX_JSON;
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcherInstance = opts.dispatcher;
  }

  /**
   * The undici dispatcher, made on first use: without a proxy for this URL's scheme, an Agent
   * whose pools reuse an idle keep-alive connection first (idleFirstPool.ts: sequential state
   * polls ride one connection); behind a proxy, undici's EnvHttpProxyAgent (NO_PROXY rules).
   */
  private get dispatcher(): Dispatcher {
    const u = undici();
    const common = {
      connect: { timeout: this.timeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // An idle connection is kept past the poller's slowest interval (5 s, backing off to
      // 60 s), so state polls reuse one: undici's default (4 s, or the server's Keep-Alive hint
      // less 2 s) closed it before every poll. A server that says less is still believed.
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
    };
    this.dispatcherInstance ??= this.proxied()
      ? new u.EnvHttpProxyAgent({
          ...common,
          // Plain http through an http proxy as absolute-URI requests (what curl does);
          // https still goes through CONNECT.
          proxyTunnel: false,
        })
      : new u.Agent({ ...common, factory: idleFirstPoolFactory(u) });
    return this.dispatcherInstance;
  }

  /** Whether a proxy variable applies to this URL's scheme. */
  private proxied(): boolean {
    const vars = new URL(this.baseUrl).protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy', 'HTTP_PROXY'];
    return vars.some((v) => process.env[v]);
  }

  /** Closes the connections of this transport (only those of a dispatcher it made). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcherInstance?.close().catch(() => undefined);
  }

  /** The URL for messages: no credentials, no query other than a download key. */
  safeUrl(path: string): string {
    const u = new URL(path, this.baseUrl);
    u.username = '';
    u.password = '';
    return u.href;
  }

  /** Whether file GETs may bypass undici: our own dispatcher, and no proxy for this URL's scheme. */
  rawGetsAllowed(): boolean {
    if (!this.ownsDispatcher || this.asyncFileWrites) return false;
    // Behind a proxy, undici's EnvHttpProxyAgent (and its NO_PROXY rules) does the request.
    return !this.proxied();
  }

  /**
   * One request, with the retries its kind allows. Resolves with a 2xx answer whose body the
   * caller must consume (or, with `flags.toFile`, whose file is already written: `written`);
   * every other outcome is a MuseError.
   */
  async call(spec: CallSpec, opts: OpOptions, flags: CallFlags = {}): Promise<WsResponse> {
    return this.read(spec, opts, async (res) => res, flags);
  }

  /**
   * One request and the reading of its answer by `take`, with the retries its kind allows: a
   * read (idempotent) whose 2xx answer turns out malformed or cut off (a truncated JSON body, a
   * file shorter than announced) is asked again like a 5xx or a reset, with the same backoff
   * and within the same number of attempts. A submit is never sent again once sent.
   */
  async read<T>(spec: CallSpec, opts: OpOptions, take: (res: WsResponse) => Promise<T>, flags: CallFlags = {}): Promise<T> {
    const url = new URL(spec.path, this.baseUrl).href;
    let status500 = 0;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(opts.signal, spec.what);
      const parts = spec.body ? await spec.body() : undefined;
      let res: WsResponse;
      try {
        res = flags.toFile !== undefined && !parts ? await this.rawGet(url, flags.toFile, spec.what, opts) : await undici().request(url, {
          method: spec.method,
          headers: { accept: 'application/json, */*;q=0.8', 'accept-encoding': 'identity', ...this.authHeader, ...(parts?.headers ?? {}) },
          body: parts?.body,
          dispatcher: this.dispatcher,
          signal: opts.signal,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          highWaterMark: BODY_HIGH_WATER_MARK,
        });
      } catch (e) {
        if (parts && typeof parts.body !== 'string') parts.body.destroy();
        if (opts.signal?.aborted) throw cancelledError(spec.what);
        if (spec.idempotent && attempt < this.attempts && isBadAnswer(e)) {
          await this.backoff(attempt, opts.signal);
          continue;
        }
        if (e instanceof MuseError) throw e;
        if (retriableFailure(errCode(e), spec.idempotent) && attempt < this.attempts) {
          await this.backoff(attempt, opts.signal);
          continue;
        }
        throw this.networkError(e, spec, url);
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        try {
          return await take(res);
        } catch (e) {
          if (opts.signal?.aborted) throw cancelledError(spec.what);
          if (!(spec.idempotent && attempt < this.attempts && isBadAnswer(e))) throw e;
          res.body.destroy();
          await this.backoff(attempt, opts.signal);
          continue;
        }
      }
      if (spec.idempotent && attempt < this.attempts && retriableStatus(status, status500)) {
        if (status === 500) status500++;
        await res.body.dump().catch(() => undefined);
        const retryAfter = Number(header(res.headers, 'retry-after'));
        await this.backoff(attempt, opts.signal, Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) : undefined);
        continue;
      }
      if (status >= 300 && status < 400) {
        await res.body.dump().catch(() => undefined);
        const loc = header(res.headers, 'location');
        throw new MuseError('server', `The Muse server redirected ${spec.what} (HTTP ${status}${loc ? ` to ${stripQuery(loc)}` : ''}); redirects are not followed. Check the API URL (it should end in /api/).`, { status, url: this.safeUrl(spec.path) });
      }
      let text = '';
      try {
        text = (await readBounded(res.body, ERROR_BODY_MAX, spec.what).catch(() => Buffer.alloc(0))).toString('utf8');
      } catch {
        // The status is enough.
      }
      throw httpError(status, text, spec, !!flags.authOnClientError, this.safeUrl(spec.path));
    }
  }

  /**
   * A GET whose file answer goes straight to `dest` (`written`), outside undici: see `getToFile`
   * (flat memory, faster). Other answers come back as a small in-memory body.
   */
  private async rawGet(url: string, dest: string, what: string, opts: OpOptions): Promise<WsResponse> {
    const a = await getToFile(new URL(url), dest, {
      headers: { accept: 'application/json, */*;q=0.8' },
      timeoutMs: this.timeoutMs,
      signal: opts.signal,
      onProgress: opts.onProgress,
      what,
      // The same rule as the undici path: labelled JSON is an answer, labelled files are files.
      isFile: (h) => isFileAnswer(h['content-type'], h['content-disposition']),
      maxBuffer: this.maxJsonBytes,
      maxErrorBody: ERROR_BODY_MAX,
    });
    return answerAsResponse(a);
  }

  /** Waits before attempt `attempt + 1`: doubling from the first delay, with jitter, at least `atLeastMs` (Retry-After). */
  private async backoff(attempt: number, signal?: AbortSignal, atLeastMs?: number): Promise<void> {
    const base = this.retryDelayMs * 2 ** (attempt - 1);
    const ms = Math.max(atLeastMs ?? 0, Math.min(base, MAX_RETRY_DELAY_MS) * (0.5 + Math.random()));
    await sleep(ms, signal);
  }

  private networkError(e: unknown, spec: CallSpec, url: string): MuseError {
    const code = errCode(e);
    const origin = new URL(url).host;
    let why: string;
    switch (code) {
      case 'ECONNREFUSED': why = `the connection to ${origin} was refused`; break;
      case 'ENOTFOUND': case 'EAI_AGAIN': why = `the host ${new URL(url).hostname} was not found`; break;
      case 'UND_ERR_HEADERS_TIMEOUT': why = `the server did not answer within ${Math.round(this.timeoutMs / 1000)} s`; break;
      case 'UND_ERR_BODY_TIMEOUT': why = `the server stopped sending for ${Math.round(this.timeoutMs / 1000)} s`; break;
      case 'UND_ERR_CONNECT_TIMEOUT': why = `connecting to ${origin} timed out`; break;
      default: why = `${scrub((e as Error)?.message ?? String(e), spec.token)}${code ? ` (${code})` : ''}`;
    }
    const maybeSent = !spec.idempotent && code !== 'ECONNREFUSED' && code !== 'ENOTFOUND' && code !== 'UND_ERR_CONNECT_TIMEOUT';
    const tail = maybeSent
      ? ' The request may have reached the server: check your runs before sending it again.'
      : ' Check the network and the API URL, then try again.';
    return new MuseError('network', `Cannot complete ${spec.what}: ${why}.${tail}`, { url: this.safeUrl(spec.path), cause: e, notSent: !spec.idempotent && !maybeSent });
  }
}
