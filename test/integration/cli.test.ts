/**
 * The built `muse` CLI as a real child process, against the ws test server and the local
 * runner (both running the sw_example image through the singularity stand-in): the seed page's
 * examples A-F on both, then bad input: each fault switch, unknown keys, expired tokens, a
 * refused login, a download cut short, Ctrl-C. Each gives one clear line and its exit code
 * (MUSE_TEST_SHOW_STDERR=1 prints them),
 * and the run list stays whole.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { listZip } from '../../src/core/transfer/zip';
import { buildCli, runMuse, spawnMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';
import { until } from '../support/until';

describe('muse CLI (built, as a child process)', function () {
  this.timeout(120000);
  let tmp: string;
  let server: MuseTestServer;
  let env: NodeJS.ProcessEnv;
  let workDir: string;
  let n = 0;
  let image: string;

  /** A fresh folder for a command's outputs. */
  function freshDir(): string {
    const d = path.join(tmp, 'work', String(++n));
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  function muse(args: string[], o: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<MuseResult> {
    return runMuse(args, { env: o.env ?? env, cwd: o.cwd ?? workDir, input: o.input });
  }

  function expectOk(r: MuseResult, what: string): void {
    assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  /** One line on stderr (plus nothing that looks like a stack trace). */
  function expectClearError(r: MuseResult, code: number, msg: RegExp): void {
    assert.strictEqual(r.code, code, `exit ${r.code}, expected ${code}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
    if (process.env.MUSE_TEST_SHOW_STDERR) console.log('      stderr:', r.stderr.trim());
  }

  function storeFile(): string {
    return path.join(env.MUSE_DATA_DIR as string, 'runs.json');
  }

  function storedRuns(): { id: string; key?: string; state: string; lastError?: string; downloadKey?: string }[] {
    return JSON.parse(fs.readFileSync(storeFile(), 'utf8')).runs;
  }

  /** The run list still holds every run it held, and nothing half-written lies beside it. */
  function expectStoreIntact(idsBefore: string[]): void {
    const ids = new Set(storedRuns().map((r) => r.id));
    for (const id of idsBefore) assert.ok(ids.has(id), `run ${id} still listed`);
    const stray = fs.readdirSync(path.dirname(storeFile())).filter((f) => f.startsWith('runs.json') && f !== 'runs.json');
    assert.deepStrictEqual(stray, [], 'no temp, lock or corrupt file beside runs.json');
  }

  before(async function () {
    this.timeout(300000);
    buildCli();
    image = swExampleImage();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-cli-it-'));
    server = await startMuseServer({ dataDir: path.join(tmp, 'server'), images: { sw_example: image }, singularityCommand: SINGULARITY_STAND_IN });
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    delete env.MUSE_JWT;
    delete env.MUSE_PROFILE;
    delete env.MUSE_DEBUG;
    workDir = freshDir();
    expectOk(await muse(['profiles', 'add', 'ws', '--kind', 'ws', '--url', server.url, '--username', 'alice', '--default']), 'add ws profile');
    expectOk(await muse(['profiles', 'add', 'loc', '--kind', 'local', '--image', `sw_example=${image}`, '--singularity-command', SINGULARITY_STAND_IN]), 'add local profile');
    const login = await muse(['login', '--password-stdin'], { input: 'secret\n' });
    expectOk(login, 'login');
    assert.doesNotMatch(login.stdout + login.stderr, /eyJ/, 'the token is never printed');
    const tokenFile = path.join(env.MUSE_CONFIG_DIR as string, 'tokens', 'ws.jwt');
    assert.strictEqual(fs.statSync(tokenFile).mode & 0o777, 0o600);
  });

  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the exit codes in --help', async () => {
    const r = await muse(['--help']);
    expectOk(r, 'help');
    assert.match(r.stdout, /Exit codes:[\s\S]*130\s+interrupted/);
  });

  it('lists the software of the API', async () => {
    const r = await muse(['software']);
    expectOk(r, 'software');
    assert.match(r.stdout, /^sw_example\b/m);
  });

  it('--token-stdin and MUSE_JWT stand in for a stored token; login --token-stdin keeps a checked one', async () => {
    expectOk(await muse(['profiles', 'add', 'wstok', '--kind', 'ws', '--url', server.url]), 'add wstok');
    const token = server.issueToken('alice');
    const a = await muse(['--profile', 'wstok', '--token-stdin', 'submit', 'sw_example', '--cmd', 'python /add.py 1 1', '--wait'], { input: token + '\n' });
    expectOk(a, '--token-stdin');
    assert.strictEqual(a.stdout.trim().split('\n').pop(), '2.0');
    const b = await muse(['--profile', 'wstok', 'submit', 'sw_example', '--cmd', 'python /add.py 1 2', '--wait'], { env: { ...env, MUSE_JWT: token } });
    expectOk(b, 'MUSE_JWT');
    assert.strictEqual(b.stdout.trim().split('\n').pop(), '3.0');
    const tokenFile = path.join(env.MUSE_CONFIG_DIR as string, 'tokens', 'wstok.jwt');
    assert.ok(!fs.existsSync(tokenFile), 'nothing stored by using a token');
    expectClearError(await muse(['--profile', 'wstok', '--token-stdin', 'login'], { input: server.issueToken('alice', -60) }), 4, /not valid/);
    assert.ok(!fs.existsSync(tokenFile), 'an invalid token is not kept');
    expectOk(await muse(['--profile', 'wstok', '--token-stdin', 'login'], { input: token }), 'login --token-stdin');
    assert.strictEqual(fs.readFileSync(tokenFile, 'utf8').trim(), token);
  });

  for (const profile of ['ws', 'loc']) {
    describe(`seed examples through the ${profile === 'ws' ? 'web API' : 'local runner'}`, () => {
      const p = ['--profile', profile];

      it('A: stdout is printed (python /add.py 4 5 -> 9.0), the key printed first', async () => {
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py 4 5', '--wait']);
        expectOk(r, 'A');
        const lines = r.stdout.trim().split('\n');
        assert.match(lines[0], /^[0-9a-f-]{36}$/, 'the key comes first');
        assert.strictEqual(lines[lines.length - 1], '9.0');
        const run = storedRuns().find((x) => x.key === lines[0]);
        assert.strictEqual(run?.state, 'ok');
      });

      it('B: run.zip is saved to -o, holding the run folder', async () => {
        const dir = freshDir();
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'run.zip', '--wait', '-o', 'res.zip'], { cwd: dir });
        expectOk(r, 'B');
        const zip = path.join(dir, 'res.zip');
        assert.strictEqual(r.stdout.trim().split('\n').pop(), zip);
        const names = (await listZip(zip)).map((e) => e.name);
        assert.ok(names.includes('__WS__stdout.txt'), names.join(', '));
        assert.deepStrictEqual(fs.readdirSync(dir), ['res.zip'], 'nothing else written');
      });

      it('C: stdout.txt is saved in the current folder', async () => {
        const dir = freshDir();
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'stdout.txt', '--wait'], { cwd: dir });
        expectOk(r, 'C');
        const saved = r.stdout.trim().split('\n').pop() as string;
        assert.strictEqual(path.dirname(saved), dir);
        assert.strictEqual(fs.readFileSync(saved, 'utf8').trim(), '59.0');
      });

      it('D: --todownload prints a download key, and "muse download" fetches it', async () => {
        const dir = freshDir();
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'run.zip', '--todownload', '--wait'], { cwd: dir });
        expectOk(r, 'D');
        const dk = r.stdout.trim().split('\n').pop() as string;
        assert.match(dk, /^\d{8}_\d{6}_[0-9a-f-]{36}$/);
        assert.match(r.stderr, new RegExp(`muse download ${dk}`));
        assert.deepStrictEqual(fs.readdirSync(dir), [], 'nothing downloaded yet');
        const d = await muse(['download', dk, '-o', 'later.zip'], { cwd: dir });
        expectOk(d, 'download');
        const names = (await listZip(path.join(dir, 'later.zip'))).map((e) => e.name);
        assert.ok(names.includes('__WS__stdout.txt'), names.join(', '));
      });

      it('E: a stdin.txt file without files_order -> 70.0', async () => {
        const dir = freshDir();
        fs.writeFileSync(path.join(dir, 'stdin.txt'), '10 20\n40\n');
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py', '--file', 'stdin.txt', '--wait'], { cwd: dir });
        expectOk(r, 'E');
        assert.strictEqual(r.stdout.trim().split('\n').pop(), '70.0');
      });

      it('F as written: cmd=usrcmd.sh runs the sent script (not executable here, run by its shebang) -> 70.0', async () => {
        const dir = freshDir();
        fs.writeFileSync(path.join(dir, 'stdin.txt'), '10 20\n40\n');
        fs.writeFileSync(path.join(dir, 'usrcmd.sh'), '#!/bin/sh\npython /add.py\n', { mode: 0o644 });
        if (profile === 'ws') server.requests.length = 0;
        const r = await muse(
          [...p, 'submit', 'sw_example', '--cmd', 'usrcmd.sh', '--file', 'usrcmd.sh', '--file', 'stdin.txt', '--files-order', 'stdin.txt,usrcmd.sh', '--wait'],
          { cwd: dir },
        );
        expectOk(r, 'F');
        assert.strictEqual(r.stdout.trim().split('\n').pop(), '70.0');
        if (profile === 'ws') {
          const post = server.requests.find((q) => q.method === 'POST' && q.path.includes('/software/muse/run/'));
          assert.deepStrictEqual(post?.files, ['usrcmd.sh', 'stdin.txt']);
          assert.deepStrictEqual(JSON.parse(String(post?.fields.files_order)), ['stdin.txt', 'usrcmd.sh']);
        }
      });

      it('a folder, --include and --exclude: .gitignore honoured, exactly the expected files arrive', async () => {
        const dir = freshDir();
        const put = (rel: string, text: string): void => {
          fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
          fs.writeFileSync(path.join(dir, rel), text);
        };
        put('inputs/stdin.txt', '1 2\n');
        put('inputs/sub/more.txt', '3');
        put('inputs/.gitignore', 'secret.txt\n');
        put('inputs/secret.txt', 's');
        put('inputs/scratch.tmp', 't');
        put('extra/x.csv', 'x');
        put('extra/y.csv', 'y');
        // The run lists the files it finds in its folder (ours, not the runner's __ files).
        const list = `python -c "import os; print(sorted(os.path.join(r, f)[2:] for r, _, fs in os.walk('.') for f in fs if not f.startswith('__')))"`;
        if (profile === 'ws') server.requests.length = 0;
        const r = await muse(
          [...p, 'submit', 'sw_example', '--cmd', list, '--file', 'inputs', '--include', 'extra/*.csv', '--exclude', '**/*.tmp', '--exclude', '**/y.csv', '--exclude', '**/.gitignore', '--wait'],
          { cwd: dir },
        );
        expectOk(r, 'folder and globs');
        // Every backend keeps the folders; the web API gets the files in one zip part it unpacks.
        const arrived = ['extra/x.csv', 'inputs/stdin.txt', 'inputs/sub/more.txt'];
        assert.strictEqual(r.stdout.trim().split('\n').pop(), `[${arrived.map((f) => `'${f}'`).join(', ')}]`);
        if (profile === 'ws') {
          const post = server.requests.find((q) => q.method === 'POST' && q.path.includes('/software/muse/run/'));
          assert.deepStrictEqual(post?.files, ['__MUSE__files.zip']);
        }
      });

      it('a run that ends not OK exits 1 with its state, and its content can be fetched', async () => {
        const dir = freshDir();
        const r = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py four', '--wait'], { cwd: dir });
        expectClearError(r, 1, /ended failed.*muse content/);
        const key = r.stdout.trim().split('\n')[0];
        const c = await muse(['content', key.slice(0, 8), '-o', 'c.zip'], { cwd: dir });
        expectOk(c, 'content');
        const names = (await listZip(path.join(dir, 'c.zip'))).map((e) => e.name);
        assert.ok(names.includes('__WS__stderr.txt'), names.join(', '));
      });

      it('state, results and runs work on a stored run (key prefix)', async () => {
        const s = await muse([...p, 'submit', 'sw_example', '--cmd', 'python /add.py 1 2', '--wait']);
        expectOk(s, 'submit');
        const key = s.stdout.trim().split('\n')[0];
        const st = await muse(['state', key.slice(0, 10)]);
        expectOk(st, 'state');
        assert.match(st.stdout, /^state:\s+ok$/m);
        const res = await muse(['results', key]);
        expectOk(res, 'results');
        assert.strictEqual(res.stdout.trim(), '3.0');
        const js = await muse(['runs', '--all', '--json', '--no-refresh']);
        expectOk(js, 'runs --json');
        assert.ok((JSON.parse(js.stdout) as { key?: string }[]).some((x) => x.key === key));
      });
    });
  }

  describe('usage figures and rerun (local runner)', () => {
    it('state prints the usage block; rerun sends the stored request with changes and links the runs', async () => {
      const dir = freshDir();
      fs.writeFileSync(path.join(dir, 'data.txt'), 'first');
      const a = await muse(['--profile', 'loc', 'submit', 'other', '--file', 'data.txt', '--cmd', 'cat data.txt', '--wait'], { cwd: dir });
      expectOk(a, 'submit');
      const key = a.stdout.trim().split('\n')[0];
      assert.strictEqual(a.stdout.trim().split('\n').pop(), 'first');

      const st = await muse(['state', key.slice(0, 10)]);
      expectOk(st, 'state');
      assert.match(st.stdout, /^usage: CPU .* · time 0:0\d$/m);
      const js = await muse(['state', key, '--json']);
      expectOk(js, 'state --json');
      const state = JSON.parse(js.stdout) as { id: string; usage?: { source: string; elapsedSeconds?: number }; advice: unknown[] };
      assert.strictEqual(state.usage?.source, 'local');
      assert.ok((state.usage?.elapsedSeconds ?? -1) >= 0);
      assert.deepStrictEqual(state.advice, [], 'nothing was asked of the local runner: no advice');

      // The file is found again under the current folder (changed meanwhile: the rerun sends it as it is now).
      fs.writeFileSync(path.join(dir, 'data.txt'), 'second');
      const b = await muse(['rerun', key.slice(0, 10), '--cmd', 'cat data.txt; echo; echo again', '--wait'], { cwd: dir });
      expectOk(b, 'rerun');
      assert.deepStrictEqual(b.stdout.trim().split('\n').slice(-2), ['second', 'again']);
      const newKey = b.stdout.trim().split('\n')[0];
      assert.notStrictEqual(newKey, key);
      const runs = JSON.parse((await muse(['runs', '--all', '--json', '--no-refresh'])).stdout) as { id: string; key?: string; rerunOf?: string; request: { cmd: string; files: string[] } }[];
      const again = runs.find((r) => r.key === newKey)!;
      assert.strictEqual(again.rerunOf, state.id);
      assert.deepStrictEqual([again.request.cmd, again.request.files], ['cat data.txt; echo; echo again', ['data.txt']]);
      const table = await muse(['runs', '--no-refresh']);
      assert.match(table.stdout, new RegExp(`rerun of ${state.id.slice(0, 8)}`));

      // Where the file cannot be found again: a clear error naming it, nothing submitted.
      const c = await muse(['rerun', key.slice(0, 10)], { cwd: freshDir() });
      expectClearError(c, 5, /data\.txt not found/);
    });

    it('rerun --help tells how changes and advice apply', async () => {
      const r = await muse(['rerun', '--help']);
      expectOk(r, 'rerun --help');
      assert.match(r.stdout, /--apply-advice/);
      assert.match(r.stdout, /--sbatch replaces the options that say the same thing/);
    });
  });

  describe('bad input', () => {
    let finished: { key: string; id: string }; // a finished stdout run on ws
    let zipRun: string; // a finished run.zip run on ws
    let idsBefore: string[];

    before(async () => {
      server.faults.clear();
      const a = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 4 5', '--wait']);
      expectOk(a, 'setup A');
      const key = a.stdout.trim().split('\n')[0];
      finished = { key, id: storedRuns().find((r) => r.key === key)!.id };
      const b = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'run.zip', '--label', 'zip']);
      expectOk(b, 'setup B');
      zipRun = b.stdout.trim();
      const w = await muse(['state', zipRun]);
      expectOk(w, 'state B');
      // Wait (by polling the CLI) for B to end.
      await until('run B to end', async () => /^state:\s+ok$/m.test((await muse(['state', zipRun])).stdout), { timeoutMs: 60_000, intervalMs: 200 });
      idsBefore = storedRuns().map((r) => r.id);
    });
    afterEach(() => {
      server.faults.clear();
      expectStoreIntact(idsBefore);
    });

    it('an unknown key: exit 5', async () => {
      expectClearError(await muse(['state', 'nosuchkey']), 5, /No run matches "nosuchkey"/);
      expectClearError(await muse(['results', 'ffffffff']), 5, /No run matches/);
    });

    it('an unknown download key: exit 5', async () => {
      expectClearError(await muse(['download', '20200101_000000_5d3f8a7e-1111-4222-8333-944445555666', '-o', 'x.zip']), 5, /muse: .*[Nn]ot found/);
      assert.ok(!fs.existsSync(path.join(workDir, 'x.zip')));
    });

    it('fault status500 on the state: exit 3, the server status said', async () => {
      server.faults.set({ kind: 'status500', path: /\/state\// });
      expectClearError(await muse(['state', finished.key]), 3, /500/);
    });

    it('fault errorBody: exit 3 with the server\'s text', async () => {
      server.faults.set({ kind: 'errorBody', path: /\/state\// });
      expectClearError(await muse(['state', finished.key]), 3, /Injected failure: the service could not process the request\./);
    });

    it('fault malformed: exit 3, says the answer could not be read', async () => {
      server.faults.set({ kind: 'malformed', path: /\/state\// });
      const r = await muse(['state', finished.key]);
      expectClearError(r, 3, /muse: .+/);
      assert.strictEqual(r.stderr.trim().split('\n').length, 1, r.stderr);
    });

    it('fault reset: exit 3, a network error', async () => {
      server.faults.set({ kind: 'reset', path: /\/state\// });
      expectClearError(await muse(['state', finished.key]), 3, /muse: .+/);
    });

    it('fault delay beyond the profile timeout: exit 3', async () => {
      const cfgFile = path.join(env.MUSE_CONFIG_DIR as string, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
      cfg.profiles.push({ name: 'slow', kind: 'ws', url: server.url, timeoutMs: 300 });
      fs.writeFileSync(cfgFile, JSON.stringify(cfg));
      server.faults.set({ kind: 'delay', delayMs: 2000, path: /software\/list/ });
      expectClearError(await muse(['--profile', 'slow', 'software']), 3, /muse: .+/);
    });

    it('a server that closes mid-download (truncate): exit 3, nothing left beside -o', async () => {
      const dir = freshDir();
      server.faults.set({ kind: 'truncate', path: /\/software\/muse\/run\// });
      expectClearError(await muse(['results', zipRun, '-o', 'res.zip'], { cwd: dir }), 3, /muse: .+/);
      assert.deepStrictEqual(fs.readdirSync(dir), [], 'no file, no .part');
      server.faults.clear();
      expectOk(await muse(['results', zipRun, '-o', 'res.zip'], { cwd: dir }), 'results after the fault');
      assert.deepStrictEqual(fs.readdirSync(dir), ['res.zip']);
    });

    it('fault status500 on submit: exit 3, says a run may have been created, and the record says so', async () => {
      server.faults.set({ kind: 'status500', path: /\/software\/muse\/run\// });
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 1 1', '--label', 'maybe']);
      expectClearError(r, 3, /may have been created/);
      const rec = storedRuns().find((x) => x.state === 'unknown' && /may have been created/.test(x.lastError ?? ''));
      assert.ok(rec, 'the unknown run is kept with the warning');
      idsBefore.push(rec.id);
    });

    it('an expired token: exit 4, says to log in', async () => {
      expectOk(await muse(['profiles', 'add', 'wsexp', '--kind', 'ws', '--url', server.url]), 'add wsexp');
      const tokDir = path.join(env.MUSE_CONFIG_DIR as string, 'tokens');
      fs.writeFileSync(path.join(tokDir, 'wsexp.jwt'), server.issueToken('alice', -60), { mode: 0o600 });
      expectClearError(await muse(['--profile', 'wsexp', 'submit', 'sw_example', '--cmd', 'python /add.py 1']), 4, /muse login --profile wsexp/);
    });

    it('no token at all: exit 4', async () => {
      expectOk(await muse(['profiles', 'add', 'wsnone', '--kind', 'ws', '--url', server.url]), 'add wsnone');
      expectClearError(await muse(['--profile', 'wsnone', 'submit', 'sw_example', '--cmd', 'python /add.py 1']), 4, /[Nn]ot signed in.*muse login --profile wsnone/);
    });

    it('a refused login: exit 4, and no token kept', async () => {
      const r = await muse(['--profile', 'wsnone', 'login', '--username', 'alice', '--password-stdin'], { input: 'wrong\n' });
      expectClearError(r, 4, /muse: .+/);
      assert.doesNotMatch(r.stderr, /wrong/, 'the password is not echoed back');
      assert.ok(!fs.existsSync(path.join(env.MUSE_CONFIG_DIR as string, 'tokens', 'wsnone.jwt')));
    });

    it('a token file readable by others is refused with the fix', async () => {
      const f = path.join(env.MUSE_CONFIG_DIR as string, 'tokens', 'ws.jwt');
      fs.chmodSync(f, 0o644);
      try {
        expectClearError(await muse(['submit', 'sw_example', '--cmd', 'python /add.py 1']), 2, /chmod 600/);
      } finally {
        fs.chmodSync(f, 0o600);
      }
    });

    it('usage errors: exit 2', async () => {
      expectClearError(await muse(['submit', 'sw_example']), 2, /--cmd/);
      expectClearError(await muse(['submit', 'sw_example', '--cmd', 'x', '--returned-type', 'pdf']), 2, /--returned-type must be one of/);
      expectClearError(await muse(['submit', 'sw_example', '--cmd', 'x', '--file', 'nope.txt']), 2, /--file nope\.txt: no such file/);
      expectClearError(await muse(['--profile', 'nope', 'software']), 2, /No profile named "nope"/);
      expectClearError(await muse(['frobnicate']), 2, /unknown command/);
      expectClearError(await muse(['cancel', finished.key]), 2, /already ended/);
    });

    it('an input file name the runner refuses (a backslash in it) is a usage error on the local runner: exit 2', async () => {
      const dir = freshDir();
      fs.writeFileSync(path.join(dir, 'a\\b.txt'), '1 2');
      const r = await muse(['--profile', 'loc', 'submit', 'sw_example', '--cmd', 'python /add.py', '--file', 'a\\b.txt'], { cwd: dir });
      expectClearError(r, 2, /a\\b\.txt.*backslash/);
      assert.strictEqual(r.stdout, '', 'no key printed');
    });

    it('cancel on the web API: exit 2, says the API cannot cancel; the local runner can', async () => {
      const w = await muse(['submit', 'sw_example', '--cmd', 'python -c "import time; time.sleep(3)"']);
      expectOk(w, 'submit ws');
      idsBefore.push(storedRuns().find((x) => x.key === w.stdout.trim())!.id);
      expectClearError(await muse(['cancel', w.stdout.trim()]), 2, /Muse web API \(profile "ws"\) cannot cancel a run: it goes on until it ends/);
      const l = await muse(['--profile', 'loc', '--json', 'submit', 'sw_example', '--cmd', 'python -c "import time; time.sleep(30)"']);
      expectOk(l, 'submit loc --json');
      const { run } = JSON.parse(l.stdout) as { run: { id: string; key: string; state: string } };
      assert.strictEqual(run.state, 'waiting');
      idsBefore.push(run.id);
      const c = await muse(['--json', 'cancel', run.key]);
      expectOk(c, 'cancel loc');
      assert.strictEqual((JSON.parse(c.stdout) as { state: string }).state, 'cancelled');
    });

    it('a corrupt run list is set aside with a warning, never emptied silently', async () => {
      const text = fs.readFileSync(storeFile(), 'utf8');
      fs.writeFileSync(storeFile(), text.slice(0, text.length / 2));
      try {
        const r = await muse(['runs', '--no-refresh']);
        expectOk(r, 'runs');
        assert.match(r.stderr, /warning: The run store .* was unreadable .*moved to .*runs\.json\.corrupt-/);
      } finally {
        // Put the list back for the other tests.
        for (const f of fs.readdirSync(path.dirname(storeFile()))) if (f.startsWith('runs.json.corrupt-')) fs.rmSync(path.join(path.dirname(storeFile()), f));
        fs.writeFileSync(storeFile(), text);
      }
    });

    it('Ctrl-C while waiting: exit 130, the run goes on and stays listed', async () => {
      const child = spawnMuse(['--profile', 'loc', 'submit', 'sw_example', '--cmd', 'python -c "import time; time.sleep(30)"', '--wait'], { env, cwd: workDir });
      await until('the key on stdout', () => /^[0-9a-f-]{36}$/m.test(child.out()), { timeoutMs: 20_000 });
      child.kill('SIGINT');
      const r = await child.result;
      expectClearError(r, 130, /interrupted\. The run goes on: follow it with "muse state/);
      const key = r.stdout.trim();
      const rec = storedRuns().find((x) => x.key === key);
      assert.strictEqual(rec?.state, 'waiting');
      idsBefore.push(rec.id);
      expectOk(await muse(['cancel', key]), 'cancel the local run');
    });

    it('Ctrl-C after the submit was sent: exit 130, says the run may have been created', async () => {
      server.faults.set({ kind: 'delay', delayMs: 5000, path: /\/software\/muse\/run\// });
      server.requests.length = 0;
      const child = spawnMuse(['submit', 'sw_example', '--cmd', 'python /add.py 2 2'], { env, cwd: workDir });
      await until('the submit to reach the server', () => server.requests.some((q) => q.method === 'POST'), { timeoutMs: 20_000 });
      child.kill('SIGINT');
      const r = await child.result;
      expectClearError(r, 130, /interrupted\. The submit was already sent: a run may have been created/);
      const rec = storedRuns().find((x) => x.state === 'unknown' && /cancel/i.test(x.lastError ?? ''));
      assert.ok(rec, `recorded as unknown: ${JSON.stringify(storedRuns().slice(-1))}`);
      idsBefore.push(rec.id);
    });

    it('a muse killed after the submit was sent leaves no run "submitting" forever: the next command marks it unknown', async () => {
      server.faults.set({ kind: 'delay', delayMs: 5000, path: /\/software\/muse\/run\// });
      server.requests.length = 0;
      const before = new Set(storedRuns().map((x) => x.id));
      const child = spawnMuse(['submit', 'sw_example', '--cmd', 'python /add.py 3 3'], { env, cwd: workDir });
      await until('the submit to reach the server', () => server.requests.some((q) => q.method === 'POST'), { timeoutMs: 20_000 });
      child.kill('SIGKILL'); // no handler runs: the record stays as it was written before sending
      await child.result;
      const left = storedRuns().find((x) => !before.has(x.id));
      assert.strictEqual(left?.state, 'submitting', `the killed command's record: ${JSON.stringify(left)}`);
      const r = await muse(['runs', '--no-refresh']);
      expectOk(r, 'runs');
      assert.match(r.stderr, /1 run\(s\) left "submitting" by a window or muse command that stopped before the cluster answered: now "unknown"/);
      const settled = storedRuns().find((x) => x.id === left.id);
      assert.strictEqual(settled?.state, 'unknown');
      assert.match(settled.lastError ?? '', /stopped before the cluster answered.*check before submitting again/);
      const again = await muse(['runs', '--no-refresh']);
      assert.doesNotMatch(again.stderr, /left "submitting"/, 'said once');
      idsBefore.push(left.id);
    });
  });
});
