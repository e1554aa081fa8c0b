import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../support/repoRoot';

const fixtures = path.join(repoRoot(), 'test', 'fixtures', 'singularity');
const standIn = path.join(fixtures, 'singularity');

function hasBwrap(): boolean {
  return spawnSync('bwrap', ['--version']).status === 0;
}

describe('singularity stand-in (bubblewrap)', function () {
  let tmp: string;
  let image: string;
  let work: string;
  let log: string;

  function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
    return spawnSync(standIn, args, {
      cwd: opts.cwd ?? work,
      env: { ...process.env, MUSE_SINGULARITY_LOG: log, ...opts.env },
      input: opts.input ?? '',
      encoding: 'utf8',
      timeout: 30_000,
    });
  }

  before(function () {
    assert.ok(hasBwrap(), 'bubblewrap is not installed: apt-get install -y --no-install-recommends bubblewrap');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sing-'));
    fs.chmodSync(tmp, 0o755); // the unprivileged-user test reads the image from here
    image = path.join(tmp, 'sw_example');
    const built = spawnSync('bash', [path.join(fixtures, 'build-image.sh'), image], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    work = path.join(tmp, 'work dir'); // a space, as users' folders have
    fs.mkdirSync(work);
    log = path.join(tmp, 'calls.jsonl');
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs python /add.py 4 5 in the image and prints 9.0', function () {
    const r = run(['exec', image, 'python', '/add.py', '4', '5']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '9.0\n');
    assert.equal(r.status, 0);
  });

  it('reads ./stdin.txt when add.py gets no arguments (seed example E)', function () {
    fs.writeFileSync(path.join(work, 'stdin.txt'), '30 40\n');
    try {
      const r = run(['exec', image, 'python', '/add.py']);
      assert.equal(r.stdout, '70.0\n');
    } finally {
      fs.rmSync(path.join(work, 'stdin.txt'));
    }
  });

  it('building the image twice gives the same image', function () {
    const again = spawnSync('bash', [path.join(fixtures, 'build-image.sh'), image], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(run(['exec', image, 'python', '/add.py', '1', '2']).stdout, '3.0\n');
  });

  it('passes the command exit code through', function () {
    assert.equal(run(['exec', image, 'sh', '-c', 'exit 3']).status, 3);
    assert.equal(run(['exec', image, 'python', '/add.py', 'x']).status, 2);
  });

  it('binds the current folder read-write and starts there; the rest stays off the host', function () {
    const marker = `muse-escape-${process.pid}-${Date.now()}`;
    const r = run(['exec', image, 'sh', '-c',
      `pwd; echo out > result.txt; touch /${marker} 2>/dev/null; mkdir -p /opt/${marker} 2>/dev/null; echo x > /tmp/${marker}; true`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), work);
    assert.equal(fs.readFileSync(path.join(work, 'result.txt'), 'utf8'), 'out\n');
    assert.ok(!fs.existsSync(`/${marker}`), 'a file written at / reached the host');
    assert.ok(!fs.existsSync(`/opt/${marker}`), 'a folder made in /opt reached the host');
    assert.ok(!fs.existsSync(`/tmp/${marker}`), 'the sandbox /tmp is the host /tmp');
  });

  it('keeps the root read-only, like a SIF image', function () {
    const r = run(['exec', image, 'sh', '-c', 'touch /add.py.new']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Read-only file system/);
  });

  it('honours --bind src:dst:ro, --bind src:dst and --pwd', function () {
    const data = path.join(tmp, 'data');
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, 'in.txt'), '1 2 3');
    const ro = run(['exec', '--bind', `${data}:/data:ro`, '--pwd', '/data', image, 'sh', '-c', 'python /add.py < in.txt; touch new 2>&1; echo rc=$?']);
    assert.match(ro.stdout, /^6\.0\n/);
    assert.match(ro.stdout, /Read-only file system/);
    const rw = run(['exec', '-B', `${data}:/mnt/data`, image, 'sh', '-c', 'echo w > /mnt/data/written.txt']);
    assert.equal(rw.status, 0, rw.stderr);
    assert.equal(fs.readFileSync(path.join(data, 'written.txt'), 'utf8'), 'w\n');
  });

  it('--contain does not bind the current folder', function () {
    const r = run(['exec', '--contain', image, 'sh', '-c', `test -e "${work}" && echo seen || echo unseen; pwd`]);
    assert.equal(r.stdout, 'unseen\n/\n');
  });

  it('passes the host environment unless --cleanenv, and sets --env', function () {
    const env = { MUSE_TEST_VAR: 'from-host' };
    const plain = run(['exec', image, 'sh', '-c', 'echo "${MUSE_TEST_VAR:-unset} $PATH"'], { env });
    assert.equal(plain.stdout, 'from-host /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    const clean = run(['exec', '--cleanenv', '--env', 'A=b c', image, 'sh', '-c', 'echo "${MUSE_TEST_VAR:-unset} $A"'], { env });
    assert.equal(clean.stdout, 'unset b c\n');
  });

  it('runs the command in its own PID namespace', function () {
    const r = run(['exec', image, 'sh', '-c', 'ls /proc | grep -c "^[0-9]"']);
    assert.ok(Number(r.stdout.trim()) < 10, `saw ${r.stdout.trim()} processes`);
  });

  it('logs each call as one JSON line in $MUSE_SINGULARITY_LOG', function () {
    fs.rmSync(log, { force: true });
    const odd = 'it\'s "quoted" \\ $HOME\nnew line\ttab';
    run(['exec', '--pwd', '/', image, 'echo', odd]);
    run(['--version']);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0].argv, ['exec', '--pwd', '/', image, 'echo', odd]);
    assert.equal(lines[0].cwd, work);
    assert.deepEqual(lines[1].argv, ['--version']);
  });

  it('says it is the Muse Runner stand-in over bubblewrap', function () {
    for (const args of [['--version'], ['version']]) {
      const r = run(args);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /Muse Runner test stand-in/);
      assert.match(r.stdout, /bubblewrap/);
    }
  });

  it('refuses unknown options, sub-commands and missing images with exit 255', function () {
    const cases: [string[], RegExp][] = [
      [['exec', '--frobnicate', image, 'true'], /unknown option for exec: --frobnicate/],
      [['--frobnicate'], /unknown option: --frobnicate/],
      [['run', image], /'run' is not supported/],
      [['exec', path.join(tmp, 'nope'), 'true'], /could not open image/],
      [['exec', image], /needs an IMAGE and a COMMAND/],
      [['exec', '--bind', path.join(tmp, 'missing'), image, 'true'], /mount source .* doesn't exist/],
      [['exec', image, 'no-such-program', 'x'], /"no-such-program": executable file not found in \$PATH/],
      [['exec', image, '/no/such/path'], /"\/no\/such\/path": executable file not found/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.equal(r.status, 255, args.join(' '));
      assert.match(r.stderr, message);
    }
  });

  it('works for an unprivileged user', function () {
    if (process.getuid?.() !== 0) {
      // Not root: every test above already ran unprivileged.
      assert.equal(run(['exec', image, 'python', '/add.py', '2', '2']).stdout, '4.0\n');
      return;
    }
    const own = path.join(tmp, 'nobody');
    fs.mkdirSync(own);
    fs.chownSync(own, 65534, 65534);
    const r = spawnSync('runuser', ['-u', 'nobody', '--', standIn, 'exec', image, 'sh', '-c', 'id -u; python /add.py 2 2 > out.txt'], {
      cwd: own, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '65534\n');
    assert.equal(fs.readFileSync(path.join(own, 'out.txt'), 'utf8'), '4.0\n');
  });
});
