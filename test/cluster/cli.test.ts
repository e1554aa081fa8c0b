/**
 * The built `muse` CLI as a child process with an SSH profile, against the real test cluster
 * (sshd + Slurm 22.05 + the singularity stand-in; `bash test/cluster/up.sh`): every command a
 * user has over SSH (software, submit A-F with --sbatch, state, runs, results, content, cancel,
 * remove, download), a failing job, a hostile file name, a wrong key and an unknown host key.
 * Each test checks what the user sees (stdout, stderr, exit code) and the run list afterwards.
 * MUSE_TEST_SHOW_STDERR=1 prints the error lines.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { listZip, openZipEntry } from '../../src/core/transfer/zip';
import { buildCli, spawnMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { loadClusterEnv, runSsh } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';
import { until } from '../support/until';

interface StoredRun {
  id: string;
  key?: string;
  state: string;
  profile: string;
  lastError?: string;
  raw: { jobId?: string; slurmState?: string; exitCode?: number };
}

/** A name with spaces, quotes, a command substitution and non-ASCII letters. */
const HOSTILE = `in put 'q' "dq" $(touch PWNED) \`id\` ü€.txt`;

/** `s` as a literal inside a RegExp. */
function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('muse CLI with an SSH profile (real sshd + Slurm)', function () {
  this.timeout(120000);
  let cluster: ClusterEnv;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let n = 0;
  /** This run's folder on the cluster: `~/muse-runs/cli-<random>` in the profile, absolute here. */
  const runName = `cli-${randomBytes(4).toString('hex')}`;
  let remoteDir: string;

  function freshDir(): string {
    const d = path.join(tmp, 'work', String(++n));
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Runs `muse args...`; a command still running after `ms` is killed and the test fails (no hangs). */
  async function muse(args: string[], o: { cwd?: string; input?: string; ms?: number } = {}): Promise<MuseResult> {
    const child = spawnMuse(args, { env, cwd: o.cwd ?? tmp, input: o.input });
    const ms = o.ms ?? 90000;
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`muse ${args.join(' ')} still running after ${ms} ms\nstdout: ${child.out()}\nstderr: ${child.err()}`));
      }, ms);
    });
    try {
      return await Promise.race([child.result, hung]);
    } finally {
      clearTimeout(timer);
    }
  }

  function expectOk(r: MuseResult, what: string): void {
    assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  /** The exit code, the message, and no stack trace. */
  function expectClearError(r: MuseResult, code: number, msg: RegExp): void {
    assert.strictEqual(r.code, code, `exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
    if (process.env.MUSE_TEST_SHOW_STDERR) console.log('      stderr:', r.stderr.trim());
  }

  function storedRuns(): StoredRun[] {
    return (JSON.parse(fs.readFileSync(path.join(env.MUSE_DATA_DIR as string, 'runs.json'), 'utf8')) as { runs: StoredRun[] }).runs;
  }

  function stored(key: string): StoredRun {
    const r = storedRuns().find((x) => x.key === key);
    assert.ok(r, `run ${key} is in the run list`);
    return r;
  }

  /** The key a submit printed (its first stdout line). */
  function keyOf(r: MuseResult): string {
    const key = r.stdout.trim().split('\n')[0];
    assert.match(key, /^[0-9a-f-]{36}$/, `the key comes first on stdout: ${r.stdout}`);
    return key;
  }

  function lastLine(r: MuseResult): string {
    return r.stdout.trim().split('\n').pop() ?? '';
  }

  async function remote(cmd: string): Promise<string> {
    const r = await runSsh(cluster, cmd);
    assert.strictEqual(r.code, 0, `ssh ${cmd}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  function zipText(zip: string, name: string): Promise<string> {
    return openZipEntry(zip, name).then(
      (s) =>
        new Promise<string>((resolve, reject) => {
          let t = '';
          s.on('data', (d: Buffer) => (t += d.toString('utf8')));
          s.on('end', () => resolve(t));
          s.on('error', reject);
        }),
    );
  }

  /** Adds an ssh profile straight into config.json (how a user may write one by hand). */
  function writeProfile(p: Record<string, unknown>): void {
    const file = path.join(env.MUSE_CONFIG_DIR as string, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as { profiles: Record<string, unknown>[] };
    cfg.profiles.push(p);
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  }

  before(async function () {
    this.timeout(180000);
    cluster = loadClusterEnv();
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-cli-ssh-'));
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG']) delete env[k];
    const home = (await remote('printf %s "$HOME"')).trim();
    remoteDir = `${home}/muse-runs/${runName}`;
    const add = await muse([
      'profiles', 'add', 'cluster', '--kind', 'ssh', '--default',
      '--host', cluster.host, '--port', String(cluster.port), '--user', cluster.user,
      '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile,
      '--remote-root', `~/muse-runs/${runName}`,
      '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand,
    ]);
    expectOk(add, 'profiles add');
    assert.match(add.stderr, /Profile "cluster" added \(default\)/);
    assert.doesNotMatch(add.stderr, /muse login/, 'no sign-in hint for an ssh profile');
  });

  after(async function () {
    this.timeout(60000);
    if (cluster && env) {
      // Leave nothing running or lying on the cluster: cancel this suite's jobs, remove its folder.
      let ids: string[] = [];
      try {
        ids = storedRuns().map((r) => r.raw?.jobId).filter((j): j is string => Boolean(j && /^\d+$/.test(j)));
      } catch {
        // no run list: nothing was submitted
      }
      if (ids.length) await runSsh(cluster, `scancel ${ids.join(' ')} 2>/dev/null; true`).catch(() => undefined);
      if (remoteDir) await runSsh(cluster, `rm -rf -- '${remoteDir}'`).catch(() => undefined);
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('profiles lists the ssh profile; software lists sw_example', async () => {
    const p = await muse(['profiles']);
    expectOk(p, 'profiles');
    assert.match(p.stdout, new RegExp(`^\\* cluster\\s+ssh\\s+${cluster.user}@${cluster.host.replace(/\./g, '\\.')}:${cluster.port}$`, 'm'));
    const s = await muse(['software']);
    expectOk(s, 'software');
    assert.match(s.stdout, /^sw_example\b/m);
  });

  describe('submit --wait: the seed examples', () => {
    it('A: stdout printed (python /add.py 4 5 -> 9.0); --sbatch options validated and given to the job', async () => {
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 4 5', '--sbatch=--time=5', '--sbatch', 'comment=muse-cli-test', '--wait']);
      expectOk(r, 'A');
      const key = keyOf(r);
      assert.strictEqual(lastLine(r), '9.0');
      assert.match(r.stderr, new RegExp(`Submitted sw_example on "cluster": ${key}`));
      const run = stored(key);
      assert.strictEqual(run.state, 'ok');
      assert.match(run.raw.jobId ?? '', /^\d+$/);
      // What Slurm holds for the job: both options from scontrol, the time limit from sacct
      // (which lists a job without its details for a few seconds after it ends).
      await until('sacct to list the time limit', async () => {
        const acct = await remote(`sacct -X -P -n -j ${run.raw.jobId} --format=JobID,Timelimit,State`);
        return new RegExp(`^${run.raw.jobId}\\|00:05:00\\|COMPLETED`, 'm').test(acct) ? true : undefined;
      }, { timeoutMs: 30000, intervalMs: 500 });
      const job = await remote(`scontrol show job ${run.raw.jobId}`);
      assert.match(job, /TimeLimit=00:05:00/);
      assert.match(job, /Comment=muse-cli-test/);
    });

    it('--sbatch options that are not options, or that Muse sets itself, are refused before anything is sent', async () => {
      const before = (await remote(`ls -A '${remoteDir}' 2>/dev/null; true`)).split('\n').filter(Boolean).sort();
      const cases: [string, RegExp][] = [
        ['--time=5;touch /tmp/x', /sbatch option "--time=5;touch \/tmp\/x" is refused: it contains shell characters/],
        ['--output=elsewhere.txt', /--output is set by Muse Runner itself/],
        ['--time=$(id)', /is refused: it contains shell characters/],
      ];
      for (const [opt, msg] of cases) {
        const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 1', `--sbatch=${opt}`, '--label', 'refused']);
        // Exit 2: bad user input is a usage error; the message says which option and why.
        expectClearError(r, 2, msg);
        assert.strictEqual(r.stdout, '', 'no key printed');
      }
      // Nothing was made on the cluster; the run list records the refusals, without keys.
      const after = (await remote(`ls -A '${remoteDir}' 2>/dev/null; true`)).split('\n').filter(Boolean).sort();
      assert.deepStrictEqual(after, before);
      const refused = storedRuns().filter((x) => (x as { label?: string }).label === 'refused');
      assert.strictEqual(refused.length, cases.length);
      for (const x of refused) {
        assert.strictEqual(x.state, 'failed');
        assert.strictEqual(x.key, undefined);
        assert.match(x.lastError ?? '', /is refused/);
      }
    });

    it('B: run.zip saved to -o, holding __WS__stdout.txt', async () => {
      const dir = freshDir();
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'run.zip', '--wait', '-o', 'res.zip'], { cwd: dir });
      expectOk(r, 'B');
      const zip = path.join(dir, 'res.zip');
      assert.strictEqual(lastLine(r), zip);
      const names = (await listZip(zip)).map((e) => e.name);
      assert.ok(names.includes('__WS__stdout.txt'), names.join(', '));
      assert.strictEqual((await zipText(zip, '__WS__stdout.txt')).trim(), '59.0');
      assert.deepStrictEqual(fs.readdirSync(dir), ['res.zip'], 'nothing else written');
      assert.strictEqual(stored(keyOf(r)).state, 'ok');
    });

    it('C: stdout.txt saved in the current folder', async () => {
      const dir = freshDir();
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 4 55', '--returned-type', 'stdout.txt', '--wait'], { cwd: dir });
      expectOk(r, 'C');
      const saved = lastLine(r);
      assert.strictEqual(path.dirname(saved), dir);
      assert.strictEqual(fs.readFileSync(saved, 'utf8').trim(), '59.0');
      assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(saved)]);
      assert.strictEqual(stored(keyOf(r)).state, 'ok');
    });

    it('E: a stdin.txt file without files_order -> 70.0', async () => {
      const dir = freshDir();
      fs.writeFileSync(path.join(dir, 'stdin.txt'), '10 20\n40\n');
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py', '--file', 'stdin.txt', '--wait'], { cwd: dir });
      expectOk(r, 'E');
      assert.strictEqual(lastLine(r), '70.0');
      assert.strictEqual(stored(keyOf(r)).state, 'ok');
    });

    it('F as written: cmd=usrcmd.sh runs the sent script from the run folder -> 70.0', async () => {
      const dir = freshDir();
      fs.writeFileSync(path.join(dir, 'stdin.txt'), '10 20\n40\n');
      fs.writeFileSync(path.join(dir, 'usrcmd.sh'), '#!/bin/sh\npython /add.py\n', { mode: 0o644 });
      const r = await muse(
        ['submit', 'sw_example', '--cmd', 'usrcmd.sh', '--file', 'usrcmd.sh', '--file', 'stdin.txt', '--files-order', 'stdin.txt,usrcmd.sh', '--wait'],
        { cwd: dir },
      );
      expectOk(r, 'F');
      assert.strictEqual(lastLine(r), '70.0');
      const run = stored(keyOf(r));
      assert.strictEqual(run.state, 'ok');
      assert.deepStrictEqual((run as unknown as { request: { filesOrder: string[] } }).request.filesOrder, ['stdin.txt', 'usrcmd.sh']);
    });

    it('a file name with spaces, quotes, $(...), backquotes and non-ASCII arrives intact and runs nothing', async () => {
      const dir = freshDir();
      fs.writeFileSync(path.join(dir, HOSTILE), '1 2 3\n');
      fs.writeFileSync(path.join(dir, 'show.sh'), 'for f in *.txt; do case "$f" in __WS__*) continue;; esac; printf "[%s]\\n" "$f"; python /add.py < "$f"; done\n');
      const r = await muse(['submit', 'sw_example', '--cmd', 'sh show.sh', '--file', HOSTILE, '--file', 'show.sh', '--wait'], { cwd: dir });
      expectOk(r, 'hostile name');
      const key = keyOf(r);
      assert.deepStrictEqual(r.stdout.trim().split('\n').slice(1), [`[${HOSTILE}]`, '6.0']);
      // The run folder, as "muse content" gives it, holds the name as given and no PWNED file.
      const c = await muse(['content', key, '-o', 'c.zip'], { cwd: dir });
      expectOk(c, 'content');
      const names = (await listZip(path.join(dir, 'c.zip'))).map((e) => e.name);
      assert.ok(names.includes(HOSTILE), names.join(' | '));
      assert.strictEqual(await zipText(path.join(dir, 'c.zip'), HOSTILE), '1 2 3\n');
      assert.ok(!names.some((x) => /PWNED/.test(x) && x !== HOSTILE), names.join(' | '));
      assert.strictEqual((await remote(`find '${remoteDir}' "$HOME" -maxdepth 2 -name PWNED | wc -l`)).trim(), '0', 'no command ran from the name');
      assert.strictEqual(stored(key).state, 'ok');
    });
  });

  describe('a stored run: state, runs, results, content, remove', () => {
    let key: string;

    before(async () => {
      // Submitted without --wait: "runs" must be what brings it to its end.
      const r = await muse(['submit', 'sw_example', '--cmd', 'python /add.py 2 2', '--label', 'later']);
      expectOk(r, 'submit');
      key = r.stdout.trim();
      assert.match(key, /^[0-9a-f-]{36}$/);
      assert.match(r.stderr, new RegExp(`Follow it with: muse state ${key.slice(0, 8)}`));
      const run = stored(key);
      assert.match(run.raw.jobId ?? '', /^\d+$/, 'the Slurm job id is recorded at submit');
      assert.ok(['waiting', 'running', 'ok'].includes(run.state), run.state);
    });

    it('runs lists the run and refreshes it until it has ended', async () => {
      const row = new RegExp(`^${key.slice(0, 8)}\\s+(\\S+)\\s+cluster\\s+sw_example\\s+.*later$`, 'm');
      const state = await until('"muse runs" to show the run ok', async () => {
        const r = await muse(['runs']);
        expectOk(r, 'runs');
        assert.match(r.stdout, /^KEY\s+STATE\s+PROFILE/);
        const m = row.exec(r.stdout);
        assert.ok(m, `the run is listed:\n${r.stdout}`);
        return m[1] === 'ok' ? m[1] : undefined;
      }, { timeoutMs: 60000, intervalMs: 500 });
      assert.strictEqual(state, 'ok');
      assert.strictEqual(stored(key).state, 'ok', 'the refreshed state is stored');
      const js = await muse(['runs', '--json', '--no-refresh']);
      expectOk(js, 'runs --json');
      assert.ok((JSON.parse(js.stdout) as StoredRun[]).some((x) => x.key === key && x.state === 'ok'));
    });

    it('state shows the Slurm job id and state', async () => {
      const r = await muse(['state', key.slice(0, 8)]);
      expectOk(r, 'state');
      const jobId = stored(key).raw.jobId as string;
      assert.match(r.stdout, new RegExp(`^key:\\s+${key}$`, 'm'));
      assert.match(r.stdout, /^state:\s+ok$/m);
      assert.match(r.stdout, /^profile:\s+cluster \(ssh\)$/m);
      assert.match(r.stdout, /^server state:\s+COMPLETED$/m);
      // Only the id: sacct names a job "allocation" for a few seconds after it ends (reported to SSH).
      assert.match(r.stdout, new RegExp(`^job:\\s+${jobId}\\b`, 'm'));
      assert.match(r.stdout, new RegExp(`^location:\\s+${remoteDir}/${key}$`, 'm'));
    });

    it('results -o saves the stdout to a file', async () => {
      const dir = freshDir();
      const r = await muse(['results', key, '-o', 'out.txt'], { cwd: dir });
      expectOk(r, 'results');
      assert.strictEqual(lastLine(r), path.join(dir, 'out.txt'));
      assert.strictEqual(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8').trim(), '4.0');
      const p = await muse(['results', key]);
      expectOk(p, 'results to stdout');
      assert.strictEqual(p.stdout.trim(), '4.0');
    });

    it('content -o saves the run folder as a zip', async () => {
      const dir = freshDir();
      const r = await muse(['content', key.slice(0, 8), '-o', dir + '/'], { cwd: dir });
      expectOk(r, 'content');
      const zip = lastLine(r);
      assert.strictEqual(path.dirname(zip), dir);
      assert.match(r.stderr, /Saved the run folder \(.+\) to /);
      const names = (await listZip(zip)).map((e) => e.name);
      for (const want of ['__WS__stdout.txt', '__WS__stderr.txt', '__MUSE__batch.sh']) assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
      assert.strictEqual((await zipText(zip, '__WS__stdout.txt')).trim(), '4.0');
      assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(zip)], 'no .part left');
    });

    it('remove forgets the run (the run folder stays on the cluster)', async () => {
      const r = await muse(['remove', key.slice(0, 8)]);
      expectOk(r, 'remove');
      assert.match(r.stderr, new RegExp(`Removed ${key} from the list`));
      assert.ok(!storedRuns().some((x) => x.key === key));
      expectClearError(await muse(['state', key]), 5, /No run matches/);
      assert.strictEqual((await remote(`test -d '${remoteDir}/${key}' && echo yes`)).trim(), 'yes');
    });
  });

  it('Ctrl-C while waiting leaves the job running; cancel then cancels it and it leaves squeue', async function () {
    this.timeout(150000);
    const child = spawnMuse(['submit', 'sw_example', '--cmd', 'sleep 300', '--wait'], { env, cwd: tmp });
    await until('the key on stdout', () => /^[0-9a-f-]{36}$/m.test(child.out()), { timeoutMs: 30000, intervalMs: 500 });
    child.kill('SIGINT');
    const s = await child.result;
    expectClearError(s, 130, /interrupted\. The run goes on: follow it with "muse state [0-9a-f]{8}"/);
    const key = s.stdout.trim();
    assert.strictEqual(stored(key).state, 'waiting');
    const jobId = stored(key).raw.jobId as string;
    // Wait (polling the CLI) for Slurm to start it: other tests may hold the node's CPUs.
    await until('the job to run', async () => {
      const r = await muse(['state', key]);
      expectOk(r, 'state');
      return /^server state:\s+RUNNING$/m.test(r.stdout) ? true : undefined;
    }, { timeoutMs: 90000, intervalMs: 500 });
    // A running job is 'waiting' in the run model (not ended); Slurm's word is kept beside it.
    assert.strictEqual(stored(key).state, 'waiting');
    assert.strictEqual(stored(key).raw.slurmState, 'RUNNING');
    const c = await muse(['cancel', key.slice(0, 8)]);
    expectOk(c, 'cancel');
    assert.match(c.stderr, new RegExp(`Cancel asked for ${key}; it is now \\w+`));
    await until('the run to be cancelled', async () => {
      const r = await muse(['state', key]);
      expectOk(r, 'state');
      return /^state:\s+cancelled$/m.test(r.stdout) ? true : undefined;
    }, { timeoutMs: 30000, intervalMs: 500 });
    assert.strictEqual(stored(key).state, 'cancelled');
    await until('the job to leave squeue', async () => {
      const q = await runSsh(cluster, `squeue -h -j ${jobId} -o %T`);
      return /PENDING|RUNNING|COMPLETING|SUSPENDED/.test(q.stdout) ? undefined : true;
    }, { timeoutMs: 30000, intervalMs: 500 });
    expectClearError(await muse(['cancel', key]), 2, /has already ended \(cancelled\)/);
    expectClearError(await muse(['results', key]), 1, /ended cancelled/);
  });

  it('a failing command: exit 1, the tail of its stderr printed, the run failed', async () => {
    const r = await muse(['submit', 'sw_example', '--cmd', 'sh -c "echo first line >&2; echo something went wrong >&2; exit 3"', '--wait']);
    expectClearError(r, 1, /ended failed \(FAILED, exit 3\)\. See its run folder with "muse content [0-9a-f]{8}"/);
    assert.match(r.stderr, /stderr of the run \(last lines\):\n {2}first line\n {2}something went wrong\n/);
    const run = stored(keyOf(r));
    assert.strictEqual(run.state, 'failed');
    assert.strictEqual(run.raw.exitCode, 3);
  });

  it('submit --wait with the reader gone after the key (| head -1): no crash, the run still completes and is stored', async () => {
    const child = spawnMuse(['submit', 'sw_example', '--cmd', 'python /add.py 3 4', '--wait'], { env, cwd: tmp });
    let first = '';
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        first += d.toString();
        if (first.includes('\n')) {
          child.stdout?.destroy();
          resolve();
        }
      });
    });
    const key = first.split('\n')[0];
    const r = await child.result;
    assert.strictEqual(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|\n\s+at /);
    assert.strictEqual(stored(key).state, 'ok');
  });

  it('login and logout: for web API profiles only (exit 2, says so)', async () => {
    expectClearError(await muse(['login', '--username', 'x', '--password-stdin'], { input: 'pw\n' }), 2, /"muse login" is for web API \(ws\) profiles; "cluster" is an ssh profile/);
    expectClearError(await muse(['logout']), 2, /"muse logout" is for web API \(ws\) profiles/);
    assert.ok(!fs.existsSync(path.join(env.MUSE_CONFIG_DIR as string, 'tokens')), 'no token folder made');
  });

  it('download: not offered by this backend (exit 2), nothing written', async () => {
    const dir = freshDir();
    const r = await muse(['download', '20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024'], { cwd: dir });
    expectClearError(r, 2, /Slurm over SSH \(profile "cluster"\) cannot fetch results by a download key/);
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('a wrong identity file: exit 4, the message names the host and the key; no "muse login" hint', async () => {
    const key = path.join(tmp, 'wrong_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    writeProfile({
      name: 'wrongkey', kind: 'ssh', host: cluster.host, port: cluster.port, user: cluster.user, identityFile: key,
      knownHostsFile: cluster.knownHostsFile, remoteRoot: `~/muse-runs/${runName}`, images: cluster.images, singularityCommand: cluster.singularityCommand,
    });
    const r = await muse(['--profile', 'wrongkey', 'submit', 'sw_example', '--cmd', 'python /add.py 1', '--label', 'wrongkey'], { ms: 30000 });
    expectClearError(r, 4, new RegExp(`SSH login to ${re(`${cluster.user}@${cluster.host}:${cluster.port}`)} refused: tried key ${re(key)}`));
    assert.doesNotMatch(r.stderr, /muse login/);
    assert.strictEqual(r.stdout, '');
    const rec = storedRuns().find((x) => (x as { label?: string }).label === 'wrongkey');
    assert.strictEqual(rec?.state, 'failed', 'recorded as failed: nothing reached the cluster');
    assert.strictEqual(rec?.key, undefined);
  });

  it('an unknown host key with no terminal: refused at once (no hang), known_hosts untouched', async () => {
    const kh = path.join(tmp, 'empty_known_hosts');
    fs.writeFileSync(kh, '');
    writeProfile({
      name: 'newhost', kind: 'ssh', host: cluster.host, port: cluster.port, user: cluster.user, identityFile: cluster.identityFile,
      knownHostsFile: kh, remoteRoot: `~/muse-runs/${runName}`, images: cluster.images, singularityCommand: cluster.singularityCommand,
    });
    const r = await muse(['--profile', 'newhost', 'submit', 'sw_example', '--cmd', 'python /add.py 1', '--label', 'newhost'], { ms: 30000 });
    assert.notStrictEqual(r.code, 0);
    expectClearError(r, 3, /host key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:\S+\) is not in .*empty_known_hosts and was not accepted/);
    assert.match(r.stderr, new RegExp(`The host ${cluster.host.replace(/\./g, '\\.')}:${cluster.port} is not known\\. Its ssh-ed25519 key fingerprint is SHA256:`));
    assert.match(r.stderr, /Not a terminal: refusing it/);
    assert.strictEqual(fs.readFileSync(kh, 'utf8'), '', 'nothing recorded in known_hosts');
    const rec = storedRuns().find((x) => (x as { label?: string }).label === 'newhost');
    assert.strictEqual(rec?.state, 'failed');
    assert.strictEqual(rec?.key, undefined);
  });
});
