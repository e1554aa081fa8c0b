/**
 * The web API's file GET: one hand-written HTTP/1.1 GET (`getToFile`) whose file answer is
 * written to `<dest>` through `<dest>.part` as it arrives, with flat memory, and `basicAuth` for
 * credentials in a URL. The generic stream-to-file lives in `streamToFile.ts`.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as tls from 'tls';
import * as zlib from 'zlib';
import type { Progress } from '../backend';
import { MuseError, cancelledError } from '../errors';
import { partPath } from './streamToFile';

/** Options of `getToFile`. */
export interface GetToFileOptions {
  /** Request headers (Host, Connection, User-Agent, Accept-Encoding and, from the URL's credentials, Authorization are set here). */
  headers?: Record<string, string>;
  /** Time allowed to connect, to receive the headers, and between two reads. */
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** What is transferred, for messages and progress. */
  what: string;
  /** Whether a 2xx answer with these (lower-cased) headers is a file, written to `dest`. */
  isFile: (headers: Record<string, string>) => boolean;
  /** Largest other 2xx body kept in memory (JSON); a bigger or unlabelled one goes to `dest` after all. */
  maxBuffer: number;
  /** Largest non-2xx body kept (the rest is not read). */
  maxErrorBody: number;
}

/** What `getToFile` got: the file written (`bytes`), or a small body for the caller to read. */
export interface GetToFileAnswer {
  statusCode: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Bytes written to `dest` (a file answer). */
  bytes?: number;
  /** The body of any other answer (cut at `maxErrorBody` for non-2xx answers). */
  body?: Buffer;
}

// Reads land in one reused buffer (net's `onread`): a download allocates nothing per chunk, so
// its memory stays flat (a stream of fresh 64 KB socket buffers costs ~70 MB of garbage), and
// 1 MB reads written synchronously are faster than curl on loopback.
const READ_BUFFER = 1024 * 1024;
const MAX_HEAD = 64 * 1024;
const SNIFF_BYTES = 64 * 1024;

