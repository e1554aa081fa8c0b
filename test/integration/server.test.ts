/**
 * The ws test server itself, over real HTTP with plain `fetch`: the seed page's sequences,
 * logins and tokens, the fault switches, Django's APPEND_SLASH, error bodies.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { listZip } from '../../src/core/transfer/zip';
import { buildRawZip } from '../fixtures/zips/rawZip';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN } from '../support/singularity';
import { until } from '../support/until';

const ROOT = repoRoot();
const BUILD_IMAGE = path.join(ROOT, 'test/fixtures/singularity/build-image.sh');
const FIXTURES = path.join(ROOT, 'test/server/fixtures');
const UUID4 = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function postJson(url: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

async function getJson(url: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Json };
}

/** Posts a multipart run request (files as [name, bytes], then the fields) and reads the JSON answer. */
async function postRunForm(server: MuseTestServer, files: [string, string | Buffer][], fields: Record<string, string | string[]>): Promise<{ status: number; json: Json }> {
  const form = new FormData();
  for (const [name, data] of files) form.append('file', new Blob([data]), name);
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) form.append(k, x);
  const res = await fetch(`${server.url}software/muse/run/sw_example/`, { method: 'POST', body: form });
  return { status: res.status, json: (await res.json()) as Json };
}

/** Submits on the "cluster" and returns the state URL and key from the answer. */
async function submit(server: MuseTestServer, body: Json, software = 'sw_example'): Promise<{ stateUrl: string; key: string; answer: Json }> {
  const { status, json } = await postJson(`${server.url}software/muse/run/${software}/`, { jwt: server.issueToken('alice'), ...body });
  assert.strictEqual(status, 200, JSON.stringify(json));
  const key = UUID4.exec(String(json.url))?.[0];
  assert.ok(key, `no uuid4 key in ${json.url}`);
  return { stateUrl: json.url, key, answer: json };
}

/** Polls the state URL until `cr` is not WAIT; returns the last state answer. */
async function waitEnd(stateUrl: string): Promise<Json> {
  return until('the run to end', async () => {
    const { status, json } = await getJson(stateUrl);
    assert.strictEqual(status, 200, JSON.stringify(json));
    return json.info.report.cr === 'WAIT' ? undefined : json;
  }, { timeoutMs: 30_000 });
}

