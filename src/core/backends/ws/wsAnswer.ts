/**
 * Reading the Muse web API's answers: bounded JSON, error bodies turned into MuseErrors, and
 * answer sniffing for results (is this body a file, an API answer in JSON, an error page?).
 * A file answer is streamed to disk (`streamToFile`); nothing else is held beyond its bound.
 */
import { PassThrough, type Readable } from 'stream';
import type { Dispatcher } from 'undici';
import type { OpOptions } from '../../backend';
import { MuseError, cancelledError, type MuseErrorCode } from '../../errors';
import type { ResultOutcome } from '../../model';
import { streamToFile } from '../../transfer/streamToFile';
import { bodyExcerpt, classifyResultBody, looksLikeAuthError, parseErrorBody } from './wsParse';

/** What answer readers need of the client: the JSON bound and message URLs. */
export interface AnswerContext {
  /** Largest JSON answer read. */
  readonly maxJsonBytes: number;
  /** The URL of `path` for messages: no credentials. */
  safeUrl(path: string): string;
}

/** A request as messages name it: its path, "the state of run K", and the token to hide. */
export interface RequestLabel {
  path: string;
  what: string;
  token?: string;
}

/** An undici answer, or a `getToFile` one whose file was already written (`written` bytes). */
export type WsResponse = Dispatcher.ResponseData & { written?: number };

/** Non-2xx bodies are read up to this size, for the message. */
export const ERROR_BODY_MAX = 64 * 1024;
const SNIFF_BYTES = 64 * 1024;

/** One header of an answer (the first, when repeated). */
export function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Whether an answer's headers label it a file: an attachment, or a file type (zip,
 * octet-stream, plain text) that is not JSON. The one rule for the undici path and `getToFile`.
 */
export function isFileAnswer(contentType: string | undefined, disposition: string | undefined): boolean {
  const ct = (contentType ?? '').toLowerCase();
  const attachment = /attachment/i.test(disposition ?? '');
  return attachment || (!ct.includes('json') && /zip|octet-stream|text\/plain/.test(ct));
}

/** Removes any occurrence of the secret from a text meant for a user or a log. */
export function scrub(text: string, secret?: string): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('<hidden>');
}

