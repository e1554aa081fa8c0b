/**
 * HTTP client of the Muse web API ("ws"), over undici. Every endpoint of the documented API,
 * with: slashed URLs only and no redirect following (a redirect would drop a POST body),
 * the JWT as a request parameter (never in a URL or a message), bounded JSON answers,
 * streamed file answers (through `.part` files), retries with backoff for GETs only, and
 * HTTP(S)_PROXY / NO_PROXY honoured.
 */
import * as fs from 'fs';
import { PassThrough, Readable, Transform } from 'stream';
import type FormDataClass from 'form-data';
import type { Dispatcher } from 'undici';
import type { OpOptions } from '../../backend';
import { isJwtExpired } from '../../jwt';
import { MuseError, cancelledError, throwIfAborted, type MuseErrorCode } from '../../errors';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../../model';
import { basicAuth, getToFile, streamToFile, type GetToFileAnswer } from '../../transfer/httpFile';
import {
  bodyExcerpt,
  classifyResultBody,
  looksLikeAuthError,
  parseErrorBody,
  parseObtainedToken,
  parseRunKey,
  parseSoftwareList,
  parseStateReport,
} from './wsParse';

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
}

/** The parameters of a run, as the ws API names them (camelCase here): a submit less the software, which is in the URL. */
export type WsRunParams = Omit<SubmitRequest, 'software'>;

/** What a cluster submit answered. */
export interface WsSubmitAnswer {
  key: string;
  /** The state URL given by the server. */
  stateUrl?: string;
  message?: string;
  /** The whole answer. */
  body: unknown;
}

type Method = 'GET' | 'POST';

interface BodyParts {
  body: string | Readable;
  headers: Record<string, string>;
}