/** A fetch whose body read fails (dropped connection) resolves to the error. */
async function readFails(res: Response): Promise<Error | undefined> {
  try {
    await res.arrayBuffer();
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

describe('ws test server', function () {
  let tmp: string;
  /** A server with the sw_example image run through the singularity stand-in. */
  let imaged: MuseTestServer;
  /** A server without images: commands run directly on this machine. */
  let plain: MuseTestServer;
  let plainData: string;
  let singularityLog: string;
  let savedLog: string | undefined;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-server-test-'));
    // The stand-in logs each call's arguments here, so tests see what the server asked for.
    singularityLog = path.join(tmp, 'singularity.log');
    savedLog = process.env.MUSE_SINGULARITY_LOG;
    process.env.MUSE_SINGULARITY_LOG = singularityLog;
    const image = path.join(tmp, 'image');
    execFileSync('bash', [BUILD_IMAGE, image], { stdio: 'pipe' });
    imaged = await startMuseServer({
      dataDir: path.join(tmp, 'imaged'),
      images: { sw_example: image },
      singularityCommand: SINGULARITY_STAND_IN,
    });
    plainData = path.join(tmp, 'plain');
    plain = await startMuseServer({ dataDir: plainData });
  });

  after(async function () {
    await imaged?.close();
    await plain?.close();
    if (savedLog === undefined) delete process.env.MUSE_SINGULARITY_LOG;
    else process.env.MUSE_SINGULARITY_LOG = savedLog;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(function () {
    imaged.faults.clear();
    plain.faults.clear();
  });

  describe('the seed page sequences', function () {
    it('A: python /add.py 4 5 in the image, state then results give stdout 9.0', async function () {
      const request = { cmd: 'python /add.py 4 5', returned_type: 'stdout', todownload: 'no' };
      const { stateUrl, key, answer } = await submit(imaged, request);
      assert.strictEqual(stateUrl, `${imaged.url}software/muse/state/sw_example/${key}/`);
      assert.ok(answer.msg.includes(`key value=${key}`), answer.msg);

      const state = await waitEnd(stateUrl);
      const report = state.info.report;
      assert.deepStrictEqual(report.request, {
        cmd: 'python /add.py 4 5',
        cmd_option: '',
        ordered_filename_list: [],
        returned_type: 'stdout',
        todownload: false,
        sbatch_list: [],
        module_list: [],
      });
      assert.deepStrictEqual(report.rsrc, { identity: 'muse' });
      assert.match(report.process.jobname, /^\d+-ws-sw_example$/);
      assert.strictEqual(typeof report.process.job_id, 'number');
      assert.strictEqual(report.process.latest_cr, 'ENDED_OK');
      assert.strictEqual(report.process.latest_state, 'COMPLETED');
      assert.strictEqual(report.name, 'sw_example');
      assert.strictEqual(report.cr, 'OK');
      assert.strictEqual(state.url, `${imaged.url}software/muse/run/sw_example/${key}/`);
      assert.ok(state.msg.includes(`software/muse/content/sw_example/${key}/`), state.msg);

      const results = await getJson(state.url);
      assert.strictEqual(results.status, 200);
      assert.strictEqual(results.json.info.stdout, '9.0');
      assert.deepStrictEqual(results.json.info.report, report);
    });

    it('runs the cmd as `singularity exec {cmd_option} {image} {cmd}` in the image', async function () {
      const { stateUrl } = await submit(imaged, { cmd: 'python /add.py 2 3', cmd_option: '--cleanenv' });
      const state = await waitEnd(stateUrl);
      assert.strictEqual((await getJson(state.url)).json.info.stdout, '5.0');
      const calls = fs
        .readFileSync(singularityLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { argv: string[] });
      const call = calls.find((c) => c.argv.join(' ').endsWith('python /add.py 2 3'));
      assert.ok(call, `no singularity call for the command in ${JSON.stringify(calls)}`);
      assert.deepStrictEqual(call.argv.slice(0, 2), ['exec', '--cleanenv']);
      assert.strictEqual(call.argv[2], path.join(tmp, 'image'));
    });

    it('A without an image: a plain command runs directly and gives its stdout', async function () {
      const { stateUrl } = await submit(plain, { cmd: 'echo 9.0', returned_type: 'stdout', todownload: 'no' });
      const state = await waitEnd(stateUrl);
      assert.strictEqual(state.info.report.cr, 'OK');
      assert.strictEqual((await getJson(state.url)).json.info.stdout, '9.0');
    });

    it('C: a form-encoded request, returned_type stdout.txt, answers the text file', async function () {
      const res = await fetch(`${imaged.url}software/muse/run/sw_example/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ cmd: 'python /add.py 4 55', returned_type: 'stdout.txt', todownload: 'no', jwt: imaged.issueToken('alice') }),
      });
      assert.strictEqual(res.status, 200);
      const state = await waitEnd(((await res.json()) as Json).url);
      assert.strictEqual(state.info.report.request.returned_type, 'stdout.txt');
      const file = await fetch(state.url);
      assert.strictEqual(file.status, 200);
      const text = await file.text();
      assert.strictEqual(text.trim(), '59.0');
      assert.strictEqual(file.headers.get('content-length'), String(Buffer.byteLength(text)));
    });

    it('D: run.zip with todownload=yes answers a download key, and download/?key= gives the zip', async function () {
      const { stateUrl } = await submit(imaged, { cmd: 'python /add.py 4 55', returned_type: 'run.zip', todownload: 'yes' });
      const state = await waitEnd(stateUrl);
      assert.strictEqual(state.info.report.request.todownload, true);
      const { status, json } = await getJson(state.url);
      assert.strictEqual(status, 200);
      const m = /download\/\?key=(\d{8}_\d{6}_[0-9a-f-]{36})$/.exec(json.url);
      assert.ok(m, `no download key in ${json.url}`);
      assert.ok(UUID4.test(m[1]));
      assert.ok(json.msg.includes(m[1]));

      const res = await fetch(json.url);
      assert.strictEqual(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.strictEqual(res.headers.get('content-length'), String(bytes.length));
      const zip = path.join(tmp, 'd.zip');
      fs.writeFileSync(zip, bytes);
      const names = (await listZip(zip)).map((e) => e.name);
      assert.ok(names.some((n) => /stdout/.test(n)), `no stdout file in run.zip: ${names.join(', ')}`);
    });

    it('B: run.zip answers the zipped run folder, stdout file included', async function () {
      const { stateUrl } = await submit(imaged, { cmd: 'python /add.py 4 55', returned_type: 'run.zip', todownload: 'no' });
      const state = await waitEnd(stateUrl);
      const res = await fetch(state.url);
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.headers.get('content-type'), 'application/zip');
      const zip = path.join(tmp, 'b.zip');
      fs.writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
      assert.ok((await listZip(zip)).some((e) => e.name === '__WS__stdout.txt'));
    });

    it('files_order: copied in that order, a zip unzipped where it lands, later files overwrite', async function () {
      const send = async (order: string[]): Promise<string> => {
        const res = await postRunForm(
          imaged,
          [
            ['data.zip', fs.readFileSync(path.join(FIXTURES, 'data.zip'))], // holds stdin.txt = "1 2"
            ['stdin.txt', fs.readFileSync(path.join(FIXTURES, 'stdin.txt'))], // 10 20 40
          ],
          { files_order: JSON.stringify(order), cmd: 'python /add.py', jwt: imaged.issueToken('alice') },
        );
        assert.strictEqual(res.status, 200);
        const state = await waitEnd(res.json.url);
        assert.deepStrictEqual(state.info.report.request.ordered_filename_list, order);
        return (await getJson(state.url)).json.info.stdout;
      };
      assert.strictEqual(await send(['data.zip', 'stdin.txt']), '70.0');
      assert.strictEqual(await send(['stdin.txt', 'data.zip']), '3.0');
    });

    it('E: a multipart upload of stdin.txt is staged in the run folder (70.0)', async function () {
      const res = await postRunForm(imaged, [['stdin.txt', fs.readFileSync(path.join(FIXTURES, 'stdin.txt'))]], {
        cmd: 'python /add.py',
        returned_type: 'stdout',
        todownload: 'no',
        jwt: imaged.issueToken('alice'),
      });
      assert.strictEqual(res.status, 200);
      const state = await waitEnd(res.json.url);
      assert.deepStrictEqual(state.info.report.request.ordered_filename_list, ['stdin.txt']);
      assert.strictEqual((await getJson(state.url)).json.info.stdout, '70.0');
    });

    it('software/run answers the result of a synchronous run directly', async function () {
      const { status, json } = await postJson(`${imaged.url}software/run/sw_example/`, {
        cmd: 'python /add.py 1 2',
        jwt: imaged.issueToken('alice'),
      });
      assert.strictEqual(status, 200, JSON.stringify(json));
      assert.strictEqual(json.info.stdout, '3.0');
      assert.strictEqual(json.info.report.cr, 'OK');
    });

    it('software/run on a failing command answers an error body with its stderr', async function () {
      const { status, json } = await postJson(`${plain.url}software/run/sw_example/`, {
        cmd: 'echo "no such input" >&2; exit 4',
        jwt: plain.issueToken('alice'),
      });
      assert.ok(status >= 400, String(status));
      assert.strictEqual(typeof json.error, 'string');
      assert.strictEqual(typeof json.type, 'string');
      assert.ok(json.more.includes('no such input'), JSON.stringify(json.more));
    });

    it('software/list names sw_example with its description, urls and keywords', async function () {
      const { status, json } = await getJson(`${imaged.url}software/list/`);
      assert.strictEqual(status, 200);
      const sw = (json as unknown as Json[]).find((s) => s.name === 'sw_example');
      assert.ok(sw);
      assert.strictEqual(typeof sw.info.sw.desc, 'string');
      assert.strictEqual(typeof sw.info.sw.shortname, 'string');
      assert.strictEqual(typeof sw.info.sw.urls, 'object');
      assert.ok(Array.isArray(sw.info.sw.keywords));
    });
  });

  describe('run states', function () {
    it('a running job reads WAIT / IN_PROGRESS, its results are refused until it ends', async function () {
      const gate = path.join(tmp, `go-${Date.now()}`);
      const { stateUrl, key } = await submit(plain, { cmd: `while [ ! -e '${gate}' ]; do sleep 0.05; done; echo done` });
      const running = await getJson(stateUrl);
      assert.strictEqual(running.json.info.report.cr, 'WAIT');
      assert.strictEqual(running.json.info.report.process.latest_cr, 'IN_PROGRESS');
      assert.ok(['PENDING', 'RUNNING'].includes(running.json.info.report.process.latest_state));
      assert.strictEqual(running.json.url, stateUrl);

      const early = await getJson(`${plain.url}software/muse/run/sw_example/${key}/`);
      assert.ok(early.status >= 400 && early.status < 500, String(early.status));
      assert.strictEqual(typeof early.json.error, 'string');

      fs.writeFileSync(gate, '');
      const state = await waitEnd(stateUrl);
      assert.strictEqual(state.info.report.cr, 'OK');
      assert.strictEqual((await getJson(state.url)).json.info.stdout, 'done');
    });

    it('a failing command ends NOK / ENDED_NOK / FAILED, and its content zip is there to investigate', async function () {
      const { stateUrl, key } = await submit(plain, { cmd: 'echo oops >&2; exit 3' });
      const state = await waitEnd(stateUrl);
      const report = state.info.report;
      assert.strictEqual(report.cr, 'NOK');
      assert.strictEqual(report.process.latest_cr, 'ENDED_NOK');
      assert.strictEqual(report.process.latest_state, 'FAILED');

      const refused = await getJson(`${plain.url}software/muse/run/sw_example/${key}/`);
      assert.ok(refused.status >= 400 && refused.status < 500);
      assert.strictEqual(typeof refused.json.error, 'string');

      const res = await fetch(`${plain.url}software/muse/content/sw_example/${key}/`);
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.headers.get('content-type'), 'application/zip');
      const zip = path.join(tmp, 'nok.zip');
      fs.writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
      assert.ok((await listZip(zip)).length > 0);
    });

    it('an unknown key or software answers a 4xx with an error body', async function () {
      for (const url of [
        `${plain.url}software/muse/state/sw_example/00000000-0000-4000-8000-000000000000/`,
        `${plain.url}software/muse/run/sw_example/00000000-0000-4000-8000-000000000000/`,
        `${plain.url}software/muse/content/sw_example/00000000-0000-4000-8000-000000000000/`,
        `${plain.url}download/?key=20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024`,
      ]) {
        const { status, json } = await getJson(url);
        assert.strictEqual(status, 404, url);
        assert.strictEqual(typeof json.error, 'string');
        assert.ok(Array.isArray(json.more));
        assert.strictEqual(typeof json.type, 'string');
      }
      const { status, json } = await postJson(`${plain.url}software/muse/run/no_such_sw/`, { cmd: 'true', jwt: plain.issueToken('alice') });
      assert.strictEqual(status, 404);
      assert.match(json.error, /no_such_sw/);
    });

    it('refuses a bad returned_type, a files_order naming an absent file, an odd file name, and names the runner cannot stage', async function () {
      const jwt = plain.issueToken('alice');
      const bad = await postJson(`${plain.url}software/muse/run/sw_example/`, { cmd: 'true', returned_type: 'pdf', jwt });
      assert.strictEqual(bad.status, 400);
      assert.match(bad.json.error, /returned_type/);

      const order = await postRunForm(plain, [['a.txt', 'x']], { files_order: '["a.txt","b.txt"]', jwt });
      assert.strictEqual(order.status, 400);
      assert.match(order.json.error, /b\.txt/);

      const odd = await postRunForm(plain, [['..', 'x']], { jwt });
      assert.strictEqual(odd.status, 400);

      // Names the runner refuses as the user's mistake (usage errors): 400 as well. Two uploads
      // of one name, and a file named like a folder a zip sent before it made.
      const twice = await postRunForm(plain, [['a.txt', '1'], ['a.txt', '2']], { cmd: 'true', jwt });
      assert.strictEqual(twice.status, 400);
      assert.match(twice.json.error, /a\.txt/);
      const clash = await postRunForm(plain, [['data.zip', buildRawZip([{ name: 'data/a.txt', data: 'A' }])], ['data', 'a file']], { cmd: 'true', jwt });
      assert.strictEqual(clash.status, 400);
      assert.match(clash.json.error, /"data"/);
      // Refused uploads are not kept anywhere.
      assert.deepStrictEqual(fs.readdirSync(path.join(plainData, 'ws-uploads')), []);
    });

    it('refuses a zip whose entries leave the run folder, and writes nothing outside it', async function () {
      const before = fs.readdirSync(path.join(plainData, 'ws-runs')).length;
      // evil.zip holds ../evil.txt
      const res = await postRunForm(plain, [['evil.zip', fs.readFileSync(path.join(FIXTURES, 'evil.zip'))]], { cmd: 'true', jwt: plain.issueToken('alice') });
      assert.strictEqual(res.status, 400);
      assert.match(res.json.error, /evil/);
      assert.strictEqual(fs.readdirSync(path.join(plainData, 'ws-runs')).length, before);
      assert.ok(!fs.existsSync(path.join(plainData, 'evil.txt')));
      assert.ok(!fs.existsSync(path.join(plainData, 'local-runs', 'evil.txt')));
      assert.deepStrictEqual(fs.readdirSync(path.join(plainData, 'ws-uploads')), []);
    });
  });

  describe('logins and tokens', function () {
    it('jwt/obtain gives a token that jwt/verify accepts and the run endpoint takes', async function () {
      const login = await postJson(`${plain.url}jwt/obtain`, { username: 'alice', password: 'secret' });
      assert.strictEqual(login.status, 200);
      assert.strictEqual(typeof login.json.token, 'string');
      const verify = await postJson(`${plain.url}jwt/verify`, { jwt: login.json.token });
      assert.strictEqual(verify.status, 200);
      assert.strictEqual(verify.json.token, login.json.token);
      const form = await fetch(`${plain.url}jwt/obtain`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'alice', password: 'secret' }),
      });
      assert.strictEqual(form.status, 200);
    });

    it('a refused login answers 400 with an error body and no token', async function () {
      const { status, json } = await postJson(`${plain.url}jwt/obtain`, { username: 'alice', password: 'wrong' });
      assert.strictEqual(status, 400);
      assert.strictEqual(json.error, 'Unable to log in with provided credentials.');
      assert.strictEqual(json.token, undefined);
      const missing = await postJson(`${plain.url}jwt/obtain`, { username: 'alice' });
      assert.strictEqual(missing.status, 400);
      assert.ok(missing.json.password);
    });

    it('an expired, forged or missing token gets a 401 that says so, and nothing runs', async function () {
      const runsDir = path.join(plainData, 'ws-runs');
      const before = fs.readdirSync(runsDir).length;
      const cases: [string | undefined, RegExp, string][] = [
        [plain.issueToken('alice', -5), /Signature has expired/, 'AuthenticationFailed'],
        [imaged.issueToken('alice'), /Error decoding signature/, 'AuthenticationFailed'], // another server's secret
        [undefined, /credentials were not provided/, 'NotAuthenticated'],
      ];
      for (const [jwt, text, type] of cases) {
        for (const endpoint of ['software/muse/run/sw_example/', 'software/run/sw_example/']) {
          const { status, json } = await postJson(`${plain.url}${endpoint}`, { cmd: `touch '${path.join(tmp, 'must-not-exist')}'`, jwt });
          assert.strictEqual(status, 401, endpoint);
          assert.match(json.error, text);
          assert.strictEqual(json.type, type);
        }
      }
      assert.strictEqual(fs.readdirSync(runsDir).length, before);
      assert.ok(!fs.existsSync(path.join(tmp, 'must-not-exist')));

      const verify = await postJson(`${plain.url}jwt/verify`, { jwt: plain.issueToken('alice', -5) });
      assert.strictEqual(verify.status, 400);
      assert.match(verify.json.error, /Signature has expired/);
    });
  });

  describe('APPEND_SLASH', function () {
    it('a URL without its trailing slash answers 301 to the slashed form, POST included, and runs nothing', async function () {
      const get = await fetch(`${plain.url}software/list`, { redirect: 'manual' });
      assert.strictEqual(get.status, 301);
      assert.strictEqual(get.headers.get('location'), '/api/software/list/');

      const submits = () => plain.requests.filter((r) => r.method === 'POST').length;
      const runsDir = path.join(plainData, 'ws-runs');
      const before = fs.readdirSync(runsDir).length;
      const postsBefore = submits();
      const post = await fetch(`${plain.url}software/muse/run/sw_example`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ cmd: 'true', jwt: plain.issueToken('alice') }),
      });
      assert.strictEqual(post.status, 301);
      assert.strictEqual(post.headers.get('location'), '/api/software/muse/run/sw_example/');
      assert.strictEqual(submits(), postsBefore + 1);
      assert.strictEqual(fs.readdirSync(runsDir).length, before);

      const dl = await fetch(`${plain.url}download?key=abc`, { redirect: 'manual' });
      assert.strictEqual(dl.headers.get('location'), '/api/download/?key=abc');
    });
  });

  describe('fault switches', function () {
    it('delay: the answer comes only after delayMs (a short client timeout gives up), then normal', async function () {
      plain.faults.set({ kind: 'delay', path: /software\/list/, delayMs: 5000, times: 1 });
      await assert.rejects(fetch(`${plain.url}software/list/`, { signal: AbortSignal.timeout(200) }));
      const after = await getJson(`${plain.url}software/list/`);
      assert.strictEqual(after.status, 200);
    });

    it('status500: a 500 with an HTML body, for `times` requests only', async function () {
      plain.faults.set({ kind: 'status500', path: /software\/list/, times: 2 });
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${plain.url}software/list/`);
        assert.strictEqual(res.status, 500);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        assert.match(await res.text(), /Server Error \(500\)/);
      }
      assert.strictEqual((await fetch(`${plain.url}software/list/`)).status, 200);
    });

    it('malformed: a 200 whose JSON does not parse', async function () {
      plain.faults.set({ kind: 'malformed', times: 1 });
      const res = await fetch(`${plain.url}software/list/`);
      assert.strictEqual(res.status, 200);
      const text = await res.text();
      assert.throws(() => JSON.parse(text));
    });

    it('errorBody: a 200 holding {error, more, type}', async function () {
      plain.faults.set({ kind: 'errorBody', path: /muse\/state/, times: 1 });
      const { stateUrl } = await submit(plain, { cmd: 'true' });
      const { status, json } = await getJson(stateUrl);
      assert.strictEqual(status, 200);
      assert.strictEqual(typeof json.error, 'string');
      assert.ok(Array.isArray(json.more));
      assert.strictEqual(typeof json.type, 'string');
      // `path` restricted it: the submit went through, and the next state read is normal.
      assert.strictEqual((await getJson(stateUrl)).json.info.report.name, 'sw_example');
    });

    it('reset: the connection drops before any answer, and the request is recorded once', async function () {
      plain.faults.set({ kind: 'reset', path: /muse\/run\/sw_example\/$/, times: 1 });
      const start = plain.requests.length;
      await assert.rejects(postJson(`${plain.url}software/muse/run/sw_example/`, { cmd: 'true', jwt: plain.issueToken('alice') }));
      const seen = plain.requests.slice(start).filter((r) => r.method === 'POST');
      assert.strictEqual(seen.length, 1);
      assert.strictEqual(seen[0].fields.jwt, '***');
      assert.strictEqual(seen[0].fields.cmd, 'true');
    });

    it('truncate: a big download announces its length and drops half way, on download/ and content/', async function () {
      const size = 3 * 1024 * 1024;
      const { stateUrl, key } = await submit(plain, { cmd: `head -c ${size} /dev/urandom`, returned_type: 'stdout.txt', todownload: 'yes' });
      const state = await waitEnd(stateUrl);
      const { json } = await getJson(state.url);

      plain.faults.set({ kind: 'truncate', path: /download\//, times: 1 });
      const cut = await fetch(json.url);
      assert.strictEqual(cut.status, 200);
      assert.strictEqual(cut.headers.get('content-length'), String(size));
      assert.ok(await readFails(cut), 'reading a truncated body must fail');

      const whole = await fetch(json.url);
      assert.strictEqual(Buffer.from(await whole.arrayBuffer()).length, size);

      plain.faults.set({ kind: 'truncate', path: /content\//, times: 1 });
      const cutZip = await fetch(`${plain.url}software/muse/content/sw_example/${key}/`);
      assert.strictEqual(cutZip.status, 200);
      assert.ok(Number(cutZip.headers.get('content-length')) > size / 2);
      assert.ok(await readFails(cutZip), 'reading a truncated zip must fail');
    });

    it('truncate on a JSON answer drops it half way too', async function () {
      plain.faults.set({ kind: 'truncate', path: /software\/list/, times: 1 });
      const res = await fetch(`${plain.url}software/list/`);
      assert.ok(await readFails(res));
    });
  });

  describe('request log', function () {
    it('records one request for 100 files, with their names, the fields, and the jwt masked', async function () {
      const names = Array.from({ length: 100 }, (_, i) => `in${String(i).padStart(3, '0')}.txt`);
      const start = plain.requests.length;
      const res = await postRunForm(plain, names.map((n): [string, string] => [n, `${n}\n`]), {
        cmd: 'cat in099.txt',
        sbatch_list: ['mail-user=a@b.c', 'mail-type=END'],
        module_list: '["python/3"]',
        jwt: plain.issueToken('alice'),
      });
      assert.strictEqual(res.status, 200);
      const stateUrl = res.json.url;
      const posts = plain.requests.slice(start);
      assert.strictEqual(posts.length, 1);
      assert.deepStrictEqual(posts[0].files, names);
      assert.strictEqual(posts[0].fields.jwt, '***');
      assert.match(posts[0].contentType ?? '', /^multipart\/form-data/);

      const state = await waitEnd(stateUrl);
      assert.deepStrictEqual(state.info.report.request.sbatch_list, ['mail-user=a@b.c', 'mail-type=END']);
      assert.deepStrictEqual(state.info.report.request.module_list, ['python/3']);
      assert.deepStrictEqual(state.info.report.request.ordered_filename_list, names);
      assert.strictEqual((await getJson(state.url)).json.info.stdout, 'in099.txt');
    });
  });
});
