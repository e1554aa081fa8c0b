/**
 * The hand-written HTTP/1.1 GET of file answers (`getToFile`, used by the ws client's downloads)
 * on hostile input, against real loopback servers: node:http, node:https with certificates made
 * here by openssl, and raw `net` servers that answer byte by byte or break the protocol.
 * Where the ws client is involved, the same case also runs through undici (a client given its
 * own dispatcher does not use `getToFile`) and both must behave alike.
 */
import * as assert from 'assert';
import { execFileSync, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Agent } from 'undici';
import * as zlib from 'zlib';
import { WsClient } from '../../src/core/backends/ws/wsClient';
import { isMuseError, type MuseErrorCode } from '../../src/core/errors';
import { getToFile, type GetToFileAnswer, type GetToFileOptions } from '../../src/core/transfer/httpFile';
import { repoRoot } from '../support/repoRoot';
import { until } from '../support/until';

interface Closable {
  close(): Promise<void>;
}

interface RawServer extends Closable {
  /** `http://HOST:PORT/` */
  url: string;
  /** Request heads received. */
  requests: string[];
  /** Server-side sockets, with whether each has closed. */
  sockets: { socket: net.Socket; closed: boolean }[];
}

/**
 * A TCP server that reads each request head, then lets `answer` write whatever it likes
 * (nothing closes the socket unless `answer` does).
 */
