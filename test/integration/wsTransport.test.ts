/**
 * Transport properties of the ws client over real HTTP: small `http.createServer` servers on
 * 127.0.0.1 answer what each test needs (multipart parsing with busboy, resets, 503s,
 * truncated and stalled bodies, redirects, a plain HTTP proxy).
 */
import * as assert from 'assert';
import busboy from 'busboy';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import * as yazl from 'yazl';
import type { Progress, RunRef } from '../../src/core/backend';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { WsClient } from '../../src/core/backends/ws/wsClient';
import { isMuseError, MuseError } from '../../src/core/errors';
import { normalizeRequest } from '../../src/core/model';
import { repoRoot } from '../support/repoRoot';
import { until } from '../support/until';

const FIX = path.join(repoRoot(), 'test', 'fixtures', 'ws');
const fixtureText = (name: string): string => fs.readFileSync(path.join(FIX, name), 'utf8');

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface TestServer {
  url: string;
  /** Requests seen, as `METHOD /path?query`. */
  seen: string[];
  close(): Promise<void>;
}

async function serve(handler: Handler): Promise<TestServer> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res, seen.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

/** A JWT with this `exp` (the signature is not checked by the client). */
function jwt(expSecondsFromNow: number): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ user: 'alice', exp: Math.floor(Date.now() / 1000) + expSecondsFromNow })}.c2lnbmF0dXJl`;
}

const KEY = '58ae6cea-df31-4059-9466-b817c337985d';
const submitAnswer = (base: string, key = KEY): unknown => ({ msg: `GET ${base}software/muse/state/sw_example/${key}/ ...`, url: `${base}software/muse/state/sw_example/${key}/` });

function runRef(over: Partial<RunRef> & { returnedType?: 'stdout' | 'stdout.txt' | 'run.zip'; toDownload?: boolean } = {}): RunRef {
  const request = normalizeRequest({ software: 'sw_example', cmd: 'python /add.py 4 5', returnedType: over.returnedType, toDownload: over.toDownload });
  return { id: over.id ?? 'run-1', key: 'key' in over ? over.key : KEY, software: 'sw_example', request, raw: {}, location: undefined };
}

async function rejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<MuseError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isMuseError(e), `expected a MuseError, got ${String(e)}`);
    assert.strictEqual(e.code, code, `code of: ${e.message}`);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a ${code} error`);
}

