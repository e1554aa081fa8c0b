import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { MuseError } from '../../src/core/errors';
import { normalizeRequest } from '../../src/core/model';
import { RunStore } from '../../src/core/store';
import type { MuseErrorCode } from '../../src/core/errors';
import type { Profile } from '../../src/core/profiles';
import { EXIT, exitCodeFor } from '../../src/cli/exitCodes';
import { profileFromOptions } from '../../src/cli/profileCommands';
import { errorLine, runCli } from '../../src/cli/program';
import { buildRequest } from '../../src/cli/submitCommand';
import type { SubmitOptions } from '../../src/cli/submitCommand';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe('muse CLI: arguments and exit codes', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-cli-'));
    env = { MUSE_DATA_DIR: path.join(dir, 'data'), MUSE_CONFIG_DIR: path.join(dir, 'config') };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}, stdin = ''): Promise<Ran> {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (d: Buffer) => (stdout += d.toString()));
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await runCli(args, { stdout: out, stderr: err, stdin: Readable.from([stdin]), env: { ...env, ...extraEnv }, cwd: dir, signal: new AbortController().signal });
    return { code, stdout, stderr };
  }

  const opts = (o: Partial<SubmitOptions> = {}): SubmitOptions => ({ file: [], sbatch: [], module: [], cmd: 'python /add.py 4 5', ...o });
  const ctx = { resolvePath: (p: string) => path.resolve(dir, p) };
  const local: Profile = { name: 'local', kind: 'local' };

  it('maps every error code to its documented exit code', () => {
    const table: [MuseErrorCode, number][] = [
      ['usage', 2], ['unsupported', 2], ['notReady', 2], ['auth', 4], ['notFound', 5], ['cancelled', 130], ['runFailed', 1],
      ['server', 3], ['malformed', 3], ['network', 3], ['refused', 3], ['io', 3],
    ];
    for (const [code, exit] of table) assert.strictEqual(exitCodeFor(new MuseError(code, 'x')), exit, code);
    assert.strictEqual(exitCodeFor(new Error('plain')), EXIT.server);
  });

  it('documents the exit codes in --help and exits 0', async () => {
    const r = await run(['--help']);
    assert.strictEqual(r.code, 0);
    for (const line of [/0\s+ok/, /1\s+the run failed/, /2\s+usage/, /3\s+server, network/, /4\s+authentication/, /5\s+not found/, /130\s+interrupted/]) assert.match(r.stdout, line);
  });

  it('documents the file selection in "submit --help"', async () => {
    const r = await run(['submit', '--help']);
    assert.strictEqual(r.code, 0);
    assert.match(r.stdout, /--include <glob>/);
    assert.match(r.stdout, /--exclude <glob>/);
    assert.match(r.stdout, /--file FOLDER\s+its files, named FOLDER\/sub\/path/);
  });

  it('exits 2 with help for no command, an unknown command, an unknown option', async () => {
    assert.strictEqual((await run([])).code, 2);
    const u = await run(['frobnicate']);
    assert.strictEqual(u.code, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
    assert.strictEqual((await run(['runs', '--bogus'])).code, 2);
    assert.strictEqual((await run(['state'])).code, 2, 'missing argument');
  });

  it('exits 5 for an unknown run and says where it looked', async () => {
    const r = await run(['state', 'abc']);
    assert.strictEqual(r.code, 5);
    assert.match(r.stderr, /^muse: No run matches "abc" in .*runs\.json\.\n$/);
  });

  it('exits 2 naming the file for a malformed config', async () => {
    fs.mkdirSync(env.MUSE_CONFIG_DIR as string, { recursive: true });
    fs.writeFileSync(path.join(env.MUSE_CONFIG_DIR as string, 'config.json'), '{"profiles": [{"name": "x", "kind": "ws"}]}');
    const r = await run(['submit', 'sw', '--cmd', 'x']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /config\.json: profiles\[0\] \("x"\) is a ws profile: it needs a "url"/);
  });

  it('prints one line and no stack trace, unless MUSE_DEBUG=1', async () => {
    const r = await run(['submit', 'sw', '--cmd', 'x', '--returned-type', 'pdf']);
    assert.strictEqual(r.code, 2);
    assert.strictEqual(r.stderr, 'muse: --returned-type must be one of stdout, stdout.txt, run.zip (got "pdf").\n');
    const d = await run(['submit', 'sw', '--cmd', 'x', '--returned-type', 'pdf'], { MUSE_DEBUG: '1' });
    assert.match(d.stderr, /\n\s+at /);
  });

  it('adds, lists and selects profiles; --json gives data on stdout only', async () => {
    assert.strictEqual((await run(['profiles', 'add', 'muse', '--kind', 'ws', '--url', 'http://127.0.0.1:9/api', '--default'])).code, 0);
    assert.strictEqual((await run(['profiles', 'add', 'muse', '--kind', 'local'])).code, 2, 'exists without --force');
    const j = await run(['profiles', '--json']);
    assert.strictEqual(j.code, 0);
    const list = JSON.parse(j.stdout) as { name: string; default: boolean; url?: string; signedIn?: boolean }[];
    assert.deepStrictEqual(list.map((p) => [p.name, p.default]), [['muse', true], ['local', false]]);
    assert.strictEqual(list[0].url, 'http://127.0.0.1:9/api/', 'slash added');
    assert.strictEqual(list[0].signedIn, false);
    const lo = await run(['logout']);
    assert.strictEqual(lo.code, 0);
    assert.match(lo.stderr, /No token was kept for "muse"/);
    const login = await run(['--profile', 'local', 'login']);
    assert.strictEqual(login.code, 2);
    assert.match(login.stderr, /is for web API \(ws\) profiles/);
  });

  it('asks for --password-stdin when there is no terminal', async () => {
    await run(['profiles', 'add', 'muse', '--kind', 'ws', '--url', 'http://127.0.0.1:9/api/', '--username', 'alice']);
    const r = await run(['--profile', 'muse', 'login']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /standard input is not a terminal\. Use --password-stdin/);
  });

  it('builds the request: files by base name, order checked, profile defaults, repeatable options', async () => {
    fs.writeFileSync(path.join(dir, 'stdin.txt'), '1 2');
    fs.writeFileSync(path.join(dir, 'usrcmd.sh'), 'python /add.py');
    const prof: Profile = { name: 'p', kind: 'ws', url: 'http://x/api/', returnedType: 'stdout.txt', sbatchList: ['time=1'] };
    const req = await buildRequest(ctx, prof, 'sw_example', opts({ file: ['usrcmd.sh', 'stdin.txt'], filesOrder: 'stdin.txt, usrcmd.sh', module: ['python/3', 'gcc'], cmdOption: '--bind /a:/b' }));
    assert.deepStrictEqual(req, {
      software: 'sw_example',
      cmd: 'python /add.py 4 5',
      cmdOption: '--bind /a:/b',
      files: [{ path: path.join(dir, 'usrcmd.sh'), name: 'usrcmd.sh' }, { path: path.join(dir, 'stdin.txt'), name: 'stdin.txt' }],
      filesOrder: ['stdin.txt', 'usrcmd.sh'],
      returnedType: 'stdout.txt',
      sbatchList: ['time=1'],
      moduleList: ['python/3', 'gcc'],
    });
    assert.strictEqual((await buildRequest(ctx, { ...local, defaultSoftware: 'sw_example' }, undefined, opts())).software, 'sw_example');
  });

  const badRequests: [string, Partial<SubmitOptions>, RegExp][] = [
    ['no --cmd', { cmd: undefined }, /--cmd/],
    ['a missing file', { file: ['nope.txt'] }, /--file nope\.txt: no such file/],
    ['a device', { file: ['/dev/null'] }, /--file \/dev\/null: not a regular file or a folder/],
    ['an order naming no file', { filesOrder: 'a.txt' }, /--files-order names "a\.txt"/],
    ['a bad returned type', { returnedType: 'pdf' }, /--returned-type must be one of/],
    ['todownload with stdout', { todownload: true }, /--todownload works with --returned-type stdout\.txt or run\.zip/],
  ];
  for (const [what, o, msg] of badRequests) {
    it(`refuses ${what} before anything is sent`, async () => {
      await assert.rejects(buildRequest(ctx, local, 'sw_example', opts(o)), (e: unknown) => e instanceof MuseError && e.code === 'usage' && msg.test(e.message));
    });
  }

  it('refuses two files with the same base name', async () => {
    fs.mkdirSync(path.join(dir, 'a'));
    fs.writeFileSync(path.join(dir, 'a', 'x.txt'), '1');
    fs.writeFileSync(path.join(dir, 'x.txt'), '2');
    await assert.rejects(buildRequest(ctx, local, 'sw', opts({ file: ['x.txt', 'a/x.txt'] })), /two files are named "x\.txt"/);
  });

  it('sends folders and the globs of the profile and the command line, relative to the current folder', async () => {
    const put = (rel: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    put('add.py', 'print(1)');
    put('inputs/a.txt', '1');
    put('inputs/sub/b.txt', '2');
    put('inputs/skip.tmp', 't');
    put('inputs/.gitignore', 'ignored.txt\n');
    put('inputs/ignored.txt', 'i');
    put('extra/c.csv', '3');
    put('extra/d.csv', '4');
    const prof: Profile = { ...local, include: ['extra/*.csv'], exclude: ['**/d.csv'] };
    const o = opts({ file: ['add.py', 'inputs'], include: ['notes/*.md'], exclude: ['**/*.tmp'] });
    put('notes/n.md', 'n');
    const req = await buildRequest(ctx, prof, 'sw', o);
    assert.deepStrictEqual(req.files?.map((f) => f.name), ['add.py', 'inputs/.gitignore', 'inputs/a.txt', 'inputs/sub/b.txt', 'extra/c.csv', 'notes/n.md']);
    const ws: Profile = { name: 'w', kind: 'ws', url: 'http://x/api/' };
    // The web API keeps folders too now (the ws backend sends them as one zip part).
    const kept = await buildRequest(ctx, ws, 'sw', opts({ file: ['inputs'], exclude: ['**/*.tmp', '**/.gitignore'] }));
    assert.deepStrictEqual(kept.files?.map((f) => f.name), ['inputs/a.txt', 'inputs/sub/b.txt']);
  });

  it('refuses a submit without software when the profile has no default', async () => {
    await assert.rejects(buildRequest(ctx, local, undefined, opts()), /Which software\?/);
  });

  it('builds profiles from options, with clear errors', () => {
    const p = profileFromOptions('hpc', { kind: 'ssh', host: 'muse', port: '2222', image: ['sw_example=/images/sw.sif'] }, (x) => x);
    assert.deepStrictEqual(p, { name: 'hpc', kind: 'ssh', host: 'muse', port: 2222, images: { sw_example: '/images/sw.sif' } });
    assert.throws(() => profileFromOptions('hpc', { kind: 'ssh', host: 'muse', port: '99999', image: [] }, (x) => x), /--port must be a port number/);
    assert.throws(() => profileFromOptions('w', { kind: 'ws', image: [] }, (x) => x), /needs --url/);
    assert.throws(() => profileFromOptions('w', { kind: 'ftp', image: [] }, (x) => x), /--kind must be ws, ssh or local/);
    assert.throws(() => profileFromOptions('l', { kind: 'local', image: ['noequals'] }, (x) => x), /--image wants SOFTWARE=PATH/);
  });

  it('removes runs from the list by key prefix, and lists them as JSON', async () => {
    const store = new RunStore(path.join(env.MUSE_DATA_DIR as string, 'runs.json'));
    await store.load();
    const base = { profile: 'local', backend: 'local' as const, software: 'sw', request: normalizeRequest({ software: 'sw', cmd: 'x' }), state: 'ok' as const, raw: {} };
    await store.add({ ...base, id: 'id-1', key: 'aaaa1111', createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z' });
    await store.add({ ...base, id: 'id-2', key: 'bbbb2222', createdAt: '2024-01-02T00:00:00Z', updatedAt: '2024-01-02T00:00:00Z' });
    const l = await run(['runs', '--json']);
    assert.strictEqual(l.code, 0);
    assert.deepStrictEqual((JSON.parse(l.stdout) as { key: string }[]).map((r) => r.key), ['bbbb2222', 'aaaa1111']);
    const r = await run(['remove', 'aaaa']);
    assert.strictEqual(r.code, 0);
    assert.match(r.stderr, /Removed aaaa1111/);
    await store.reload();
    assert.deepStrictEqual(store.list().map((x) => x.key), ['bbbb2222']);
    assert.strictEqual((await run(['remove', 'aaaa'])).code, 5);
  });

  it('puts the server text and a sign-in hint in the error line', () => {
    const e = new MuseError('server', 'The Muse server failed the state (HTTP 200).', { serverError: 'Injected failure.' });
    assert.strictEqual(errorLine(e, undefined), 'The Muse server failed the state (HTTP 200). (server: Injected failure.)');
    assert.match(errorLine(new MuseError('auth', 'Token expired.'), undefined), /Token expired\. Sign in with: muse login/);
  });
});
