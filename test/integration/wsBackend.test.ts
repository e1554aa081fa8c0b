/**
 * WsBackend against the ws test server (test/server/museServer.ts) over real HTTP: sign-in,
 * the seed page's sequences, content and outputs, and the server's fault switches.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunRef } from '../../src/core/backend';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { isMuseError } from '../../src/core/errors';
import type { StateReport, SubmitRequest } from '../../src/core/model';
import { isFinal, normalizeRequest } from '../../src/core/model';
import { listZip } from '../../src/core/transfer/zip';
import { startMuseServer, type MuseTestServer } from '../server/museServer';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN } from '../support/singularity';
import { until } from '../support/until';

const ROOT = repoRoot();

describe('WsBackend against the ws test server', function () {
  let tmp: string;
  let server: MuseTestServer;
  let backend: WsBackend;
  let token: string | undefined;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-backend-'));
    const image = path.join(tmp, 'image');
    execFileSync('bash', [path.join(ROOT, 'test/fixtures/singularity/build-image.sh'), image], { stdio: 'pipe' });
    server = await startMuseServer({
      dataDir: path.join(tmp, 'data'),
      images: { sw_example: image },
      singularityCommand: SINGULARITY_STAND_IN,
    });
    backend = new WsBackend({ baseUrl: server.url, getToken: async () => token, attempts: 3, retryDelayMs: 20 });
    token = await backend.client.obtainToken('alice', 'secret');
  });

  after(async function () {
    await backend?.dispose();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => server.faults.clear());

  async function submitAndWait(req: SubmitRequest): Promise<{ run: RunRef; state: StateReport }> {
    const r = await backend.submit(req);
    const run: RunRef = { id: r.key, key: r.key, software: req.software, request: normalizeRequest(req), raw: {}, location: r.location };
    const state = await until(`run ${r.key} to end`, async () => {
      const st = (await backend.states([run])).get(run.id);
      assert.ok(st && !(st instanceof Error), String(st));
      return isFinal(st.state) && st;
    }, { timeoutMs: 30_000 });
    return { run, state };
  }

  const dest = (name: string): string => path.join(tmp, 'out', name);

  it('signs in, checks tokens, and refuses a wrong password', async () => {
    assert.ok(token);
    assert.strictEqual(await backend.client.verifyToken(token), true);
    assert.strictEqual(await backend.client.verifyToken(server.issueToken('alice', -60)), false);
    const e = await backend.client.obtainToken('alice', 'wrong').then(() => undefined, (x: unknown) => x);
    assert.ok(isMuseError(e, 'auth'), String(e));
  });

  it('lists the software', async () => {
    const list = await backend.listSoftware();
    assert.ok(list.some((s) => s.name === 'sw_example'), JSON.stringify(list));
  });

  it('example A: stdout 9.0, with the Slurm-like facts kept', async () => {
    const { run, state } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 4 5', returnedType: 'stdout' });
    assert.strictEqual(state.state, 'ok');
    assert.strictEqual(state.raw.cr, 'OK');
    assert.strictEqual(state.raw.latestCr, 'ENDED_OK');
    assert.match(state.raw.jobName ?? '', /^\d+-ws-sw_example$/);
    assert.match(state.raw.jobId ?? '', /^\d+$/);
    assert.deepStrictEqual(await backend.results(run, dest('a.txt')), { kind: 'stdout', text: '9.0' });
  });

  it('examples B and C: run.zip and stdout.txt are streamed to files; outputs come from the content zip', async () => {
    const b = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 4 55', returnedType: 'run.zip' });
    const zb = await backend.results(b.run, dest('b.zip'));
    assert.strictEqual(zb.kind, 'file');
    assert.ok((await listZip(dest('b.zip'))).some((e) => e.name === '__WS__stdout.txt'));
    const out = await backend.output(b.run, 'stdout', dest('b.stdout.txt'));
    assert.strictEqual(fs.readFileSync(out.path, 'utf8').trim(), '59.0');
    const content = await backend.content(b.run, dest('b.content.zip'));
    assert.ok(content.bytes > 0);

    const c = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 4 55', returnedType: 'stdout.txt' });
    const fc = await backend.results(c.run, dest('c.txt'));
    assert.strictEqual(fc.kind, 'file');
    assert.strictEqual(fs.readFileSync(dest('c.txt'), 'utf8').trim(), '59.0');
    assert.ok(!fs.readdirSync(path.join(tmp, 'out')).some((n) => n.endsWith('.part')));
  });

  it('example D: todownload gives a key, and the download is the zip', async () => {
    const { run } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 4 55', returnedType: 'run.zip', toDownload: true });
    const r = await backend.results(run, dest('d.zip'));
    assert.strictEqual(r.kind, 'downloadKey');
    if (r.kind !== 'downloadKey') return;
    const d = await backend.download(r.key, dest('d.zip'));
    assert.ok((await listZip(d.path)).some((e) => e.name === '__WS__stdout.txt'));
  });

  it('examples E and F: input files, multipart, files_order', async () => {
    const stdin = path.join(tmp, 'stdin.txt');
    fs.writeFileSync(stdin, '10 20\n40\n');
    const e = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py', files: [{ path: stdin, name: 'stdin.txt' }] });
    assert.deepStrictEqual(await backend.results(e.run, dest('e')), { kind: 'stdout', text: '70.0' });
    const script = path.join(tmp, 'usrcmd.sh');
    fs.writeFileSync(script, 'python /add.py\n');
    const f = await submitAndWait({
      software: 'sw_example', cmd: 'sh usrcmd.sh',
      files: [{ path: script, name: 'usrcmd.sh' }, { path: stdin, name: 'stdin.txt' }], filesOrder: ['stdin.txt', 'usrcmd.sh'],
    });
    assert.deepStrictEqual(await backend.results(f.run, dest('f')), { kind: 'stdout', text: '70.0' });
    const post = server.requests.filter((r) => r.method === 'POST' && r.path.includes('/muse/run/')).pop();
    assert.deepStrictEqual(post?.files, ['usrcmd.sh', 'stdin.txt']);
    assert.strictEqual(post?.fields.files_order, '["stdin.txt","usrcmd.sh"]');
  });

  it('a failing command ends failed', async () => {
    const { state } = await submitAndWait({ software: 'sw_example', cmd: 'python /no-such-script.py' });
    assert.strictEqual(state.state, 'failed', JSON.stringify(state.raw));
  });

  it('runs synchronously', async () => {
    assert.deepStrictEqual(await backend.runSync({ software: 'sw_example', cmd: 'python /add.py 1 2' }, dest('sync')), { kind: 'stdout', text: '3.0' });
  });

  it('retries a state read after a 500, never a submit after a reset', async () => {
    const { run } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 1 1' });
    server.faults.set({ kind: 'status500', path: /\/state\//, times: 1 });
    const before = server.requests.length;
    const st = (await backend.states([run])).get(run.id);
    assert.ok(st && !(st instanceof Error) && st.state === 'ok', String(st));
    assert.strictEqual(server.requests.length - before, 2);

    server.faults.set({ kind: 'reset', path: /\/muse\/run\//, times: 1 });
    const n = server.requests.filter((r) => r.method === 'POST').length;
    const e = await backend.submit({ software: 'sw_example', cmd: 'python /add.py 1 1' }).then(() => undefined, (x: unknown) => x);
    assert.ok(isMuseError(e, 'network'), String(e));
    assert.ok(server.requests.filter((r) => r.method === 'POST').length - n <= 1, 'sent once at most');
  });

  it('with asyncFileWrites (the extension host), content and results arrive byte for byte as through the CLI\'s raw GET; a cut is retried the same', async () => {
    const { run } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 6 6', returnedType: 'run.zip' });
    const ext = new WsBackend({ baseUrl: server.url, getToken: async () => token, attempts: 3, retryDelayMs: 20, asyncFileWrites: true });
    try {
      const viaCli = await backend.content(run, dest('cli-content.zip'));
      const viaExt = await ext.content(run, dest('ext-content.zip'));
      assert.ok(fs.readFileSync(viaExt.path).equals(fs.readFileSync(viaCli.path)));
      server.faults.set({ kind: 'truncate', path: /\/muse\/run\//, times: 1 });
      const res = await ext.results(run, dest('ext-results.zip'));
      assert.ok(res.kind === 'file' && (await listZip(res.path)).some((e) => e.name === '__WS__stdout.txt'));
      assert.ok(!fs.existsSync(dest('ext-results.zip.part')));
    } finally {
      await ext.dispose();
    }
  });

  it('a content download cut short once is asked again and arrives whole; cut short every time, a network error and no file', async () => {
    const { run } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 2 2' });
    server.faults.set({ kind: 'truncate', path: /\/content\//, times: 1 });
    const got = await backend.content(run, dest('once.zip'));
    assert.ok((await listZip(got.path)).some((e) => e.name === '__WS__stdout.txt'));
    assert.ok(!fs.existsSync(dest('once.zip.part')));
    server.faults.set({ kind: 'truncate', path: /\/content\// });
    const e = await backend.content(run, dest('trunc.zip')).then(() => undefined, (x: unknown) => x);
    server.faults.clear();
    assert.ok(isMuseError(e, 'network'), String(e));
    assert.ok(!fs.existsSync(dest('trunc.zip')) && !fs.existsSync(dest('trunc.zip.part')));
  });

  it('error bodies and malformed answers become clear errors; an expired token is not sent', async () => {
    const { run } = await submitAndWait({ software: 'sw_example', cmd: 'python /add.py 3 3' });
    server.faults.set({ kind: 'errorBody', path: /\/muse\/run\//, times: 1 });
    const e1 = await backend.results(run, dest('x')).then(() => undefined, (x: unknown) => x);
    assert.ok(isMuseError(e1) && ['server', 'notFound', 'auth'].includes(e1.code) && e1.details.serverError, String(e1));
    server.faults.set({ kind: 'malformed', path: /\/state\//, times: 3 });
    const e2 = (await backend.states([run])).get(run.id);
    assert.ok(isMuseError(e2, 'malformed') || isMuseError(e2, 'server'), String(e2));

    const saved = token;
    token = server.issueToken('alice', -60);
    const n = server.requests.length;
    const e3 = await backend.submit({ software: 'sw_example', cmd: 'x' }).then(() => undefined, (x: unknown) => x);
    token = saved;
    assert.ok(isMuseError(e3, 'auth'), String(e3));
    assert.strictEqual(server.requests.length, n);
  });
});