describe('ws transport (integration, plain HTTP servers)', function () {
  let tmp: string;
  const servers: TestServer[] = [];
  const backends: WsBackend[] = [];
  const start = async (h: Handler): Promise<TestServer> => {
    const s = await serve(h);
    servers.push(s);
    return s;
  };
  /** A backend on `url` with this token (`null`: not signed in). */
  const backend = (url: string, token: string | null = jwt(3600)): WsBackend => {
    const b = new WsBackend({ baseUrl: url, getToken: async () => token ?? undefined, attempts: 4, retryDelayMs: 10 });
    backends.push(b);
    return b;
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-transport-'));
  });
  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.dispose()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('submits files as multipart with every field, streamed with a Content-Length, and reports upload progress', async () => {
    const got: { fields: Record<string, string[]>; files: { field: string; name: string; data: Buffer }[]; contentLength?: string; received: number; auth?: string } = { fields: {}, files: [], received: 0 };
    const srv = await start((req, res) => {
      got.contentLength = req.headers['content-length'];
      got.auth = req.headers.authorization;
      req.on('data', (c: Buffer) => (got.received += c.length));
      const bb = busboy({ headers: req.headers });
      bb.on('field', (name, val) => (got.fields[name] ??= []).push(val));
      bb.on('file', (field, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => got.files.push({ field, name: info.filename ?? '', data: Buffer.concat(chunks) }));
      });
      bb.on('close', () => json(res, 200, submitAnswer(srv.url)));
      req.pipe(bb);
    });
    const a = path.join(tmp, 'stdin.txt');
    const b = path.join(tmp, 'usrcmd.sh');
    const big = path.join(tmp, 'big.bin');
    fs.writeFileSync(a, '4 5 61\n');
    fs.writeFileSync(b, '#!/bin/sh\npython /add.py\n');
    fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 7));
    const progress: Progress[] = [];
    const token = jwt(3600);
    const r = await backend(srv.url, token).submit(
      {
        software: 'sw_example', cmd: 'usrcmd.sh', cmdOption: '--bind /a:/b',
        files: [{ path: b, name: 'usrcmd.sh' }, { path: a, name: 'stdin.txt' }, { path: big, name: 'big.bin' }],
        filesOrder: ['stdin.txt', 'usrcmd.sh', 'big.bin'], returnedType: 'stdout', toDownload: false,
        sbatchList: ['--mail-user=a@b.c'], moduleList: ['python/3'],
      },
      { onProgress: (p) => progress.push(p) },
    );
    assert.strictEqual(r.key, KEY);
    assert.deepStrictEqual(srv.seen, ['POST /api/software/muse/run/sw_example/']);
    assert.strictEqual(Number(got.contentLength), got.received, 'Content-Length is the body size');
    assert.strictEqual(got.auth, undefined, 'no Authorization header: the token is a parameter');
    assert.deepStrictEqual(got.fields, {
      cmd: ['usrcmd.sh'], cmd_option: ['--bind /a:/b'], returned_type: ['stdout'], todownload: ['no'],
      sbatch_list: ['["--mail-user=a@b.c"]'], module_list: ['["python/3"]'],
      files_order: ['["stdin.txt","usrcmd.sh","big.bin"]'], jwt: [token],
    });
    assert.deepStrictEqual(got.files.map((f) => [f.field, f.name, f.data.length]), [['file', 'usrcmd.sh', 25], ['file', 'stdin.txt', 7], ['file', 'big.bin', 3 * 1024 * 1024]]);
    assert.ok(got.files[2].data.every((x) => x === 7));
    const last = progress[progress.length - 1];
    assert.strictEqual(last.phase, 'upload');
    assert.strictEqual(last.done, got.received);
    assert.strictEqual(last.total, got.received);
    assert.ok(progress.length > 2, 'progress is reported as the body goes');
  });

  it('submits without files as JSON, the token in the body, on the slashed URL', async () => {
    let body = '';
    let ct = '';
    const srv = await start((req, res) => {
      ct = req.headers['content-type'] ?? '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => json(res, 200, submitAnswer(srv.url)));
    });
    const token = jwt(3600);
    await backend(srv.url.replace(/\/$/, ''), token).submit({ software: 'sw_example', cmd: 'python /add.py 4 5', returnedType: 'run.zip', toDownload: true });
    assert.deepStrictEqual(srv.seen, ['POST /api/software/muse/run/sw_example/']);
    assert.match(ct, /application\/json/);
    assert.deepStrictEqual(JSON.parse(body), { cmd: 'python /add.py 4 5', cmd_option: '', returned_type: 'run.zip', todownload: 'yes', jwt: token });
  });

  it('an abort during an upload stops it, and a missing input file fails before anything is sent', async () => {
    const srv = await start((req) => req.pause()); // reads nothing: the upload stalls on backpressure
    const big = path.join(tmp, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(32 * 1024 * 1024, 1));
    const ac = new AbortController();
    let sent = 0;
    const p = backend(srv.url).submit({ software: 'sw_example', cmd: 'x', files: [{ path: big, name: 'big.bin' }] }, { signal: ac.signal, onProgress: (pr) => (sent = pr.done) });
    // The server has the request (progress alone can come before it does on a loaded machine).
    await until('the upload to start and reach the server', () => sent > 0 && srv.seen.length === 1);
    ac.abort();
    await rejects(p, 'cancelled');
    assert.strictEqual(srv.seen.length, 1);
    await rejects(backend(srv.url).submit({ software: 'sw_example', cmd: 'x', files: [{ path: path.join(tmp, 'nope.txt'), name: 'nope.txt' }] }), 'io', /nope\.txt/);
    await rejects(backend(srv.url).submit({ software: 'sw_example', cmd: 'x', files: [{ path: big, name: '../big.bin' }] }), 'usage');
    assert.strictEqual(srv.seen.length, 1);
  });

  it('never retries a submit whose connection was reset, and says it may have reached the server', async () => {
    const srv = await start((req) => {
      req.on('data', () => undefined);
      req.on('end', () => req.socket.destroy());
    });
    const e = await rejects(backend(srv.url).submit({ software: 'sw_example', cmd: 'x' }), 'network', /may have reached the server/);
    assert.ok(!e.message.includes('eyJ'), 'no token in the message');
    assert.strictEqual(srv.seen.length, 1);
  });

  it('never retries a submit answered 503', async () => {
    const srv = await start((_req, res) => json(res, 503, { error: 'busy' }));
    await rejects(backend(srv.url).submit({ software: 'sw_example', cmd: 'x' }), 'server', /busy/);
    assert.strictEqual(srv.seen.length, 1);
  });

  it('retries a submit whose connection was refused (nothing was sent)', async () => {
    const srv = await start((_req, res) => json(res, 200, {}));
    const url = srv.url;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const started = Date.now();
    const e = await rejects(backend(url).submit({ software: 'sw_example', cmd: 'x' }), 'network', /refused/);
    assert.strictEqual(e.details.notSent, true, 'a refused connection sent nothing');
    assert.doesNotMatch(e.message, /may have reached/);
    // Four attempts with backoff took some time; the message says nothing was sent.
    assert.ok(Date.now() - started >= 10);
  });

  it('retries a GET after 503 and 502, and after a reset', async () => {
    const srv = await start((req, res, n) => {
      if (n === 1) return json(res, 503, { error: 'busy' });
      if (n === 2) return req.socket.destroy();
      if (n === 3) return json(res, 502, { error: 'bad gateway' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixtureText('exampleA.state.json'));
    });
    const m = await backend(srv.url).states([runRef()]);
    const st = m.get('run-1');
    assert.ok(st && !(st instanceof Error), String(st));
    assert.strictEqual(st.state, 'ok');
    assert.strictEqual(srv.seen.length, 4);
    assert.deepStrictEqual(new Set(srv.seen), new Set([`GET /api/software/muse/state/sw_example/${KEY}/`]));
  });

  it('gives up on a GET after its attempts, with the server text', async () => {
    const srv = await start((_req, res) => json(res, 500, { error: 'database down', more: ['x'], type: 'OperationalError' }));
    const m = await backend(srv.url).states([runRef()]);
    const e = m.get('run-1');
    assert.ok(isMuseError(e, 'server'), String(e));
    assert.match(e.message, /HTTP 500.*database down/);
    assert.deepStrictEqual([e.details.status, e.details.serverError, e.details.more, e.details.type], [500, 'database down', ['x'], 'OperationalError']);
    assert.strictEqual(srv.seen.length, 3, 'a 500 is tried again twice only');
  });

  it('asks the states of many runs, four at a time, and one failure does not fail the others', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const srv = await start((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        if (req.url?.includes('/bad-key/')) return json(res, 404, { error: 'No such run' });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(fixtureText('exampleE.state.json'));
      }, 20);
    });
    const runs = Array.from({ length: 10 }, (_, i) => runRef({ id: `r${i}`, key: i === 3 ? 'bad-key' : `k${i}` }));
    runs.push(runRef({ id: 'nokey', key: undefined }));
    const m = await backend(srv.url).states(runs);
    assert.strictEqual(m.size, 11);
    assert.ok(isMuseError(m.get('r3'), 'notFound'));
    assert.match((m.get('r3') as Error).message, /No such run/);
    assert.ok(isMuseError(m.get('nokey'), 'notFound'));
    for (const i of [0, 1, 2, 4, 9]) assert.strictEqual((m.get(`r${i}`) as { state: string }).state, 'ok');
    assert.ok(maxInFlight <= 4 && maxInFlight > 1, `at most 4 at once (saw ${maxInFlight})`);
  });

  it('a body shorter than its Content-Length is a network error and leaves no file', async () => {
    const srv = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 1024 * 1024 });
      res.write(Buffer.alloc(100 * 1024, 1));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const dest = path.join(tmp, 'out', 'content.zip');
    await rejects(backend(srv.url).content(runRef(), dest), 'network');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), []);
  });

  it('an abort really stops a download and removes the .part', async () => {
    let closed = false;
    const srv = await start((req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 100 * 1024 * 1024 });
      res.write(Buffer.alloc(256 * 1024, 1));
      req.socket.on('close', () => (closed = true));
      // Then stalls: only the abort can end this.
    });
    const dest = path.join(tmp, 'results.zip');
    const ac = new AbortController();
    let seenBytes = 0;
    const p = backend(srv.url).content(runRef(), dest, {
      signal: ac.signal,
      onProgress: (pr) => {
        seenBytes = pr.done;
        assert.strictEqual(pr.total, 100 * 1024 * 1024);
      },
    });
    await until('some bytes in the .part file', () => seenBytes > 0 && fs.existsSync(`${dest}.part`));
    ac.abort();
    await rejects(p, 'cancelled');
    assert.deepStrictEqual(fs.readdirSync(tmp), []);
    await until('the connection to be closed', () => closed);
  });

  it('an abort while waiting for a GET retry stops at once', async () => {
    const srv = await start((_req, res) => json(res, 503, { error: 'busy' }));
    const b = new WsBackend({ baseUrl: srv.url, getToken: async () => undefined, attempts: 5, retryDelayMs: 60_000 });
    backends.push(b);
    const ac = new AbortController();
    const p = b.content(runRef(), path.join(tmp, 'x.zip'), { signal: ac.signal });
    await until('the request to reach the server', () => srv.seen.length === 1);
    ac.abort();
    await rejects(p, 'cancelled');
    assert.strictEqual(srv.seen.length, 1);
  });

  it('streams a result to the destination, replacing an older file only when complete', async () => {
    const zip = await makeZip({ '__WS__stdout.txt': '59.0\n', 'data/out.csv': 'a,b\n' });
    const srv = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-disposition': 'attachment; filename="run.zip"', 'content-length': zip.length });
      res.end(zip);
    });
    const dest = path.join(tmp, 'run.zip');
    fs.writeFileSync(dest, 'old');
    const out = await backend(srv.url).results(runRef({ returnedType: 'run.zip' }), dest);
    assert.deepStrictEqual(out, { kind: 'file', path: dest, bytes: zip.length });
    assert.ok(fs.readFileSync(dest).equals(zip));
    assert.deepStrictEqual(fs.readdirSync(tmp), ['run.zip']);
  });

  it('tells JSON from bytes on the results endpoint by type and by first bytes', async () => {
    const zip = await makeZip({ 'a.txt': 'A' });
    const answers: [string, string | Buffer][] = [
      ['application/json', fixtureText('exampleA.results.json')],
      ['text/html; charset=utf-8', fixtureText('exampleE.results.json')],
      ['', zip],
      ['text/html', zip],
      ['text/plain', '{"not": "an api answer"}\n'],
      ['', '{"looks": "like json", "but": "is a stdout.txt"}'],
      ['application/json', fixtureText('exampleD.results.json')],
    ];
    const srv = await start((_req, res, n) => {
      const [ct, body] = answers[n - 1];
      res.writeHead(200, ct ? { 'content-type': ct } : {});
      res.end(body);
    });
    const b = backend(srv.url);
    const dest = (n: number): string => path.join(tmp, `r${n}`);
    assert.deepStrictEqual(await b.results(runRef(), dest(1)), { kind: 'stdout', text: '9.0' });
    assert.deepStrictEqual(await b.results(runRef(), dest(2)), { kind: 'stdout', text: '70.0' });
    assert.deepStrictEqual(await b.results(runRef({ returnedType: 'run.zip' }), dest(3)), { kind: 'file', path: dest(3), bytes: zip.length });
    assert.deepStrictEqual(await b.results(runRef({ returnedType: 'run.zip' }), dest(4)), { kind: 'file', path: dest(4), bytes: zip.length });
    assert.ok(fs.readFileSync(dest(4)).equals(zip));
    assert.deepStrictEqual(await b.results(runRef({ returnedType: 'stdout.txt' }), dest(5)), { kind: 'file', path: dest(5), bytes: 25 });
    const out6 = await b.results(runRef({ returnedType: 'stdout.txt' }), dest(6));
    assert.strictEqual(out6.kind, 'file');
    assert.strictEqual(fs.readFileSync(dest(6), 'utf8'), '{"looks": "like json", "but": "is a stdout.txt"}');
    const d = await b.results(runRef({ returnedType: 'run.zip', toDownload: true }), dest(7));
    assert.deepStrictEqual(d.kind === 'downloadKey' && d.key, '20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024');
  });

  it('fails clearly on error bodies, HTML pages, empty and unparsable answers, without writing files', async () => {
    const answers: [number, string, string][] = [
      [200, 'application/json', '{"error": "Results not ready", "more": [], "type": "NotReady"}'],
      [200, 'text/html', fixtureText('htmlError.html')],
      [500, 'text/html', fixtureText('htmlError.html')],
      [200, 'application/json', ''],
      [200, 'application/json', '{"info": {"report": {"cr": "WAIT"}}}'],
      [200, '', ''],
      [200, 'application/json', '{truncated'],
    ];
    const srv = await start((_req, res, n) => {
      const [st, ct, body] = answers[n - 1];
      res.writeHead(st, ct ? { 'content-type': ct } : {});
      res.end(body);
    });
    const b = new WsBackend({ baseUrl: srv.url, getToken: async () => undefined, attempts: 1 });
    backends.push(b);
    const dest = path.join(tmp, 'r');
    const e1 = await rejects(b.results(runRef(), dest), 'server', /Results not ready/);
    assert.strictEqual(e1.details.type, 'NotReady');
    await rejects(b.results(runRef(), dest), 'malformed', /web page.*Server Error \(500\)/);
    await rejects(b.results(runRef(), dest), 'server', /HTTP 500.*Server Error \(500\)/);
    await rejects(b.results(runRef(), dest), 'malformed', /not JSON.*empty body/);
    await rejects(b.results(runRef(), dest), 'notReady');
    await rejects(b.results(runRef(), dest), 'malformed', /empty body/);
    await rejects(b.results(runRef(), dest), 'malformed', /not JSON.*\{truncated/);
    assert.deepStrictEqual(fs.readdirSync(tmp), []);
  });

  it('refuses a JSON answer larger than the bound', async () => {
    const srv = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ info: { report: { cr: 'OK' } }, pad: 'x'.repeat(200_000) }));
    });
    const c = new WsClient({ baseUrl: srv.url, maxJsonBytes: 100_000, attempts: 1 });
    try {
      await rejects(c.state('sw_example', KEY), 'malformed', /larger than/);
    } finally {
      await c.close();
    }
  });

  it('does not follow a redirect of a POST', async () => {
    const srv = await start((_req, res) => {
      res.writeHead(301, { location: '/api/software/muse/run/sw_example' });
      res.end();
    });
    await rejects(backend(srv.url).submit({ software: 'sw_example', cmd: 'x' }), 'server', /redirected.*HTTP 301/);
    assert.strictEqual(srv.seen.length, 1);
  });

  it('recognises a refused token (401, 403, texts about the token) and never shows it', async () => {
    const token = jwt(3600);
    const answers: [number, unknown][] = [
      [401, { detail: 'Authentication credentials were not provided.' }],
      [403, { error: 'forbidden' }],
      [400, { error: `Signature verification failed for ${token}` }],
      [200, { error: 'Error decoding token.' }],
    ];
    const srv = await start((req, res, n) => {
      req.resume();
      req.on('end', () => json(res, answers[n - 1][0], answers[n - 1][1]));
    });
    const b = backend(srv.url, token);
    for (let i = 0; i < answers.length; i++) {
      const e = await rejects(b.submit({ software: 'sw_example', cmd: 'x' }), 'auth', /sign in again/);
      assert.ok(!e.message.includes(token) && !String(e.details.serverError).includes(token), 'token hidden');
    }
  });

  it('refuses an expired token before sending anything, and a missing one', async () => {
    const srv = await start((_req, res) => json(res, 200, {}));
    await rejects(backend(srv.url, jwt(-60)).submit({ software: 'sw_example', cmd: 'x' }), 'auth', /expired/);
    await rejects(backend(srv.url, null).submit({ software: 'sw_example', cmd: 'x' }), 'auth', /sign in/);
    await rejects(backend(srv.url, jwt(-60)).runSync({ software: 'sw_example', cmd: 'x' }, path.join(tmp, 'x')), 'auth', /expired/);
    assert.deepStrictEqual(srv.seen, []);
  });

  it('obtains a token (token, access or jwt field) and verifies tokens', async () => {
    const good = jwt(3600);
    const srv = await start((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const b = JSON.parse(body) as Record<string, string>;
        if (req.url === '/api/jwt/obtain/') {
          if (b.password !== 'secret') return json(res, 400, { non_field_errors: ['Unable to log in with provided credentials.'] });
          return json(res, 200, b.username === 'alice' ? { token: good } : { access: good, refresh: 'r' });
        }
        if (req.url === '/api/jwt/verify/') return b.jwt === good ? json(res, 200, { token: good }) : json(res, 400, { error: 'Error decoding signature.' });
        json(res, 404, { error: 'nope' });
      });
    });
    const c = backend(srv.url).client;
    assert.strictEqual(await c.obtainToken('alice', 'secret'), good);
    assert.strictEqual(await c.obtainToken('bob', 'secret'), good);
    const e = await rejects(c.obtainToken('alice', 'wrong-password'), 'auth', /Login refused.*Unable to log in/);
    assert.ok(!e.message.includes('wrong-password'));
    assert.strictEqual(await c.verifyToken(good), true);
    assert.strictEqual(await c.verifyToken(jwt(1800)), false);
    const n = srv.seen.length;
    assert.strictEqual(await c.verifyToken(jwt(-10)), false);
    assert.strictEqual(srv.seen.length, n, 'an expired token is refused without asking');
  });

  it('lists the software, runs synchronously, and downloads a kept result', async () => {
    const srv = await start((req, res) => {
      req.resume();
      if (req.url === '/api/software/list/') return void res.end(fixtureText('softwareList.json'));
      if (req.url === '/api/software/run/sw_example/') return req.on('end', () => json(res, 200, { info: { stdout: '9.0' } }));
      if (req.url === '/api/download/?key=20210119_130603_abc') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 5 });
        return void res.end('hello');
      }
      json(res, 404, { error: `no route ${req.url}` });
    });
    const b = backend(srv.url);
    assert.deepStrictEqual((await b.listSoftware()).map((s) => s.name), ['sw_example', 'bare']);
    assert.deepStrictEqual(await b.runSync({ software: 'sw_example', cmd: 'python /add.py 4 5' }, path.join(tmp, 'sync')), { kind: 'stdout', text: '9.0' });
    const dest = path.join(tmp, 'dl.bin');
    assert.deepStrictEqual(await b.download('20210119_130603_abc', dest), { path: dest, bytes: 5 });
    assert.strictEqual(fs.readFileSync(dest, 'utf8'), 'hello');
    await rejects(b.download('nope', path.join(tmp, 'x')), 'notFound', /no route/);
  });

  it('builds stdout and stderr from the content zip', async () => {
    const zip = await makeZip({ '__WS__stdout.txt': '9.0\n', '__WS__stderr.txt': 'warning: x\n', 'stdin.txt': '4 5' });
    const srv = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip.length });
      res.end(zip);
    });
    const b = backend(srv.url);
    const out = path.join(tmp, 'stdout.txt');
    const err = path.join(tmp, 'stderr.txt');
    assert.deepStrictEqual(await b.output(runRef(), 'stdout', out), { path: out, bytes: 4 });
    assert.deepStrictEqual(await b.output(runRef(), 'stderr', err), { path: err, bytes: 11 });
    assert.strictEqual(fs.readFileSync(out, 'utf8'), '9.0\n');
    assert.strictEqual(fs.readFileSync(err, 'utf8'), 'warning: x\n');
    assert.deepStrictEqual(fs.readdirSync(tmp).sort(), ['stderr.txt', 'stdout.txt']);
  });

  it('times out a server that never answers', async () => {
    const srv = await start(() => undefined);
    const b = new WsBackend({ baseUrl: srv.url, getToken: async () => undefined, timeoutMs: 200, attempts: 2, retryDelayMs: 10 });
    backends.push(b);
    const m = await b.states([runRef()]);
    assert.ok(isMuseError(m.get('run-1'), 'network'));
    assert.match((m.get('run-1') as Error).message, /did not answer/);
    assert.strictEqual(srv.seen.length, 2);
  });

  describe('through a proxy', () => {
    const saved: Record<string, string | undefined> = {};
    const VARS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];
    beforeEach(() => {
      for (const v of VARS) {
        saved[v] = process.env[v];
        delete process.env[v];
      }
    });
    afterEach(() => {
      for (const v of VARS) {
        if (saved[v] === undefined) delete process.env[v];
        else process.env[v] = saved[v];
      }
    });

    async function startProxy(): Promise<TestServer> {
      // A plain forwarding proxy: absolute-URI requests in, the same request out.
      return start((req, res) => {
        const target = new URL(req.url ?? '');
        const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
    }

    it('goes through HTTP_PROXY, and not when NO_PROXY names the host', async () => {
      const srv = await start((_req, res) => void res.end(fixtureText('exampleA.state.json')));
      const proxy = await startProxy();
      process.env.HTTP_PROXY = proxy.url.replace(/\/api\/$/, '');
      const m = await backend(srv.url).states([runRef()]);
      assert.strictEqual((m.get('run-1') as { state: string }).state, 'ok');
      assert.strictEqual(proxy.seen.length, 1);
      assert.match(proxy.seen[0], new RegExp(`^GET ${srv.url}software/muse/state/`));
      // Multipart bodies go through too.
      const f = path.join(tmp, 'in.txt');
      fs.writeFileSync(f, 'data');
      await backend(srv.url).submit({ software: 'sw_example', cmd: 'x', files: [{ path: f, name: 'in.txt' }] }).catch(() => undefined);
      assert.strictEqual(proxy.seen.length, 2);
      process.env.NO_PROXY = '127.0.0.1';
      await backend(srv.url).states([runRef()]);
      assert.strictEqual(proxy.seen.length, 2);
      assert.strictEqual(srv.seen.length, 3);
    });
  });
});

function makeZip(files: Record<string, string>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = new yazl.ZipFile();
    for (const [name, text] of Object.entries(files)) z.addBuffer(Buffer.from(text), name);
    z.end();
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
  });
}