/** The `Authorization` value for the user and password of `url` (percent-decoded). */
export function basicAuth(url: URL): string {
  return `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
}

/** The codings named in a Transfer-Encoding or Content-Encoding header, lower-cased, `identity` left out. */
function codings(value: string | undefined): string[] {
  return (value ?? '').toLowerCase().split(',').map((s) => s.trim()).filter((c) => c !== '' && c !== 'identity');
}

/**
 * A (non-2xx) body under one common coding, decoded for the error message, at most `max`
 * bytes; empty when it cannot be (cut off, unknown coding): the status still tells.
 */
function decodeErrorBody(body: Buffer, encoded: string[], max: number): Buffer {
  if (encoded.length === 0 || body.length === 0) return body;
  if (encoded.length > 1) return Buffer.alloc(0);
  const opts = { maxOutputLength: max, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  try {
    switch (encoded[0]) {
      case 'gzip': case 'x-gzip': return zlib.gunzipSync(body, opts);
      case 'deflate': return zlib.inflateSync(body, opts);
      case 'br': return zlib.brotliDecompressSync(body, { maxOutputLength: max });
      default: return Buffer.alloc(0);
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/** An error before any answer: `code` says which, so that a GET can be tried again. */
function connError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause ? { cause } : undefined), { code });
}

/**
 * One HTTP/1.1 GET (plain or TLS, no proxy, `Connection: close`) whose file answer is written
 * to `dest` through `dest.part` as it arrives, with one reused read buffer. Rejects with a
 * plain error carrying a `code` (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, ...) when no answer
 * came, and with a MuseError (`network`, `io`, `cancelled`, `malformed`) once one did.
 */
export function getToFile(url: URL, dest: string, opts: GetToFileOptions): Promise<GetToFileAnswer> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(cancelledError(`The download of ${opts.what}`));
    const part = partPath(dest);
    const what = opts.what;
    let phase: 'connect' | 'head' | 'body' = 'connect';
    let head: Buffer = Buffer.alloc(0);
    let headSeen = 0; // bytes of complete header blocks (interim answers) already read
    let status = 0;
    let headers: Record<string, string> = {};
    // Body framing.
    let remaining = -1; // Content-Length left, -1 = until close
    let chunked = false;
    let encoded: string[] = []; // content and transfer codings other than chunked
    let chunkLeft = 0; // data bytes left in the current chunk
    let chunkState: 'size' | 'data' | 'dataEnd' | 'trailer' = 'size';
    let line = '';
    let trailerBytes = 0;
    // Body sink.
    let mode: 'file' | 'buffer' | 'discard' = 'buffer';
    let fd: number | undefined;
    let done = 0;
    let total: number | undefined;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let bufferCap = 0;
    let settled = false;
    let headTimer: NodeJS.Timeout | undefined;
    let lastReport = 0;

    const cleanupFile = (): void => {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd);
        } catch {
          // Already failing.
        }
        fd = undefined;
      }
      if (mode === 'file') fs.rmSync(part, { force: true });
    };
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(headTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      try {
        cleanupFile();
      } catch {
        // The error at hand says more.
      }
      reject(e);
    };
    const bodyError = (why: string, cause?: unknown): MuseError =>
      new MuseError('network', `The download of ${what} failed after ${done} bytes${total !== undefined ? ` of ${total}` : ''}: ${why}. Try again.`, { cause });
    const chunkError = (why: string): MuseError =>
      new MuseError('malformed', `The Muse server sent ${what} in a broken chunked encoding (${why}) after ${done} bytes; nothing was kept.`);
    const onAbort = (): void => fail(cancelledError(`The download of ${what}`));

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(headTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (mode === 'file') {
        try {
          fs.closeSync(fd as number);
          fd = undefined;
          // Not replaceAtomically: its rename would come after this socket callback, and it turns
          // the plain connection errors a retry reads (`code`) into io errors. Same `.part` name.
          fs.renameSync(part, dest);
        } catch (e) {
          fs.rmSync(part, { force: true });
          return reject(new MuseError('io', `Cannot write ${dest}: ${(e as Error).message}`, { cause: e }));
        }
        opts.onProgress?.({ phase: 'download', done, total, file: what });
        return resolve({ statusCode: status, headers, bytes: done });
      }
      resolve({ statusCode: status, headers, body: decodeErrorBody(Buffer.concat(kept, keptBytes), encoded, opts.maxErrorBody) });
    };

    const toFile = (): void => {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fd = fs.openSync(part, 'w');
      mode = 'file';
      for (const k of kept.splice(0)) writeAll(k);
      keptBytes = 0;
    };
    const writeAll = (b: Buffer): void => {
      let off = 0;
      while (off < b.length) off += fs.writeSync(fd as number, b, off, b.length - off);
    };
    /** Body bytes (framing removed). Returns false once nothing more is wanted. */
    const sink = (b: Buffer): boolean => {
      if (b.length === 0) return true;
      done += b.length;
      if (mode === 'file') {
        try {
          writeAll(b);
        } catch (e) {
          fail(new MuseError('io', `Cannot write ${dest}: ${(e as Error).message}`, { cause: e }));
          return false;
        }
        const now = Date.now();
        if (opts.onProgress && now - lastReport >= 100) {
          lastReport = now;
          opts.onProgress({ phase: 'download', done, total, file: what });
        }
        return true;
      }
      if (mode === 'discard') return false;
      // Copied: the read buffer is reused.
      kept.push(Buffer.from(b));
      keptBytes += b.length;
      if (keptBytes <= bufferCap) return true;
      if (status < 200 || status >= 300) {
        mode = 'discard';
        return false;
      }
      // A 2xx body that is no small JSON: HTML pages stop here (the caller refuses them),
      // anything else is the file after all.
      const first = Buffer.concat(kept, Math.min(keptBytes, 64)).toString('latin1').trimStart();
      if (/^<(!doctype|html)/i.test(first)) {
        mode = 'discard';
        return false;
      }
      if (first.startsWith('{') && bufferCap < opts.maxBuffer) {
        bufferCap = opts.maxBuffer;
        return true;
      }
      try {
        toFile();
      } catch (e) {
        fail(new MuseError('io', `Cannot write ${dest}: ${(e as Error).message}`, { cause: e }));
        return false;
      }
      return true;
    };

    const startBody = (): void => {
      phase = 'body';
      clearTimeout(headTimer);
      const te = codings(headers['transfer-encoding']);
      // Chunked frames the body only as the last coding (RFC 9112 6.3); it wins over Content-Length.
      chunked = te[te.length - 1] === 'chunked';
      const cl = headers['content-length'];
      if (!chunked && cl !== undefined) {
        if (!/^\d+$/.test(cl.trim())) return fail(new MuseError('malformed', `The Muse server answered ${what} with an invalid Content-Length (${cl}).`));
        remaining = Number(cl);
        total = remaining;
      }
      const ok = status >= 200 && status < 300;
      // Nothing here decodes compressed bodies (none is asked for): written as they come they
      // would be a corrupt file, so they are refused. Error bodies are decoded at the end.
      encoded = [...te.filter((c) => c !== 'chunked'), ...codings(headers['content-encoding'])];
      if (ok && encoded.length > 0) {
        return fail(new MuseError('malformed', `The Muse server sent ${what} compressed (${encoded.join(', ')}) although it was asked not to; nothing was written. Check the server or proxy configuration.`, { status }));
      }
      if (ok && opts.isFile(headers)) {
        try {
          toFile();
        } catch (e) {
          return fail(new MuseError('io', `Cannot write ${dest}: ${(e as Error).message}`, { cause: e }));
        }
        opts.onProgress?.({ phase: 'download', done: 0, total, file: what });
      } else {
        mode = 'buffer';
        bufferCap = ok ? SNIFF_BYTES : opts.maxErrorBody;
      }
      if (status === 204 || status === 304 || remaining === 0) finish();
    };

    /** Feeds body bytes through the framing. */
    const body = (b: Buffer): void => {
      if (!chunked) {
        if (remaining >= 0) {
          if (b.length > remaining) b = b.subarray(0, remaining);
          remaining -= b.length;
        }
        if (!sink(b)) return mode === 'discard' ? finish() : undefined;
        if (remaining === 0) finish();
        return;
      }
      let i = 0;
      while (i < b.length && !settled) {
        if (chunkState === 'data') {
          const n = Math.min(chunkLeft, b.length - i);
          if (!sink(b.subarray(i, i + n))) return mode === 'discard' ? finish() : undefined;
          chunkLeft -= n;
          i += n;
          if (chunkLeft === 0) chunkState = 'dataEnd';
          continue;
        }
        const nl = b.indexOf(10, i);
        const end = nl < 0 ? b.length : nl;
        line += b.toString('latin1', i, end);
        if (line.length > 4096) return fail(chunkError('a line longer than 4 KB'));
        i = end;
        if (nl < 0) break;
        i++;
        const l = line.replace(/\r$/, '');
        line = '';
        if (chunkState === 'dataEnd') {
          if (l !== '') return fail(chunkError('no line end after a chunk'));
          chunkState = 'size';
        } else if (chunkState === 'size') {
          // At most 13 hex digits: sizes stay exact numbers (< 2^53).
          const m = /^([0-9a-fA-F]{1,13})[ \t]*(;.*)?$/.exec(l);
          if (!m) return fail(chunkError(`a bad chunk size line (${JSON.stringify(l.slice(0, 40))})`));
          chunkLeft = parseInt(m[1], 16);
          chunkState = chunkLeft === 0 ? 'trailer' : 'data';
        } else if (l === '') {
          return finish(); // end of the trailer
        } else if ((trailerBytes += l.length + 2) > MAX_HEAD) {
          return fail(chunkError('trailers larger than 64 KB'));
        }
      }
    };

    const onHead = (b: Buffer): void => {
      head = head.length ? Buffer.concat([head, b]) : Buffer.from(b);
      for (;;) {
        const end = head.indexOf('\r\n\r\n');
        // Counted over interim (1xx) answers too, and whether or not the block's end came in
        // the same read: a 1 MB read can hold a whole oversized block.
        if ((end < 0 ? head.length : end) + headSeen > MAX_HEAD) {
          return fail(new MuseError('malformed', `The Muse server answered ${what} with headers larger than 64 KB.`));
        }
        if (end < 0) return;
        headSeen += end + 4;
        const lines = head.toString('latin1', 0, end).split('\r\n');
        const rest = head.subarray(end + 4);
        // The code is exactly three digits, then a space (or nothing): `HTTP/1.1 2000` is no 200.
        const m = /^HTTP\/1\.[01] ([1-5]\d\d)(?: |$)/.exec(lines[0]);
        if (!m) return fail(new MuseError('malformed', `The Muse server answered ${what} with something that is not HTTP/1.1.`));
        status = Number(m[1]);
        headers = {};
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          if (c <= 0) continue;
          const k = l.slice(0, c).trim().toLowerCase();
          const v = l.slice(c + 1).trim();
          headers[k] = headers[k] !== undefined ? `${headers[k]}, ${v}` : v;
        }
        head = rest;
        if (status >= 100 && status < 200) continue; // interim answer (100 Continue)
        startBody();
        if (!settled && rest.length > 0) body(rest);
        return;
      }
    };

    const readBuffer = Buffer.allocUnsafe(READ_BUFFER);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const onread = {
      buffer: readBuffer,
      callback: (n: number, buf: Buffer): boolean => {
        if (settled) return false;
        const b = buf.subarray(0, n);
        // A throw here (a progress listener's, say) would escape into the socket's read path
        // and end the process: it fails this download instead.
        try {
          if (phase === 'body') body(b);
          else onHead(b);
        } catch (e) {
          fail(e instanceof Error ? e : new Error(String(e)));
        }
        return !settled;
      },
    };
    const socket: net.Socket =
      url.protocol === 'https:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
        : net.connect({ host, port, onread });
    // A non-2xx answer cut short is still that answer (its body only feeds the message): as on
    // the undici path, a 503 whose body was cut is tried again.
    const errorAnswer = (): boolean => phase === 'body' && (status < 200 || status >= 300);
    socket.setTimeout(opts.timeoutMs, () => {
      const s = Math.round(opts.timeoutMs / 1000);
      if (phase === 'connect') fail(connError(`connecting timed out after ${s} s`, 'UND_ERR_CONNECT_TIMEOUT'));
      else if (phase === 'head') fail(connError(`no answer within ${s} s`, 'UND_ERR_HEADERS_TIMEOUT'));
      else if (errorAnswer()) finish();
      else fail(bodyError(`the server stopped sending for ${s} s`));
    });
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      phase = 'head';
      // The idle timeout alone would let a server dribble its headers for hours: as undici's
      // headersTimeout, the whole head must come within the time allowed.
      headTimer = setTimeout(() => fail(connError(`no answer within ${Math.round(opts.timeoutMs / 1000)} s`, 'UND_ERR_HEADERS_TIMEOUT')), opts.timeoutMs);
      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', 'User-Agent: muse-runner', 'Accept-Encoding: identity'];
      // Credentials in the URL are sent as Basic auth (the `Host` header never holds them).
      if (url.username || url.password) lines.push(`Authorization: ${basicAuth(url)}`);
      for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (errorAnswer()) finish();
      else if (phase === 'body') fail(bodyError(e.message, e));
      else fail(connError(e.message, e.code ?? 'ECONNRESET', e));
    });
    socket.on('close', () => {
      if (settled) return;
      if (phase !== 'body') return fail(connError('the server closed the connection without answering', 'ECONNRESET'));
      // Only a body delimited by the connection's end is complete here.
      if ((!chunked && remaining < 0) || errorAnswer()) return finish();
      fail(new MuseError('network', `The download of ${what} ended after ${done}${total !== undefined ? ` of ${total}` : ''} bytes (the connection dropped). Try again.`));
    });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