/** Reads a whole body, refusing more than `max` bytes. */
export async function readBounded(body: Readable, max: number, what: string): Promise<Buffer> {
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

/**
 * Drops the rest of a body. undici's body emits an AbortError when destroyed: with no listener
 * left, that would be an uncaught exception.
 */
export function drop(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** An already-ended stream, when the whole body was read while sniffing. */
function endedStream(): Readable {
  const p = new PassThrough();
  p.end();
  return p;
}

/**
 * The MuseError for a refused request: `auth` (401/403, or a server text saying so for a
 * request that sent a token), `notFound` (404), else `server`, with the server's text (token
 * hidden). `url` is the request's URL for messages.
 */
export function httpError(status: number | undefined, text: string, req: RequestLabel, authOnClientError: boolean, url: string): MuseError {
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  const err = parseErrorBody(parsed);
  const serverText = scrub(err ? err.error : parsed !== undefined ? bodyExcerpt(JSON.stringify(parsed)) : bodyExcerpt(text), req.token);
  let code: MuseErrorCode = 'server';
  if (status === 401 || status === 403) code = 'auth';
  else if (status === 404) code = 'notFound';
  else if (req.token && (looksLikeAuthError(serverText) || (authOnClientError && status === 400 && req.path.startsWith('jwt/')))) code = 'auth';
  const prefix =
    code === 'auth'
      ? req.path.startsWith('jwt/obtain') ? 'Login refused' : 'The Muse API refused your token (sign in again)'
      : code === 'notFound' ? `Not found: ${req.what}` : `The Muse server failed ${req.what}`;
  const st = status !== undefined ? ` (HTTP ${status})` : '';
  return new MuseError(code, `${prefix}${st}: ${serverText}`, {
    status,
    serverError: err ? scrub(err.error, req.token) : serverText,
    more: err?.more,
    type: err?.type,
    url,
  });
}

/** Reads a bounded JSON answer; a body with `error` or an unparsable body is a MuseError. */
export async function readJson(ctx: AnswerContext, res: WsResponse, what: string, token?: string, emptyOk = false): Promise<unknown> {
  let buf: Buffer;
  try {
    buf = await readBounded(res.body, ctx.maxJsonBytes, what);
  } catch (e) {
    if (e instanceof MuseError) throw e;
    throw new MuseError('network', `The answer for ${what} was cut off: ${(e as Error).message}. Try again.`, { cause: e });
  }
  return parseJsonText(ctx, buf.toString('utf8'), res.statusCode, what, token, emptyOk);
}

function parseJsonText(ctx: AnswerContext, text: string, status: number, what: string, token?: string, emptyOk = false): unknown {
  if (text.trim() === '' && emptyOk) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new MuseError('malformed', `The Muse server answered ${what} with something that is not JSON (HTTP ${status}): ${scrub(bodyExcerpt(text), token)}`, { status });
  }
  if (parseErrorBody(body)) throw httpError(status, text, { path: '', what, token }, false, ctx.safeUrl(''));
  return body;
}

/** Reads a results-like answer: JSON (stdout, download key, error) or file bytes streamed to `destFile`. */
export async function resultOutcome(ctx: AnswerContext, res: WsResponse, destFile: string, req: RequestLabel, opts: OpOptions): Promise<ResultOutcome> {
  const { what, path, token } = req;
  // undici does not decode compressed bodies (none is asked for): refused, as getToFile does,
  // rather than written out as a corrupt file.
  const enc = (header(res.headers, 'content-encoding') ?? '').toLowerCase().split(',').map((c) => c.trim()).filter((c) => c !== '' && c !== 'identity');
  if (enc.length > 0) {
    drop(res.body);
    throw new MuseError('malformed', `The Muse server sent ${what} compressed (${enc.join(', ')}) although it was asked not to; nothing was written. Check the server or proxy configuration.`, { status: res.statusCode, url: ctx.safeUrl(path) });
  }
  const ct = (header(res.headers, 'content-type') ?? '').toLowerCase();
  const disposition = header(res.headers, 'content-disposition');
  const attachment = /attachment/i.test(disposition ?? '');
  const len = Number(header(res.headers, 'content-length'));
  const expected = Number.isFinite(len) && header(res.headers, 'content-length') !== undefined ? len : undefined;
  if (ct.includes('json') && !attachment) {
    return jsonOutcome(ctx, await readJson(ctx, res, what, token), what, path);
  }
  if (isFileAnswer(ct, disposition)) {
    const bytes = await streamToFile(res.body, destFile, { expectedBytes: expected, signal: opts.signal, onProgress: opts.onProgress, what });
    return { kind: 'file', path: destFile, bytes };
  }
  // No telling header (text/html, none): look at the first bytes. JSON-looking bodies are
  // read (bounded); if they are no API answer, they are written out as a file after all.
  let sniff: { head: Buffer; ended: boolean };
  try {
    sniff = await readUpTo(res.body, SNIFF_BYTES);
  } catch (e) {
    if (opts.signal?.aborted) throw cancelledError(what);
    throw new MuseError('network', `The answer for ${what} was cut off: ${(e as Error).message}. Try again.`, { cause: e });
  }
  let head = sniff.head;
  const first = head.toString('latin1', 0, Math.min(head.length, 64)).trimStart();
  if (first.startsWith('{') && !head.subarray(0, 2).equals(Buffer.from('PK'))) {
    if (!sniff.ended) {
      const more = await readUpTo(res.body, ctx.maxJsonBytes).catch((e: Error) => {
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
        return jsonOutcome(ctx, parseJsonText(ctx, head.toString('utf8'), res.statusCode, what, token), what, path);
      }
    }
  } else if (sniff.ended && head.length === 0) {
    throw new MuseError('malformed', `The Muse server answered ${what} with an empty body.`, { status: res.statusCode, url: ctx.safeUrl(path) });
  } else if (/^<(!doctype|html)/i.test(first)) {
    if (!sniff.ended) drop(res.body);
    throw new MuseError('malformed', `The Muse server answered ${what} with a web page instead of a result (HTTP ${res.statusCode}): ${scrub(bodyExcerpt(head.toString('utf8')), token)}`, { status: res.statusCode, url: ctx.safeUrl(path) });
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

/** A JSON results answer as an outcome; a report of an unfinished or failed run, or an error, is a MuseError. */
function jsonOutcome(ctx: AnswerContext, body: unknown, what: string, path: string): ResultOutcome {
  const c = classifyResultBody(body);
  switch (c.kind) {
    case 'stdout':
      return { kind: 'stdout', text: c.text };
    case 'downloadKey':
      return { kind: 'downloadKey', key: c.key, url: c.url, message: c.message };
    case 'report': {
      const st = c.report.state;
      if (st === 'failed' || st === 'cancelled') {
        throw new MuseError('runFailed', `The run ended ${st === 'failed' ? 'in failure' : 'cancelled'} (${c.report.raw.slurmState ?? c.report.raw.latestCr ?? c.report.raw.cr}); its content zip shows why.`, { url: ctx.safeUrl(path) });
      }
      if (st === 'waiting') throw new MuseError('notReady', `The run is not finished yet: ask for ${what} once it has ended.`, { url: ctx.safeUrl(path) });
      throw new MuseError('malformed', `The Muse server answered ${what} with a report but no result (cr=${c.report.raw.cr ?? 'none'}).`, { url: ctx.safeUrl(path) });
    }
    case 'error':
      throw new MuseError('server', `The Muse server failed ${what}: ${c.error}`, { serverError: c.error, more: c.more, type: c.type, url: ctx.safeUrl(path) });
    default:
      throw new MuseError('malformed', `The Muse server answered ${what} with JSON that holds no result: ${bodyExcerpt(JSON.stringify(body))}`, { url: ctx.safeUrl(path) });
  }
}