async function rawServer(answer: (socket: net.Socket, head: string) => unknown, host = '127.0.0.1'): Promise<RawServer> {
  const requests: string[] = [];
  const sockets: RawServer['sockets'] = [];
  const server = net.createServer((socket) => {
    const entry = { socket, closed: false };
    sockets.push(entry);
    socket.setNoDelay(true);
    socket.on('close', () => (entry.closed = true));
    socket.on('error', () => undefined);
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.slice(0, end);
      requests.push(head);
      void Promise.resolve(answer(socket, head)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    requests,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface HttpServer extends Closable {
  url: string;
  /** Requests seen: method, URL as sent, headers. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** Open server-side connections. */
  connections(): number;
}

async function httpServer(handler: http.RequestListener, tlsOpts?: https.ServerOptions, host = '127.0.0.1'): Promise<HttpServer> {
  const seen: HttpServer['seen'] = [];
  const listener: http.RequestListener = (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  };
  const server = tlsOpts ? https.createServer(tlsOpts, listener) : http.createServer(listener);
  let open = 0;
  server.on(tlsOpts ? 'secureConnection' : 'connection', (s: net.Socket) => {
    open++;
    s.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tlsOpts ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    seen,
    connections: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes `data` in pieces of `size` bytes, each flushed before the next, so they arrive as separate reads. */
async function writeInPieces(socket: net.Socket, data: Buffer | string, size: number): Promise<void> {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  for (let i = 0; i < b.length && !socket.destroyed; i += size) {
    await new Promise<void>((resolve) => socket.write(b.subarray(i, i + size), () => resolve()));
    // A pause lets each piece leave as its own segment (pacing, not waiting for a state).
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A chunked encoding of `parts`, with the given extension on each size line and these trailers. */
function chunked(parts: Buffer[], ext = '', trailers = ''): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) out.push(Buffer.from(`${p.length.toString(16)}${ext}\r\n`), p, Buffer.from('\r\n'));
  out.push(Buffer.from(`0${ext}\r\n${trailers}\r\n`));
  return Buffer.concat(out);
}

/** Awaits a rejection with this MuseError code (or, for `conn:CODE`, a plain error with that `code`). */
async function rejects(p: Promise<unknown>, code: MuseErrorCode | `conn:${string}`, re?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (code.startsWith('conn:')) {
      assert.ok(!isMuseError(err), `expected a connection error, got MuseError ${err.message}`);
      assert.strictEqual(err.code, code.slice(5), `code of: ${err.message}`);
    } else {
      assert.ok(isMuseError(err), `expected a MuseError, got ${String(err)}`);
      assert.strictEqual(err.code, code, `code of: ${err.message}`);
    }
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

describe('getToFile: hand-written HTTP GET to a file (integration, loopback servers)', function () {
  let tmp: string;
  let dest: string;
  const closables: Closable[] = [];
  const track = <T extends Closable>(c: T): T => {
    closables.push(c);
    return c;
  };
  const raw = async (answer: (socket: net.Socket, head: string) => unknown, host?: string): Promise<RawServer> => track(await rawServer(answer, host));
  const serve = async (handler: http.RequestListener, tlsOpts?: https.ServerOptions, host?: string): Promise<HttpServer> =>
    track(await httpServer(handler, tlsOpts, host));

  /** `getToFile` to `dest`, every answer a file unless `over` says otherwise. */
  const get = (url: string, over: Partial<GetToFileOptions> = {}): Promise<GetToFileAnswer> =>
    getToFile(new URL(url), dest, { timeoutMs: 5000, what: 'the test file', isFile: () => true, maxBuffer: 1024 * 1024, maxErrorBody: 64 * 1024, ...over });

  /** Neither the destination nor its `.part` exists (nothing else in its folder either). */
  const assertNoFile = (): void => assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), []);

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'httpfile-'));
    fs.mkdirSync(path.join(tmp, 'dl'));
    dest = path.join(tmp, 'dl', 'file.bin');
  });
  afterEach(async () => {
    for (const c of closables.splice(0)) await c.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('framing', () => {
    it('writes a Content-Length body exactly (5 MB, node:http)', async () => {
      const body = crypto.randomBytes(5 * 1024 * 1024 + 17);
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length });
        res.end(body);
      });
      const progress: number[] = [];
      const a = await get(`${srv.url}x`, { onProgress: (p) => progress.push(p.done) });
      assert.strictEqual(a.statusCode, 200);
      assert.strictEqual(a.bytes, body.length);
      assert.strictEqual(sha(fs.readFileSync(dest)), sha(body));
      assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), ['file.bin']);
      assert.strictEqual(progress[progress.length - 1], body.length);
    });

    it('decodes a chunked body of many small chunks (node:http)', async () => {
      const parts = Array.from({ length: 3000 }, (_, i) => crypto.randomBytes(1 + (i % 97)));
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (const p of parts) res.write(p);
        res.end();
      });
      const a = await get(`${srv.url}x`);
      const all = Buffer.concat(parts);
      assert.strictEqual(a.bytes, all.length);
      assert.strictEqual(sha(fs.readFileSync(dest)), sha(all));
    });

    it('decodes chunk extensions and trailers, with every byte of the answer in its own read', async () => {
      const parts = [Buffer.from('hello '), Buffer.from('chunked\r\n'), Buffer.alloc(300, 'x'), Buffer.from('world')];
      const answer = Buffer.concat([
        Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n'),
        chunked(parts, ';name="v a l";x=1', 'X-Sum: abc\r\nX-Other: d\r\n'),
      ]);
      const srv = await raw(async (s) => writeInPieces(s, answer, 1));
      const a = await get(srv.url);
      assert.strictEqual(fs.readFileSync(dest).toString('latin1'), Buffer.concat(parts).toString('latin1'));
      assert.strictEqual(a.bytes, Buffer.concat(parts).length);
    });

    it('decodes a chunk split across reads and a size line split across reads (hex in upper and lower case)', async () => {
      const big = crypto.randomBytes(200_000);
      const body = Buffer.concat([Buffer.from('30D40\r\n'), big, Buffer.from('\r\n5\r\nabcde\r\n0\r\n\r\n')]);
      const answer = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'), body]);
      // 7-byte pieces cut size lines, CRLFs and the data at every offset modulo 7.
      const srv = await raw(async (s) => {
        await writeInPieces(s, answer.subarray(0, 200), 7);
        await writeInPieces(s, answer.subarray(200, answer.length - 40), 65_536);
        await writeInPieces(s, answer.subarray(answer.length - 40), 3);
      });
      await get(srv.url);
      assert.strictEqual(sha(fs.readFileSync(dest)), sha(Buffer.concat([big, Buffer.from('abcde')])));
    });

    it('reads until the connection closes when there is no length (HTTP/1.1 and HTTP/1.0)', async () => {
      const body = crypto.randomBytes(300_000);
      for (const version of ['1.1', '1.0']) {
        const srv = await raw(async (s) => {
          await writeInPieces(s, `HTTP/${version} 200 OK\r\nContent-Type: application/zip\r\n\r\n`, 1000);
          await writeInPieces(s, body, 50_000);
          s.end();
        });
        const a = await get(srv.url);
        assert.strictEqual(a.bytes, body.length, `HTTP/${version}`);
        assert.strictEqual(sha(fs.readFileSync(dest)), sha(body));
        fs.rmSync(dest);
      }
    });

    it('reads an HTTP/1.0 answer with a Content-Length', async () => {
      const srv = await raw((s) => s.end('HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello'));
      assert.strictEqual((await get(srv.url)).bytes, 5);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello');
    });

    it('reads header names in any case, and skips an interim 100 Continue', async () => {
      const srv = await raw((s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nCoNtEnT-LeNgTh: 5\r\ncontent-TYPE: application/zip\r\n\r\nhello'));
      const a = await get(srv.url);
      assert.strictEqual(a.headers['content-length'], '5');
      assert.strictEqual(a.headers['content-type'], 'application/zip');
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello');
    });

    it('lets chunked win over a Content-Length given with it (RFC 9112 6.3)', async () => {
      const srv = await raw((s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked([Buffer.from('hello'), Buffer.from(' world')])])));
      await get(srv.url);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello world');
    });

    it('writes exactly Content-Length bytes when the server sends more', async () => {
      const srv = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES THAT ARE NOT THE FILE'));
      assert.strictEqual((await get(srv.url)).bytes, 5);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello');
    });

    it('writes an empty file for Content-Length: 0', async () => {
      const srv = await raw((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
      assert.strictEqual((await get(srv.url)).bytes, 0);
      assert.strictEqual(fs.readFileSync(dest).length, 0);
    });
  });

  describe('connections', () => {
    it('closes a keep-alive connection after the body (Content-Length and chunked), so nothing keeps the process alive', async () => {
      const srv = await serve((req, res) => {
        if (req.url === '/len') {
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 5, connection: 'keep-alive', 'keep-alive': 'timeout=600' });
          res.end('hello');
        } else {
          res.writeHead(200, { 'content-type': 'application/zip', connection: 'keep-alive' });
          res.end('chunked hello');
        }
      });
      for (const p of ['len', 'chunked']) {
        await get(`${srv.url}${p}`);
        // The server would keep it for 10 minutes: only the client can have closed it.
        await until(`the ${p} connection closed by the client`, () => srv.connections() === 0, { timeoutMs: 5000 });
      }
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'chunked hello');
    });

    it('a process that downloaded from a keep-alive server exits at once', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 5, 'keep-alive': 'timeout=600' });
        res.end('hello');
      });
      const code = `
        const { getToFile } = require(${JSON.stringify(path.join(repoRoot(), 'src/core/transfer/httpFile.ts'))});
        getToFile(new URL(process.argv[1]), process.argv[2], { timeoutMs: 600000, what: 'x', isFile: () => true, maxBuffer: 1e6, maxErrorBody: 1e5 })
          .then((a) => console.log('bytes', a.bytes), (e) => { console.log('error', e.message); process.exitCode = 3; });
      `;
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', code, `${srv.url}x`, dest], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exit = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.strictEqual(exit, 0, out);
      assert.match(out, /bytes 5/);
      // The server never closes: the child exited because its socket was closed, not by a timeout.
      assert.strictEqual(srv.connections(), 0);
    });

    it('downloads from an IPv6 loopback URL ([::1]), with the Host header in brackets', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 });
        res.end('v6');
      }, undefined, '::1');
      await get(`${srv.url}a/b/`);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'v6');
      assert.match(String(srv.seen[0].headers.host), /^\[::1\]:\d+$/);
    });

    it('sends the path and query string as given, asks for no compression, and no credentials unless the URL has them', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 });
        res.end('ok');
      });
      await get(`${srv.url}api/download/?key=a%2Fb%2Bc%20d&x=%C3%A9`);
      assert.strictEqual(srv.seen[0].url, '/api/download/?key=a%2Fb%2Bc%20d&x=%C3%A9');
      assert.strictEqual(srv.seen[0].headers.authorization, undefined);
      assert.ok([undefined, 'identity'].includes(srv.seen[0].headers['accept-encoding']), String(srv.seen[0].headers['accept-encoding']));
    });

    it('sends the user and password of the URL as Basic credentials, decoded', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 });
        res.end('ok');
      });
      const u = new URL(srv.url);
      u.username = 'al ice';
      u.password = 'p@ss:w/rd';
      await get(`${u.href}x`);
      assert.strictEqual(srv.seen[0].headers.authorization, `Basic ${Buffer.from('al ice:p@ss:w/rd').toString('base64')}`);
      assert.strictEqual(srv.seen[0].headers.host, `${u.hostname}:${u.port}`);
    });

    it('a refused connection is a retriable ECONNREFUSED, with no file', async () => {
      const srv = await raw(() => undefined);
      const url = srv.url;
      await srv.close();
      await rejects(get(url), 'conn:ECONNREFUSED');
      assertNoFile();
    });

    it('a server that never answers times out as UND_ERR_HEADERS_TIMEOUT, and one that closes without answering is ECONNRESET', async () => {
      const silent = await raw(() => undefined);
      await rejects(get(silent.url, { timeoutMs: 300 }), 'conn:UND_ERR_HEADERS_TIMEOUT');
      // Headers dribbled a byte at a time never reach the idle timeout: the head has its own deadline.
      const dribbler = await raw(async (s) => {
        for (const c of 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'z'.repeat(10_000)) {
          if (s.destroyed) return;
          s.write(c);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      await rejects(get(dribbler.url, { timeoutMs: 300 }), 'conn:UND_ERR_HEADERS_TIMEOUT');
      const closer = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Len'));
      await rejects(get(closer.url), 'conn:ECONNRESET');
      assertNoFile();
    });
  });

  describe('broken answers', () => {
    it('refuses a malformed status line', async () => {
      for (const line of ['HTTX/1.1 200 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 20 OK', 'HTTP/2 200', 'hello there']) {
        const srv = await raw((s) => s.end(`${line}\r\nContent-Length: 5\r\n\r\nhello`));
        await rejects(get(srv.url), 'malformed', /not HTTP/);
        assertNoFile();
      }
    });

    it('refuses a header block over 64 KB, whether it comes in one read or many', async () => {
      const headers = `HTTP/1.1 200 OK\r\n${Array.from({ length: 800 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(100)}\r\n`).join('')}Content-Length: 5\r\n\r\nhello`;
      assert.ok(headers.length > 65 * 1024);
      const once = await raw((s) => s.end(headers));
      await rejects(get(once.url), 'malformed', /64 KB/);
      assertNoFile();
      const many = await raw(async (s) => writeInPieces(s, headers, 4096));
      await rejects(get(many.url), 'malformed', /64 KB/);
      assertNoFile();
      // Endless interim answers are no way around it.
      const interim = await raw(async (s) => writeInPieces(s, 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(4000), 8192));
      await rejects(get(interim.url), 'malformed', /64 KB/);
      assertNoFile();
    });

    it('refuses an invalid Content-Length', async () => {
      for (const cl of ['-1', 'abc', '5, 6', '1e3']) {
        const srv = await raw((s) => s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${cl}\r\n\r\nhello`));
        await rejects(get(srv.url), 'malformed', /Content-Length/);
        assertNoFile();
      }
    });

    it('refuses a bad chunk size, a missing CRLF after a chunk, and an endless trailer, leaving no file', async () => {
      const cases = [
        'zz\r\nhello\r\n0\r\n\r\n',
        '-5\r\nhello\r\n0\r\n\r\n',
        '5\r\nhelloXX\r\n0\r\n\r\n',
        `${'1'.repeat(5000)}\r\n`,
        `${'f'.repeat(14)}\r\nhello\r\n`,
        `0\r\n${'X-T: v\r\n'.repeat(20_000)}`,
      ];
      for (const c of cases) {
        const srv = await raw(async (s) => writeInPieces(s, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${c}`, 8192));
        await rejects(get(srv.url), 'malformed', /broken chunked encoding/);
        assertNoFile();
      }
    });

    it('a body shorter than its Content-Length (connection closed) is a network error: no .part, no file, an older file kept', async () => {
      fs.writeFileSync(dest, 'older');
      const srv = await raw(async (s) => {
        await writeInPieces(s, 'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n', 100);
        await writeInPieces(s, crypto.randomBytes(300_000), 65_536);
        s.end();
      });
      await rejects(get(srv.url), 'network', /300000 of 1000000 bytes/);
      assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), ['file.bin']);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'older');
    });

    it('a chunked body cut before its last chunk is a network error with no file', async () => {
      const srv = await raw((s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'));
      await rejects(get(srv.url), 'network', /connection dropped/);
      assertNoFile();
    });

    it('a reset mid-body is a network error with no file', async () => {
      const srv = await raw(async (s) => {
        await writeInPieces(s, 'HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n\r\n', 100);
        await writeInPieces(s, crypto.randomBytes(100_000), 50_000);
        s.resetAndDestroy();
      });
      await rejects(get(srv.url), 'network');
      assertNoFile();
    });

    it('a server that stalls mid-body: the idle timeout fires and the file is removed', async () => {
      const srv = await raw(async (s) => {
        await writeInPieces(s, 'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n', 100);
        await writeInPieces(s, crypto.randomBytes(10_000), 5000);
        // Then nothing, and the connection stays open.
      });
      await rejects(get(srv.url, { timeoutMs: 400 }), 'network', /stopped sending/);
      assertNoFile();
      await until('the stalled connection closed', () => srv.sockets.every((x) => x.closed), { timeoutMs: 5000 });
    });

    it('an abort mid-body removes the .part at once and closes the connection', async () => {
      const srv = await raw(async (s) => {
        await writeInPieces(s, 'HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n', 100);
        await writeInPieces(s, crypto.randomBytes(256 * 1024), 65_536);
      });
      const ac = new AbortController();
      let done = 0;
      const p = get(srv.url, { signal: ac.signal, onProgress: (pr) => (done = pr.done) });
      await until('some bytes in the .part file', () => done > 0 && fs.existsSync(`${dest}.part`));
      ac.abort();
      // Checked right after the rejection: the removal is not left for later.
      await rejects(p, 'cancelled');
      assertNoFile();
      await until('the aborted connection closed', () => srv.sockets.every((x) => x.closed), { timeoutMs: 5000 });
    });

    it('an abort before the answer stops at once, and an aborted signal sends nothing', async () => {
      const srv = await raw(() => undefined);
      const ac = new AbortController();
      const p = get(srv.url, { signal: ac.signal });
      await until('the request to reach the server', () => srv.requests.length === 1);
      ac.abort();
      await rejects(p, 'cancelled');
      await rejects(get(srv.url, { signal: ac.signal }), 'cancelled');
      assert.strictEqual(srv.requests.length, 1);
      assertNoFile();
    });

    it('refuses a compressed file answer (Content-Encoding, or a Transfer-Encoding other than chunked) instead of writing it as plain bytes', async () => {
      const gz = zlib.gzipSync(Buffer.from('plain text of the file'));
      const answers = [
        Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), gz]),
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked([gz])]),
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), chunked([gz])]),
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), gz]),
      ];
      for (const a of answers) {
        const srv = await raw((s) => s.end(a));
        await rejects(get(srv.url), 'malformed', /gzip/);
        assertNoFile();
      }
      // Content-Encoding: identity is plain.
      const id = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\nok'));
      await get(id.url);
      assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'ok');
    });

    it('a progress listener that throws fails the download (no crash, no file)', async () => {
      const srv = await raw(async (s) => {
        await writeInPieces(s, 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n', 100);
        await writeInPieces(s, crypto.randomBytes(100_000), 10_000);
      });
      const onProgress = (p: { done: number }): void => {
        if (p.done > 0) throw new Error('listener bug');
      };
      await assert.rejects(get(srv.url, { onProgress }), /listener bug/);
      assertNoFile();
    });

    it('keeps a non-2xx body (bounded) for the error, and writes no file', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'no such key', pad: 'z'.repeat(200_000) }));
      });
      const a = await get(`${srv.url}x`);
      assert.strictEqual(a.statusCode, 404);
      assert.ok(a.body && a.body.length >= 64 * 1024 && a.body.length < 200_000, String(a.body?.length));
      assert.match(a.body.toString('utf8'), /^\{"error":"no such key"/);
      assertNoFile();
    });
  });

  describe('the ws client: the same outcome as through undici', () => {
    const KEY = '20210119_130603_abc';
    /** A client on `url` whose downloads use `getToFile` (`raw`) or undici. */
    const client = (url: string, mode: 'raw' | 'undici', over: { attempts?: number; timeoutMs?: number } = {}): WsClient => {
      const dispatcher = mode === 'undici' ? new Agent() : undefined;
      const c = new WsClient({ baseUrl: url, attempts: over.attempts ?? 3, retryDelayMs: 5, timeoutMs: over.timeoutMs, dispatcher });
      track({ close: async () => { await c.close(); await dispatcher?.close(); } });
      return c;
    };
    const modes = ['raw', 'undici'] as const;

    it('downloads with the query string intact', async () => {
      const srv = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 5 });
        res.end('hello');
      });
      for (const m of modes) {
        assert.deepStrictEqual(await client(`${srv.url}api/`, m).download('a/b+c=d', dest), { path: dest, bytes: 5 }, m);
        assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello');
        fs.rmSync(dest);
      }
      assert.deepStrictEqual(srv.seen.map((s) => s.url), ['/api/download/?key=a%2Fb%2Bc%3Dd', '/api/download/?key=a%2Fb%2Bc%3Dd']);
    });

    it('retries a 503 (also one whose body is cut) and a 502, then downloads', async () => {
      for (const m of modes) {
        let n = 0;
        const srv = await serve((_req, res) => {
          n++;
          if (n === 1) return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy"}');
          if (n === 2) return void res.writeHead(502).end('bad gateway');
          // A 503 whose body is cut short is a 503 all the same.
          if (n === 3) return void res.writeHead(503, { 'content-length': 1000 }).write('{"error":', () => res.socket?.destroy());
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 });
          res.end('ok');
        });
        await client(`${srv.url}api/`, m, { attempts: 4 }).download(KEY, dest);
        assert.strictEqual(n, 4, m);
        assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'ok');
        fs.rmSync(dest);
      }
    });

    it('gives the server text of a 4xx/5xx JSON error body, and writes no file', async () => {
      const cases: [number, MuseErrorCode][] = [[404, 'notFound'], [400, 'server'], [500, 'server'], [403, 'auth']];
      for (const m of modes) {
        for (const [status, code] of cases) {
          const srv = await serve((_req, res) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: `key ${status} is not known here`, more: ['x'] }));
          });
          const e = await rejects(client(`${srv.url}api/`, m, { attempts: 1 }).download(KEY, dest), code, new RegExp(`HTTP ${status}.*key ${status} is not known here`));
          assert.deepStrictEqual((e as { details?: { more?: unknown } }).details?.more, ['x'], m);
          assertNoFile();
        }
      }
    });

    it('does not follow a redirect: a clear error, no file', async () => {
      for (const m of modes) {
        const target = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 }).end('no'));
        const srv = await serve((_req, res) => res.writeHead(302, { location: `${target.url}elsewhere?secret=1` }).end());
        await rejects(client(`${srv.url}api/`, m).download(KEY, dest), 'server', /redirected.*HTTP 302.*not followed/);
        assert.doesNotMatch(String(target.seen.length), /[1-9]/, `${m}: the redirect target was asked`);
        assertNoFile();
      }
    });

    it('refuses an HTML page and a gzip-encoded file answer, writing nothing', async () => {
      const gz = zlib.gzipSync(Buffer.from('PK not really'));
      for (const m of modes) {
        const html = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html>login page</html>'));
        await rejects(client(`${html.url}api/`, m).download(KEY, dest), 'malformed', /web page/);
        assertNoFile();
        // A page bigger than what is looked at: the rest is dropped, without an uncaught error.
        const bigHtml = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html>${'p'.repeat(1024 * 1024)}</html>`));
        await rejects(client(`${bigHtml.url}api/`, m).download(KEY, dest), 'malformed', /web page/);
        assertNoFile();
        const zipped = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/zip', 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz));
        await rejects(client(`${zipped.url}api/`, m).download(KEY, dest), 'malformed', /gzip/);
        assertNoFile();
      }
    });

    it('sends the user and password of the API URL as Basic credentials, and never shows them', async () => {
      for (const m of modes) {
        const srv = await serve((req, res) => {
          if (req.url?.includes('missing')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"gone"}');
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2 });
          res.end('ok');
        });
        const u = new URL(`${srv.url}api/`);
        u.username = 'bob';
        u.password = 's3cr%40t';
        await client(u.href, m).download(KEY, dest);
        assert.strictEqual(srv.seen[0].headers.authorization, `Basic ${Buffer.from('bob:s3cr@t').toString('base64')}`, m);
        const e = await rejects(client(u.href, m, { attempts: 1 }).download('missing', path.join(tmp, 'dl', 'm')), 'notFound');
        assert.doesNotMatch(`${e.message} ${JSON.stringify((e as { details?: unknown }).details)}`, /s3cr/);
        fs.rmSync(dest);
      }
    });

    describe('HTTPS', () => {
      let certDir: string;
      /** Self-signed, valid for 127.0.0.1 and localhost. */
      let good: https.ServerOptions;
      /** Self-signed, valid for example.org only. */
      let wrongName: https.ServerOptions;
      before(() => {
        certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'httpfile-certs-'));
        const make = (name: string, san: string): https.ServerOptions => {
          execFileSync('openssl', [
            'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
            '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`,
            '-keyout', path.join(certDir, `${name}.key`), '-out', path.join(certDir, `${name}.pem`),
          ], { stdio: 'ignore' });
          return { key: fs.readFileSync(path.join(certDir, `${name}.key`)), cert: fs.readFileSync(path.join(certDir, `${name}.pem`)) };
        };
        good = make('good', 'IP:127.0.0.1,DNS:localhost');
        wrongName = make('wrong', 'DNS:example.org');
        fs.writeFileSync(path.join(certDir, 'bundle.pem'), Buffer.concat([good.cert as Buffer, wrongName.cert as Buffer]));
      });
      after(() => fs.rmSync(certDir, { recursive: true, force: true }));

      const fileServer = (opts: https.ServerOptions): Promise<HttpServer> =>
        serve((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 6 });
          res.end('secret');
        }, opts);

      it('refuses a self-signed certificate that is not trusted, as undici does, and sends no request', async () => {
        const srv = await fileServer(good);
        const codes: string[] = [];
        for (const m of modes) {
          const e = await rejects(client(`${srv.url}api/`, m).download(KEY, dest), 'network', /self-signed certificate/);
          codes.push(String((e.cause as { code?: string } | undefined)?.code));
          assertNoFile();
        }
        assert.deepStrictEqual(codes, ['DEPTH_ZERO_SELF_SIGNED_CERT', 'DEPTH_ZERO_SELF_SIGNED_CERT']);
        await rejects(get(`${srv.url}x`), 'conn:DEPTH_ZERO_SELF_SIGNED_CERT');
        assert.strictEqual(srv.seen.length, 0);
        assertNoFile();
      });

      it('trusts a CA given by NODE_EXTRA_CA_CERTS and checks the name, as undici does', async () => {
        const ok = await fileServer(good);
        const bad = await fileServer(wrongName);
        const code = `
          const fs = require('fs');
          const { WsClient } = require(${JSON.stringify(path.join(repoRoot(), 'src/core/backends/ws/wsClient.ts'))});
          const { Agent } = require('undici');
          (async () => {
            const out = {};
            for (const [name, url] of [['ok', process.argv[1]], ['badName', process.argv[2]]]) {
              for (const mode of ['raw', 'undici']) {
                const dispatcher = mode === 'undici' ? new Agent() : undefined;
                const c = new WsClient({ baseUrl: url, attempts: 1, dispatcher });
                const dest = process.argv[3] + '/' + name + '-' + mode;
                try {
                  await c.download('k', dest);
                  out[name + '/' + mode] = 'file ' + fs.readFileSync(dest, 'utf8');
                } catch (e) {
                  out[name + '/' + mode] = e.code + ' ' + (e.cause && e.cause.code);
                }
                await c.close();
                if (dispatcher) await dispatcher.close();
              }
            }
            console.log(JSON.stringify(out));
          })();
        `;
        const env = { ...process.env, NODE_EXTRA_CA_CERTS: path.join(certDir, 'bundle.pem') };
        const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', code, `${ok.url}api/`, `${bad.url}api/`, path.dirname(dest)], { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        assert.strictEqual(await new Promise((resolve) => child.on('exit', resolve)), 0);
        assert.deepStrictEqual(JSON.parse(out), {
          'ok/raw': 'file secret',
          'ok/undici': 'file secret',
          'badName/raw': 'network ERR_TLS_CERT_ALTNAME_INVALID',
          'badName/undici': 'network ERR_TLS_CERT_ALTNAME_INVALID',
        });
        assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)).sort(), ['ok-raw', 'ok-undici']);
      });
    });
  });
});