interface CallSpec {
  method: Method;
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

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_JSON = 16 * 1024 * 1024;
const ERROR_BODY_MAX = 64 * 1024;
/** Input files up to this size are read whole before sending, within the budget below. */
const SMALL_FILE = 256 * 1024;
const SMALL_FILES_BUDGET = 16 * 1024 * 1024;
const COALESCE_BYTES = 64 * 1024;
// Download reads: bigger chunks than undici's 64 KB default mean fewer writes to disk.
const BODY_HIGH_WATER_MARK = 1024 * 1024;

/** Connection failures after which a GET is tried again. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

// undici (~20 MB of RSS once loaded) and form-data (mime-db, ~12 MB) are required on first use:
// a download, which needs neither (getToFile), stays small.
function undici(): typeof import('undici') {
  return require('undici') as typeof import('undici');
}

function newFormData(): FormDataClass {
  const FormData = require('form-data') as typeof FormDataClass;
  return new FormData();
}

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

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a whole body, refusing more than `max` bytes. */
async function readBounded(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      body.destroy();
      throw new MuseError('malformed', `The answer for ${what} is larger than ${Math.round(max / 1048576)} MB; it is not what the Muse API sends.`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Reads from a body until `limit` bytes or its end, then leaves it paused. */
function readUpTo(stream: Readable, limit: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      n += c.length;
      if (n >= limit) {
        stream.pause();
        cleanup();
        resolve({ head: Buffer.concat(chunks), ended: false });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ head: Buffer.concat(chunks), ended: true });
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

function encodeSeg(s: string, what: string): string {
  if (s === '' || s === '.' || s === '..' || /[/\\?#\s]/.test(s)) {
    throw new MuseError('usage', `Invalid ${what}: ${JSON.stringify(s)}.`);
  }
  return encodeURIComponent(s);
}

/** Client of one Muse web API. */
export class WsClient {
  /** The base URL, ending in `/`. */
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly maxJsonBytes: number;
  private dispatcherInstance: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
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

  /** The undici dispatcher, made on first use. */
  private get dispatcher(): Dispatcher {
    this.dispatcherInstance ??= new (undici().EnvHttpProxyAgent)({
      connect: { timeout: this.timeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // Plain http through an http proxy as absolute-URI requests (what curl does);
      // https still goes through CONNECT.
      proxyTunnel: false,
    });
    return this.dispatcherInstance;
  }

  /** Closes the connections of this client. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcherInstance?.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------- endpoints

  /** `POST jwt/obtain`: a token for these credentials (`auth` error when refused). */
  async obtainToken(username: string, password: string, opts: OpOptions = {}): Promise<string> {
    const res = await this.call(
      { method: 'POST', path: 'jwt/obtain/', idempotent: false, what: 'the login', token: password, body: async () => jsonBody({ username, password }) },
      opts,
      { authOnClientError: true },
    );
    const body = await this.readJson(res, 'the login', password);
    const token = parseObtainedToken(body);
    if (!token) throw new MuseError('malformed', 'The login answer holds no token (expected a "token", "access" or "jwt" field).', { url: this.safeUrl('jwt/obtain/') });
    return token;
  }

  /**
   * `POST jwt/verify`: whether the server still accepts this token. A token whose `exp` is
   * past is refused here without asking. Rejects (network, server) when it cannot tell.
   */
  async verifyToken(token: string, opts: OpOptions = {}): Promise<boolean> {
    if (!token || isJwtExpired(token)) return false;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.call(
        // `jwt` is the documented name; `token` is what DRF-JWT servers read.
        { method: 'POST', path: 'jwt/verify/', idempotent: false, what: 'the token check', token, body: async () => jsonBody({ jwt: token, token }) },
        opts,
        { authOnClientError: true },
      );
    } catch (e) {
      if (e instanceof MuseError && (e.code === 'auth' || (e.details.status !== undefined && e.details.status >= 400 && e.details.status < 500 && e.code !== 'notFound'))) return false;
      throw e;
    }
    const body = await this.readJson(res, 'the token check', token, true);
    if (body && typeof body === 'object' && (body as { valid?: unknown }).valid === false) return false;
    return true;
  }

  /** `GET software/list/`. */
  async listSoftware(opts: OpOptions = {}): Promise<SoftwareInfo[]> {
    const res = await this.call({ method: 'GET', path: 'software/list/', idempotent: true, what: 'the software list' }, opts);
    const body = await this.readJson(res, 'the software list');
    const list = parseSoftwareList(body);
    if (!list) throw new MuseError('malformed', 'The software list answer is not a list of software.', { url: this.safeUrl('software/list/') });
    return list;
  }

  /** `POST software/muse/run/{name}/`: submits a cluster run; resolves with its key. Never retried once sent. */
  async submit(name: string, params: WsRunParams, token: string, opts: OpOptions = {}): Promise<WsSubmitAnswer> {
    this.checkToken(token);
    const path = `software/muse/run/${encodeSeg(name, 'software name')}/`;
    const res = await this.call(
      { method: 'POST', path, idempotent: false, token, what: `the submission of ${name}`, body: () => this.runBody(params, token, opts) },
      opts,
      { authOnClientError: true },
    );
    const body = await this.readJson(res, `the submission of ${name}`, token);
    const key = parseRunKey(body);
    if (!key) {
      throw new MuseError('malformed', `The server accepted the submission of ${name} but its answer holds no run key: ${bodyExcerpt(JSON.stringify(body))}`, { url: this.safeUrl(path) });
    }
    const b = body as { url?: unknown; msg?: unknown };
    return {
      key,
      stateUrl: typeof b.url === 'string' ? b.url : undefined,
      message: typeof b.msg === 'string' ? b.msg : undefined,
      body,
    };
  }

  /** `GET software/muse/state/{name}/{key}/`. */
  async state(name: string, key: string, opts: OpOptions = {}): Promise<StateReport> {
    const path = `software/muse/state/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    const what = `the state of run ${key}`;
    const res = await this.call({ method: 'GET', path, idempotent: true, what }, opts);
    const body = await this.readJson(res, what);
    return parseStateReport(body);
  }

  /**
   * `GET software/muse/run/{name}/{key}/`: the results. Stdout comes back as text, files are
   * streamed to `destFile`, a `todownload=yes` run gives its download key.
   */
  async results(name: string, key: string, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const path = `software/muse/run/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    const what = `the results of run ${key}`;
    const res = await this.call({ method: 'GET', path, idempotent: true, what }, opts);
    return this.resultOutcome(res, destFile, what, path, opts);
  }

  /** `POST software/run/{name}/`: runs on the service host and answers with the result. Never retried once sent. */
  async runSync(name: string, params: WsRunParams, token: string, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    this.checkToken(token);
    const path = `software/run/${encodeSeg(name, 'software name')}/`;
    const what = `the run of ${name}`;
    const res = await this.call(
      { method: 'POST', path, idempotent: false, token, what, body: () => this.runBody(params, token, opts) },
      opts,
      { authOnClientError: true },
    );
    return this.resultOutcome(res, destFile, what, path, opts, token);
  }

  /** `GET software/muse/content/{name}/{key}/`: the run folder as a zip, streamed to `destFile`. */
  async content(name: string, key: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const path = `software/muse/content/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    return this.fileOnly(path, `the content of run ${key}`, destFile, opts);
  }

  /** `GET download/?key=K`: a result kept for later, streamed to `destFile`. */
  async download(downloadKey: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    if (!downloadKey || /[\s&#]/.test(downloadKey)) throw new MuseError('usage', `Invalid download key: ${JSON.stringify(downloadKey)}.`);
    return this.fileOnly(`download/?key=${encodeURIComponent(downloadKey)}`, `the download ${downloadKey}`, destFile, opts);
  }

  // ---------------------------------------------------------------- bodies

  private checkToken(token: string): void {
    if (!token) throw new MuseError('auth', 'Not signed in to the Muse API: sign in first.');
    if (isJwtExpired(token)) throw new MuseError('auth', 'Your Muse API token has expired: sign in again.');
  }

  /** JSON without files, multipart (files streamed from disk, known length) with them. */
  private async runBody(p: WsRunParams, token: string, opts: OpOptions): Promise<BodyParts> {
    const files = p.files ?? [];
    const fields: Record<string, string | string[]> = {
      cmd: p.cmd ?? '',
      cmd_option: p.cmdOption ?? '',
      returned_type: p.returnedType ?? 'stdout',
      todownload: p.toDownload ? 'yes' : 'no',
    };
    if (p.sbatchList && p.sbatchList.length > 0) fields.sbatch_list = p.sbatchList;
    if (p.moduleList && p.moduleList.length > 0) fields.module_list = p.moduleList;
    if (files.length === 0) {
      if (p.filesOrder && p.filesOrder.length > 0) fields.files_order = JSON.stringify(p.filesOrder);
      return jsonBody({ ...fields, jwt: token });
    }
    for (const f of files) {
      if (!f.name || /[/\\]/.test(f.name) || f.name === '.' || f.name === '..') {
        throw new MuseError('usage', `Invalid input file name for the Muse API: ${JSON.stringify(f.name)} (a plain file name is needed).`);
      }
    }
    // Small files are read whole, synchronously, in short slices between which the event loop
    // runs: 100 async open/stat/read/close rounds through the thread pool cost 5x more than
    // this. Big files are streamed from disk when their turn comes.
    let buffered = 0;
    let slice = 0;
    const contents: { size: number; data?: Buffer }[] = [];
    for (const f of files) {
      if (slice >= 1024 * 1024) {
        slice = 0;
        await new Promise((r) => setImmediate(r));
        throwIfAborted(opts.signal, 'The submission');
      }
      try {
        const st = fs.statSync(f.path);
        if (!st.isFile()) throw new MuseError('usage', `Input ${f.path} is not a file.`);
        if (st.size > SMALL_FILE || buffered + st.size > SMALL_FILES_BUDGET) {
          contents.push({ size: st.size });
          continue;
        }
        const data = fs.readFileSync(f.path);
        buffered += data.length;
        slice += data.length + 4096;
        contents.push({ size: data.length, data });
      } catch (e) {
        if (e instanceof MuseError) throw e;
        throw new MuseError('io', `Cannot read input file ${f.path}: ${(e as Error).message}`, { cause: e });
      }
    }
    const form = newFormData();
    let current: fs.ReadStream | undefined;
    for (const [k, v] of Object.entries(fields)) {
      // Lists travel as JSON strings inside multipart, like files_order.
      form.append(k, Array.isArray(v) ? JSON.stringify(v) : v);
    }
    form.append('files_order', JSON.stringify(p.filesOrder && p.filesOrder.length > 0 ? p.filesOrder : files.map((f) => f.name)));
    form.append('jwt', token);
    files.forEach((f, i) => {
      const c = contents[i];
      if (c.data) {
        form.append('file', c.data, { filename: f.name, contentType: 'application/octet-stream' });
        return;
      }
      // A function opens the file only when its turn comes (no fd per file held open meanwhile).
      const open = (next: (s: Readable) => void): void => {
        current = fs.createReadStream(f.path, { highWaterMark: 256 * 1024 });
        next(current);
      };
      form.append('file', open, { filename: f.name, knownLength: c.size, contentType: 'application/octet-stream' });
    });
    const total = form.getLengthSync();
    let done = 0;
    // form-data emits three small pieces per part: coalesced into 64 KB chunks, the body goes
    // out in a few large socket writes instead of hundreds of small ones. Progress is counted
    // as undici pulls the bytes, so it follows the socket, not the disk.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const emit = (t: Transform): void => {
      const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      done += chunk.length;
      opts.onProgress?.({ phase: 'upload', done, total });
      t.push(chunk);
    };
    const out = new Transform({
      highWaterMark: 256 * 1024,
      transform(chunk: Buffer | string, _enc, cb) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= COALESCE_BYTES) emit(this);
        cb();
      },
      flush(cb) {
        if (pendingBytes > 0) emit(this);
        cb();
      },
    });
    form.on('error', (e: Error) => out.destroy(new MuseError('io', `Cannot read an input file: ${e.message}`, { cause: e })));
    // A body dropped half-way (abort, failed request) must not keep an input file open.
    out.on('close', () => {
      if (!out.writableFinished) current?.destroy();
    });
    form.pipe(out);
    return { body: out, headers: { ...form.getHeaders(), 'content-length': String(total) } };
  }

  // ---------------------------------------------------------------- transport

  private url(path: string): string {
    return new URL(path, this.baseUrl).href;
  }

  /** The URL for messages: no credentials, no query other than a download key. */
  private safeUrl(path: string): string {
    const u = new URL(path, this.baseUrl);
    u.username = '';
    u.password = '';
    return u.href;
  }

  /**
   * One request, with the retries its kind allows. Resolves with a 2xx answer whose body the
   * caller must consume; every other outcome is a MuseError.
   */
  private async call(spec: CallSpec, opts: OpOptions, flags: { authOnClientError?: boolean; toFile?: string } = {}): Promise<Dispatcher.ResponseData & { written?: number }> {
    const url = this.url(spec.path);
    let status500 = 0;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(opts.signal, spec.what);
      const parts = spec.body ? await spec.body() : undefined;
      let res: Dispatcher.ResponseData & { written?: number };
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
        if (e instanceof MuseError) throw e;
        const code = errCode(e);
        // A refused connection sent nothing: even a submit may be tried again.
        const retriable = code !== undefined && (spec.idempotent ? TRANSIENT_CODES.has(code) : code === 'ECONNREFUSED');
        if (retriable && attempt < this.attempts) {
          await this.backoff(attempt, opts.signal);
          continue;
        }
        throw this.networkError(e, spec, url);
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) return res;
      if (spec.idempotent && attempt < this.attempts && (status === 502 || status === 503 || status === 504 || (status === 500 && status500++ < 2))) {
        await res.body.dump().catch(() => undefined);
        const retryAfter = Number(header(res.headers, 'retry-after'));
        await this.backoff(attempt, opts.signal, Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30_000) : undefined);
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
      throw this.httpError(status, text, spec, !!flags.authOnClientError);
    }
  }

  /**
   * A GET whose file answer goes straight to `dest` (`written`), outside undici: see `getToFile`
   * (flat memory, faster). Other answers come back as a small in-memory body.
   */
  private async rawGet(url: string, dest: string, what: string, opts: OpOptions): Promise<Dispatcher.ResponseData & { written?: number }> {
    const a = await getToFile(new URL(url), dest, {
      headers: { accept: 'application/json, */*;q=0.8' },
      timeoutMs: this.timeoutMs,
      signal: opts.signal,
      onProgress: opts.onProgress,
      what,
      // The same rule as resultOutcome: labelled JSON is an answer, labelled files are files.
      isFile: (h) => {
        const ct = (h['content-type'] ?? '').toLowerCase();
        const attachment = /attachment/i.test(h['content-disposition'] ?? '');
        return attachment || (!ct.includes('json') && /zip|octet-stream|text\/plain/.test(ct));
      },
      maxBuffer: this.maxJsonBytes,
      maxErrorBody: ERROR_BODY_MAX,
    });
    return answerAsResponse(a);
  }

  /** Whether file GETs may bypass undici: our own dispatcher, and no proxy for this URL's scheme. */
  private rawGetsAllowed(): boolean {
    if (!this.ownsDispatcher) return false;
    const u = new URL(this.baseUrl);
    const vars = u.protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy', 'HTTP_PROXY'];
    // Behind a proxy, undici's EnvHttpProxyAgent (and its NO_PROXY rules) does the request.
    return !vars.some((v) => process.env[v]);
  }

  private async backoff(attempt: number, signal?: AbortSignal, atLeastMs?: number): Promise<void> {
    const base = this.retryDelayMs * 2 ** (attempt - 1);
    const ms = Math.max(atLeastMs ?? 0, Math.min(base, 10_000) * (0.5 + Math.random()));
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

  private httpError(status: number | undefined, text: string, spec: { path: string; what: string; token?: string }, authOnClientError: boolean): MuseError {
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const err = parseErrorBody(parsed);
    const serverText = scrub(err ? err.error : parsed !== undefined ? bodyExcerpt(JSON.stringify(parsed)) : bodyExcerpt(text), spec.token);
    let code: MuseErrorCode = 'server';
    if (status === 401 || status === 403) code = 'auth';
    else if (status === 404) code = 'notFound';
    else if (spec.token && (looksLikeAuthError(serverText) || (authOnClientError && status === 400 && spec.path.startsWith('jwt/')))) code = 'auth';
    const prefix =
      code === 'auth'
        ? spec.path.startsWith('jwt/obtain') ? 'Login refused' : 'The Muse API refused your token (sign in again)'
        : code === 'notFound' ? `Not found: ${spec.what}` : `The Muse server failed ${spec.what}`;
    const st = status !== undefined ? ` (HTTP ${status})` : '';
    return new MuseError(code, `${prefix}${st}: ${serverText}`, {
      status,
      serverError: err ? scrub(err.error, spec.token) : serverText,
      more: err?.more,
      type: err?.type,
      url: this.safeUrl(spec.path),
    });
  }

  /** Reads a bounded JSON answer; a body with `error` or an unparsable body is a MuseError. */
  private async readJson(res: Dispatcher.ResponseData, what: string, token?: string, emptyOk = false): Promise<unknown> {
    let buf: Buffer;
    try {
      buf = await readBounded(res.body, this.maxJsonBytes, what);
    } catch (e) {
      if (e instanceof MuseError) throw e;
      throw new MuseError('network', `The answer for ${what} was cut off: ${(e as Error).message}. Try again.`, { cause: e });
    }
    return this.parseJsonText(buf.toString('utf8'), res.statusCode, what, token, emptyOk);
  }

  private parseJsonText(text: string, status: number, what: string, token?: string, emptyOk = false): unknown {
    if (text.trim() === '' && emptyOk) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MuseError('malformed', `The Muse server answered ${what} with something that is not JSON (HTTP ${status}): ${scrub(bodyExcerpt(text), token)}`, { status });
    }
    if (parseErrorBody(body)) throw this.httpError(status, text, { path: '', what, token }, false);
    return body;
  }

  /** Reads a results-like answer: JSON (stdout, download key, error) or file bytes. */
  private async resultOutcome(res: Dispatcher.ResponseData, destFile: string, what: string, path: string, opts: OpOptions, token?: string): Promise<ResultOutcome> {
    // undici does not decode compressed bodies (none is asked for): refused, as getToFile does,
    // rather than written out as a corrupt file.
    const enc = (header(res.headers, 'content-encoding') ?? '').toLowerCase().split(',').map((c) => c.trim()).filter((c) => c !== '' && c !== 'identity');
    if (enc.length > 0) {
      drop(res.body);
      throw new MuseError('malformed', `The Muse server sent ${what} compressed (${enc.join(', ')}) although it was asked not to; nothing was written. Check the server or proxy configuration.`, { status: res.statusCode, url: this.safeUrl(path) });
    }
    const ct = (header(res.headers, 'content-type') ?? '').toLowerCase();
    const attachment = /attachment/i.test(header(res.headers, 'content-disposition') ?? '');
    const len = Number(header(res.headers, 'content-length'));
    const expected = Number.isFinite(len) && header(res.headers, 'content-length') !== undefined ? len : undefined;
    if (ct.includes('json') && !attachment) {
      return this.jsonOutcome(await this.readJson(res, what, token), what, path);
    }
    const fileType = attachment || /zip|octet-stream|text\/plain/.test(ct);
    if (fileType) {
      const bytes = await streamToFile(res.body, destFile, { expectedBytes: expected, signal: opts.signal, onProgress: opts.onProgress, what });
      return { kind: 'file', path: destFile, bytes };
    }
    // No telling header (text/html, none): look at the first bytes. JSON-looking bodies are
    // read (bounded); if they are no API answer, they are written out as a file after all.
    let sniff: { head: Buffer; ended: boolean };
    try {
      sniff = await readUpTo(res.body, 64 * 1024);
    } catch (e) {
      if (opts.signal?.aborted) throw cancelledError(what);
      throw new MuseError('network', `The answer for ${what} was cut off: ${(e as Error).message}. Try again.`, { cause: e });
    }
    let head = sniff.head;
    const first = head.toString('latin1', 0, Math.min(head.length, 64)).trimStart();
    if (first.startsWith('{') && !head.subarray(0, 2).equals(Buffer.from('PK'))) {
      if (!sniff.ended) {
        const more = await readUpTo(res.body, this.maxJsonBytes).catch((e: Error) => {
          throw new MuseError('network', `The answer for ${what} was cut off: ${e.message}. Try again.`, { cause: e });
        });
        head = Buffer.concat([head, more.head]);
        sniff = { head, ended: more.ended };
      }
      if (sniff.ended) {
        let body: unknown;
        try {
          body = JSON.parse(head.toString('utf8'));
        } catch {
          body = undefined;
        }
        if (body !== undefined && classifyResultBody(body).kind !== 'other') {
          return this.jsonOutcome(this.parseJsonText(head.toString('utf8'), res.statusCode, what, token), what, path);
        }
      }
    } else if (sniff.ended && head.length === 0) {
      throw new MuseError('malformed', `The Muse server answered ${what} with an empty body.`, { status: res.statusCode, url: this.safeUrl(path) });
    } else if (/^<(!doctype|html)/i.test(first)) {
      if (!sniff.ended) drop(res.body);
      throw new MuseError('malformed', `The Muse server answered ${what} with a web page instead of a result (HTTP ${res.statusCode}): ${scrub(bodyExcerpt(head.toString('utf8')), token)}`, { status: res.statusCode, url: this.safeUrl(path) });
    }
    const bytes = await streamToFile(sniff.ended ? endedStream() : res.body, destFile, {
      expectedBytes: expected,
      signal: opts.signal,
      onProgress: opts.onProgress,
      what,
      head,
    });
    if (sniff.ended) drop(res.body);
    return { kind: 'file', path: destFile, bytes };
  }

  private jsonOutcome(body: unknown, what: string, path: string): ResultOutcome {
    const c = classifyResultBody(body);
    switch (c.kind) {
      case 'stdout':
        return { kind: 'stdout', text: c.text };
      case 'downloadKey':
        return { kind: 'downloadKey', key: c.key, url: c.url, message: c.message };
      case 'report': {
        const st = c.report.state;
        if (st === 'failed' || st === 'cancelled') {
          throw new MuseError('runFailed', `The run ended ${st === 'failed' ? 'in failure' : 'cancelled'} (${c.report.raw.slurmState ?? c.report.raw.latestCr ?? c.report.raw.cr}); its content zip shows why.`, { url: this.safeUrl(path) });
        }
        if (st === 'waiting') throw new MuseError('notReady', `The run is not finished yet: ask for ${what} once it has ended.`, { url: this.safeUrl(path) });
        throw new MuseError('malformed', `The Muse server answered ${what} with a report but no result (cr=${c.report.raw.cr ?? 'none'}).`, { url: this.safeUrl(path) });
      }
      case 'error':
        throw new MuseError('server', `The Muse server failed ${what}: ${c.error}`, { serverError: c.error, more: c.more, type: c.type, url: this.safeUrl(path) });
      default:
        throw new MuseError('malformed', `The Muse server answered ${what} with JSON that holds no result: ${bodyExcerpt(JSON.stringify(body))}`, { url: this.safeUrl(path) });
    }
  }

  /** An answer that must be file bytes (content zip, download): JSON there is an error. */
  private async fileOnly(path: string, what: string, destFile: string, opts: OpOptions): Promise<{ path: string; bytes: number }> {
    const res = await this.call({ method: 'GET', path, idempotent: true, what }, opts, this.rawGetsAllowed() ? { toFile: destFile } : {});
    if (res.written !== undefined) return { path: destFile, bytes: res.written };
    const out = await this.resultOutcome(res, destFile, what, path, opts);
    if (out.kind === 'file') return { path: out.path, bytes: out.bytes };
    throw new MuseError('malformed', `The Muse server answered ${what} with ${out.kind === 'stdout' ? 'a stdout text' : 'another download key'} instead of a file.`, { url: this.safeUrl(path) });
  }
}

function jsonBody(o: unknown): BodyParts {
  const s = JSON.stringify(o);
  return { body: s, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(s)) } };
}

/** Removes any occurrence of the secret from a text meant for a user or a log. */
function scrub(text: string, secret?: string): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('<hidden>');
}

function stripQuery(u: string): string {
  const i = u.search(/[?#]/);
  return i < 0 ? u : u.slice(0, i);
}

/** A `getToFile` answer in the shape `call` and `resultOutcome` read. */
function answerAsResponse(a: GetToFileAnswer): Dispatcher.ResponseData & { written?: number } {
  const body = Object.assign(Readable.from(a.body && a.body.length > 0 ? [a.body] : []), {
    dump: async (): Promise<void> => undefined,
  });
  return { statusCode: a.statusCode, headers: a.headers, body, written: a.bytes } as unknown as Dispatcher.ResponseData & { written?: number };
}

/**
 * Drops the rest of a body. undici's body emits an AbortError when destroyed: with no listener
 * left, that would be an uncaught exception.
 */
function drop(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** An already-ended stream, when the whole body was read while sniffing. */
function endedStream(): Readable {
  const p = new PassThrough();
  p.end();
  return p;
}
