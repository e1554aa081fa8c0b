/**
 * The Slurm backend against the real test cluster (sshd + Slurm 22.05 + the singularity
 * stand-in), brought up by test/cluster/up.sh, described by .cache/cluster/env.json.
 */
import * as assert from 'assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import * as yauzl from 'yauzl';
import type { RunRef } from '../../src/core/backend';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import type { SshConnection, SshEvent } from '../../src/core/backends/slurm/sshConnection';
import { isMuseError } from '../../src/core/errors';
import { isFinal, normalizeRequest } from '../../src/core/model';
import type { StateReport, SubmitRequest } from '../../src/core/model';
import type { SshProfile } from '../../src/core/profiles';
import { until } from '../support/until';
import { zipEntries } from '../support/zipEntries';
import { clusterSshProfile, loadClusterEnv, type ClusterEnv } from './clusterEnv';

/** Prompts that fail the test if the layer asks anything unexpected. */
function strictPrompts(over: Partial<SshPrompts> = {}): SshPrompts & { asked: string[] } {
  const asked: string[] = [];
  const no = (what: string) => async () => {
    asked.push(what);
    return undefined;
  };
  return {
    asked,
    passphrase: no('passphrase'),
    password: no('password'),
    keyboardInteractive: no('keyboardInteractive'),
    unknownHostKey: async (...a) => {
      asked.push(`hostkey ${a.join(' ')}`);
      return false;
    },
    ...over,
  };
}

/** PIDs of the sshd processes serving connections (children of the listening sshd). */
function sshdChildren(sshdPid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === sshdPid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Kills every sshd session process: the privileged child and the user's child under it. */
function killSessions(sshdPid: number): number {
  const pids = sshdChildren(sshdPid);
  for (const p of [...pids]) pids.push(...sshdChildren(p));
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

function zipNames(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('Slurm backend on the test cluster', function () {
  this.timeout(180_000);
  let env: ClusterEnv;
  let tmp: string;
  let profile: SshProfile;
  let backend: SlurmBackend;
  let conn: SshConnection;
  let events: SshEvent[];
  const extra: SlurmBackend[] = [];
  const pool = new SshConnectionPool();

  before(async () => {
    env = loadClusterEnv();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-cluster-'));
    profile = clusterSshProfile(env, tmp, {
      name: 'cluster',
      remoteRoot: env.remoteRoot,
      singularityCommand: env.singularityCommand,
      images: env.images,
    });
    backend = new SlurmBackend(profile, strictPrompts(), pool);
    conn = await backend.connection();
    events = [];
    conn.onEvent((e) => events.push(e));
  });
  after(async () => {
    await backend?.dispose();
    for (const b of extra) await b.dispose();
    pool.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function ref(id: string, req: SubmitRequest, r: { key: string; location?: string; jobId?: string }): RunRef {
    return { id, key: r.key, software: req.software, request: normalizeRequest(req), raw: { jobId: r.jobId }, location: r.location };
  }

  async function submit(req: SubmitRequest, b = backend): Promise<RunRef> {
    const r = await b.submit(req);
    assert.match(r.jobId ?? '', /^\d+$/);
    return ref(`run-${r.key}`, req, r);
  }

  async function final(run: RunRef, b = backend): Promise<StateReport> {
    return until(`run ${run.raw.jobId} to end`, async () => {
      const st = (await b.states([run])).get(run.id);
      if (st instanceof Error) throw st;
      return st && isFinal(st.state) ? st : undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 });
  }

  /** Slurm jobs with this name, as sacct and squeue list them (a submit must make exactly one). */
  async function jobsNamed(jobName: string): Promise<string[]> {
    // Once more after a drop: a test may have just cut the connection.
    const ask = (args: string[]) => conn.execOk(args).catch((e: unknown) => (isMuseError(e, 'network') ? conn.execOk(args) : Promise.reject(e)));
    const a = await ask(['sacct', '-X', '-n', '-P', '-S', 'now-1hours', `--name=${jobName}`, '--format=JobID']);
    const q = await ask(['squeue', '-h', '-t', 'all', '-n', jobName, '-o', '%A']);
    return [...new Set(`${a}\n${q}`.split('\n').map((l) => l.trim()).filter(Boolean))];
  }

  function input(name: string, content: string | Buffer): { path: string; name: string } {
    const p = path.join(tmp, 'in', `${Math.random().toString(36).slice(2)}`);
    mkdirSync(p, { recursive: true });
    const file = path.join(p, 'f');
    writeFileSync(file, content);
    return { path: file, name };
  }

  it('runs python /add.py 4 5 in the image: ok, stdout 9.0, stdout.txt, run.zip and content', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 4 5' };
    const run = await submit(req);
    const st = await final(run);
    assert.strictEqual(st.state, 'ok');
    assert.strictEqual(st.raw.slurmState, 'COMPLETED');
    assert.strictEqual(st.raw.exitCode, 0);
    assert.ok(st.raw.node);
    const res = await backend.results(run, path.join(tmp, 'r1'));
    assert.deepStrictEqual(res.kind === 'stdout' && res.text.trim(), '9.0');
    const txt = await backend.results({ ...run, request: { ...run.request, returnedType: 'stdout.txt' } }, path.join(tmp, 'r1.txt'));
    assert.strictEqual(txt.kind, 'file');
    assert.strictEqual(readFileSync(path.join(tmp, 'r1.txt'), 'utf8').trim(), '9.0');
    const zip = await backend.results({ ...run, request: { ...run.request, returnedType: 'run.zip' } }, path.join(tmp, 'r1.zip'));
    assert.strictEqual(zip.kind, 'file');
    const names = await zipNames(path.join(tmp, 'r1.zip'));
    assert.ok(names.includes('__WS__stdout.txt') && names.includes('__WS__stderr.txt') && names.includes('__MUSE__batch.sh'), names.join(','));
    // The backend's bookkeeping (submit lock, recorded job id) is not the user's.
    assert.ok(!names.some((n) => /^(\.\/)?\.muse-/.test(n)), names.join(','));
    assert.strictEqual(await backend.tail(run, 'stdout', 3), '.0\n');
  });

  it('seed example E/F: an input zip unzipped in files_order, then python /add.py reads stdin.txt', async () => {
    const zdir = path.join(tmp, 'zipsrc');
    mkdirSync(zdir, { recursive: true });
    writeFileSync(path.join(zdir, 'stdin.txt'), '1 2\n');
    execFileSync('zip', ['-q', path.join(tmp, 'data.zip'), 'stdin.txt'], { cwd: zdir });
    const req: SubmitRequest = {
      software: 'sw_example',
      cmd: 'python /add.py',
      // data.zip brings stdin.txt (1 2), then the later stdin.txt overwrites it (30 40): 70.0.
      files: [input('stdin.txt', '30 40\n'), { path: path.join(tmp, 'data.zip'), name: 'data.zip' }],
      filesOrder: ['data.zip', 'stdin.txt'],
    };
    const run = await submit(req);
    assert.strictEqual((await final(run)).state, 'ok');
    const res = await backend.results(run, path.join(tmp, 'rE'));
    assert.strictEqual(res.kind === 'stdout' && res.text.trim(), '70.0');
  });

  it('seed example F as written: cmd=usrcmd.sh, a sent script without shebang (run by sh, in the image), beside a zip -> 70.0', async () => {
    const zdir = path.join(tmp, 'zipF');
    mkdirSync(zdir, { recursive: true });
    writeFileSync(path.join(zdir, 'other.txt'), 'x\n');
    execFileSync('zip', ['-q', path.join(tmp, 'f.zip'), 'other.txt'], { cwd: zdir });
    const req: SubmitRequest = {
      software: 'sw_example',
      cmd: 'usrcmd.sh',
      files: [input('usrcmd.sh', 'python /add.py\n'), input('stdin.txt', '10 20\n40\n'), { path: path.join(tmp, 'f.zip'), name: 'f.zip' }],
      filesOrder: ['stdin.txt', 'usrcmd.sh', 'f.zip'],
    };
    const run = await submit(req);
    const st = await final(run);
    assert.strictEqual(st.state, 'ok', await backend.tail(run, 'stderr', 2000).catch(() => ''));
    const res = await backend.results(run, path.join(tmp, 'rF'));
    assert.strictEqual(res.kind === 'stdout' && res.text.trim(), '70.0');
    const script = await conn.execOk(['cat', `${run.location}/__MUSE__batch.sh`]);
    assert.match(script, /\nchmod u\+x \.\/usrcmd\.sh\n'?[^\n]*singularity'? exec \S+ sh \.\/usrcmd\.sh\n$/, script);
  });

  it('exit 3: failed, exit code 3, stderr readable', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: `python -c 'import sys; sys.stderr.write("boom on stderr\\n"); sys.exit(3)'` };
    const run = await submit(req);
    const st = await final(run);
    assert.strictEqual(st.state, 'failed');
    assert.strictEqual(st.raw.slurmState, 'FAILED');
    assert.strictEqual(st.raw.exitCode, 3);
    const out = await backend.output!(run, 'stderr', path.join(tmp, 'err.txt'));
    assert.match(readFileSync(out.path, 'utf8'), /boom on stderr/);
  });

  it('says the job name given at submit all along, also while sacct shows "allocation" around the start and the end', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: `python -c 'import time; time.sleep(2)'` };
    const runs = [await submit(req), await submit(req)];
    const seen = new Map<string, Set<string>>(runs.map((r) => [r.id, new Set<string>()]));
    let placeholders = 0;
    const sacctNames = async () => {
      const out = await conn.execOk(['sacct', '-X', '-P', '-n', '-j', runs.map((r) => r.raw.jobId).join(','), '--format=JobName,Timelimit']);
      placeholders += out.split('\n').filter((l) => l.startsWith('allocation|')).length;
      return out;
    };
    // Until both have ended and sacct has its final record of both (name and time limit).
    await until('both jobs to end and sacct to hold their records', async () => {
      const states = await backend.states(runs);
      for (const r of runs) {
        const st = states.get(r.id);
        if (st instanceof Error) throw st;
        seen.get(r.id)!.add(String(st?.raw.jobName));
      }
      const done = runs.every((r) => isFinal((states.get(r.id) as StateReport).state));
      const acct = await sacctNames();
      return done && !/^allocation\||\|$/m.test(acct) ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    for (const r of runs) assert.deepStrictEqual([...seen.get(r.id)!], [`muse-sw_example-${r.key}`], `sacct showed "allocation" ${placeholders} time(s)`);
  });

  it('tails a running job, then cancels it', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: `python -c 'import time; print("started", flush=True); time.sleep(120)'` };
    const run = await submit(req);
    await until('the job to run', async () => {
      const st = (await backend.states([run])).get(run.id) as StateReport;
      return st.raw.slurmState === 'RUNNING' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    // A live tail of the running job's output.
    const tail = await until('the running job to print', async () => {
      const t = await backend.tail!(run, 'stdout', 1000);
      return t.includes('started') ? t : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.strictEqual(tail, 'started\n');
    await backend.cancel!(run);
    const st = await final(run);
    assert.strictEqual(st.state, 'cancelled');
    assert.match(st.raw.slurmState ?? '', /^CANCELLED/);
  });

  it('polls 20 jobs with exactly one sacct per cycle', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 1 1' };
    const runs: RunRef[] = [];
    for (let i = 0; i < 20; i++) runs.push(await submit(req));
    let cycles = 0;
    await until('20 jobs to end', async () => {
      const mark = events.length;
      const states = await backend.states(runs);
      const cmds = events.slice(mark).filter((e): e is Extract<SshEvent, { type: 'command' }> => e.type === 'command').map((e) => e.command);
      assert.strictEqual(cmds.filter((c) => c.startsWith('sacct ')).length, 1, cmds.join('\n'));
      assert.ok(cmds.every((c) => c.startsWith('sacct ') || c.startsWith('squeue ')), cmds.join('\n'));
      cycles++;
      return [...states.values()].every((s) => !(s instanceof Error) && isFinal(s.state)) ? states : undefined;
    }, { timeoutMs: 150_000, intervalMs: 250 }).then((states) => {
      for (const s of states.values()) assert.strictEqual((s as StateReport).state, 'ok');
    });
    assert.ok(cycles >= 1);
  });

  it('runs a job array and shows it per task', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 1 ${SLURM_ARRAY_TASK_ID}', sbatchList: ['--array=1-3'] };
    const run = await submit(req);
    const st = await final(run);
    assert.strictEqual(st.state, 'ok');
    const tasks = (st.report as { tasks: { jobId: string; state: string }[] }).tasks;
    assert.deepStrictEqual(tasks.map((t) => t.jobId).sort(), [1, 2, 3].map((i) => `${run.raw.jobId}_${i}`));
    assert.ok(tasks.every((t) => t.state === 'ok'));
    const res = await backend.results(run, path.join(tmp, 'arr'));
    assert.deepStrictEqual(res.kind === 'stdout' && res.text.trim().split('\n'), ['2.0', '3.0', '4.0']);
  });

  it('keeps hostile file names and commands intact, and refuses what cannot be carried', async () => {
    const names = ['a b.txt', "it's.txt", '$(touch pwned).txt', '`touch pwned2`.txt', 'né 日本.txt', 'sub dir/in;ner.txt', '-rf'];
    const files = names.map((n, i) => input(n, `content ${i}\n`));
    const cmd = `python -c 'import sys; [sys.stdout.write(open(a).read()) for a in sys.argv[1:]]' ${names.map((n) => `'${n.replace(/'/g, `'\\''`)}'`).join(' ')}`;
    const req: SubmitRequest = { software: 'sw_example', cmd, files };
    const run = await submit(req);
    const st = await final(run);
    const err = await backend.output!(run, 'stderr', path.join(tmp, 'hostile-err.txt'));
    assert.strictEqual(st.state, 'ok', readFileSync(err.path, 'utf8'));
    const res = await backend.results(run, path.join(tmp, 'hostile'));
    assert.strictEqual(res.kind === 'stdout' && res.text, names.map((_, i) => `content ${i}\n`).join(''));
    await backend.content(run, path.join(tmp, 'hostile.zip'));
    const inZip = await zipNames(path.join(tmp, 'hostile.zip'));
    for (const n of names) assert.ok(inZip.includes(n) || inZip.includes(`./${n}`), `${n} in ${inZip.join(', ')}`);
    assert.ok(!inZip.some((n) => /(^|\/)pwned2?$/.test(n)), 'no command ran from a file name');

    const before = conn.commandCount;
    await assert.rejects(backend.submit({ ...req, files: [input('bad\nname.txt', 'x')] }), (e: unknown) => isMuseError(e, 'usage') && /line break/.test((e as Error).message));
    await assert.rejects(backend.submit({ ...req, files: [input('../escape.txt', 'x')] }), (e: unknown) => isMuseError(e, 'usage'));
    await assert.rejects(backend.submit({ ...req, cmd: 'echo a\necho b' }), (e: unknown) => isMuseError(e, 'usage'));
    await assert.rejects(backend.submit({ ...req, sbatchList: ['--comment=$(id)'] }), (e: unknown) => isMuseError(e, 'usage'));
    assert.strictEqual(conn.commandCount, before, 'nothing was sent for refused input');
  });

  it('content of a folder with non-ASCII names (zipped here from one tar stream), several at once, then dispose: complete zips, no stray error', async () => {
    // A backend of its own (own prompts: own connection), so that dispose really closes it.
    const b = new SlurmBackend(profile, strictPrompts(), pool);
    const names = ['né 日本.txt', 'sub/ü.txt', 'plain.txt'];
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 1 2', files: names.map((n, i) => input(n, `content ${i}\n`.repeat(2000))) };
    const run = await submit(req, b);
    assert.strictEqual((await final(run, b)).state, 'ok');
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.prependListener('uncaughtException', onStray);
    try {
      const c = await b.connection();
      // The ssh2 client under the connection: its 'close' is when requests still in flight fail.
      const client = (c as unknown as { client?: NodeJS.EventEmitter }).client;
      assert.ok(client, 'connected');
      const closed = new Promise<void>((res) => client.once('close', () => res()));
      const dests = [1, 2, 3, 4].map((i) => path.join(tmp, `nonascii-${i}.zip`));
      await Promise.all(dests.map((d) => b.content(run, d)));
      await b.dispose();
      await closed;
      // Errors of the closed session's requests come on the next turns of the event loop.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.deepStrictEqual(stray.map(String), []);
      for (const d of dests) {
        const entries = await zipEntries(d);
        names.forEach((n, i) => assert.strictEqual(entries.get(n)?.toString(), `content ${i}\n`.repeat(2000), `${n} in ${d}`));
        assert.ok(!/(^|,)\.muse-/.test([...entries.keys()].join(',')), [...entries.keys()].join(','));
        assert.ok(entries.has('__MUSE__batch.sh'));
        assert.strictEqual(entries.get('__WS__stdout.txt')?.toString().trim(), '3.0');
      }
    } finally {
      process.removeListener('uncaughtException', onStray);
      await b.dispose();
    }
  });

  it('reaches the cluster by a ~/.ssh/config Host alias through a ProxyJump host', async () => {
    const cfg = path.join(tmp, 'ssh_config_jump');
    writeFileSync(
      cfg,
      [
        'Host musecluster',
        `  HostName ${env.host}`,
        `  Port ${env.port}`,
        `  User ${env.user}`,
        `  IdentityFile ${env.identityFile}`,
        '  ProxyJump musejump',
        'Host musejump',
        `  HostName ${env.host}`,
        `  Port ${env.port}`,
        `  User ${env.user}`,
        `  IdentityFile ${env.identityFile}`,
        '',
      ].join('\n'),
    );
    const prompts = strictPrompts();
    const b = new SlurmBackend({ name: 'alias', kind: 'ssh', host: 'musecluster', sshConfigFile: cfg, knownHostsFile: env.knownHostsFile, remoteRoot: env.remoteRoot, singularityCommand: env.singularityCommand, images: env.images }, prompts, pool);
    extra.push(b);
    const c = await b.connection();
    assert.ok(c.target.jump, 'a jump host is configured');
    const run = await submit({ software: 'sw_example', cmd: 'python /add.py 20 22' }, b);
    assert.strictEqual((await final(run, b)).state, 'ok');
    const res = await b.results(run, path.join(tmp, 'jump'));
    assert.strictEqual(res.kind === 'stdout' && res.text.trim(), '42.0');
    assert.deepStrictEqual(prompts.asked, []);
  });

  it('asks about an unknown host key: refused when declined, recorded on consent', async () => {
    const kh = path.join(tmp, 'kh-unknown');
    writeFileSync(kh, '');
    const declined = strictPrompts();
    const b1 = new SlurmBackend({ ...profile, knownHostsFile: kh }, declined, pool);
    extra.push(b1);
    await assert.rejects(b1.states([{ id: 'x', software: 'sw_example', request: normalizeRequest({ software: 'sw_example', cmd: 'x' }), raw: { jobId: '1' } }]).then((m) => {
      const v = m.get('x');
      if (v instanceof Error) throw v;
    }), (e: unknown) => isMuseError(e, 'refused') && /not accepted/.test((e as Error).message));
    assert.strictEqual(declined.asked.length, 1);
    assert.match(declined.asked[0], /^hostkey 127\.0\.0\.1 \d+ ssh-ed25519 SHA256:/);
    assert.strictEqual(readFileSync(kh, 'utf8'), '');

    const accepted = strictPrompts({ unknownHostKey: async () => true });
    const b2 = new SlurmBackend({ ...profile, knownHostsFile: kh }, accepted, pool);
    extra.push(b2);
    const run = await submit({ software: 'sw_example', cmd: 'python /add.py 2 2' }, b2);
    assert.strictEqual((await final(run, b2)).state, 'ok');
    const recorded = readFileSync(kh, 'utf8').trim().split(/\s+/).slice(0, 3).join(' ');
    const expected = readFileSync(env.knownHostsFile, 'utf8').trim().split(/\s+/).slice(0, 3).join(' ');
    assert.strictEqual(recorded, expected);
  });

  it('refuses a mismatched host key', async () => {
    const kh = path.join(tmp, 'kh-mismatch');
    const fake = path.join(tmp, 'fakehost');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', fake]);
    writeFileSync(kh, `[${env.host}]:${env.port} ${readFileSync(`${fake}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const prompts = strictPrompts({ unknownHostKey: async () => true });
    const b = new SlurmBackend({ ...profile, knownHostsFile: kh }, prompts, pool);
    extra.push(b);
    await assert.rejects(b.submit({ software: 'sw_example', cmd: 'python /add.py 1 1' }), (e: unknown) => isMuseError(e, 'refused') && /MISMATCH/.test((e as Error).message) && (e as Error).message.includes(`${kh} line 1`));
    assert.deepStrictEqual(prompts.asked, []);
  });

  it('fails with an auth error for a wrong key', async () => {
    const wrong = path.join(tmp, 'wrongkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const b = new SlurmBackend({ ...profile, identityFile: wrong }, strictPrompts(), pool);
    extra.push(b);
    await assert.rejects(b.submit({ software: 'sw_example', cmd: 'python /add.py 1 1' }), (e: unknown) => isMuseError(e, 'auth') && (e as Error).message.includes(wrong));
  });

  it('reconnects when the connection is killed mid-poll, with the right states', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 2 3' };
    const run = await submit(req);
    await final(run);
    const connects = conn.connectCount;
    let killed = 0;
    const off = conn.onEvent((e) => {
      if (e.type === 'command' && e.command.startsWith('sacct ') && killed === 0) killed = killSessions(env.sshdPid);
    });
    try {
      const st = (await backend.states([run])).get(run.id);
      assert.ok(killed > 0, 'an sshd session was killed');
      assert.ok(!(st instanceof Error), String(st));
      assert.strictEqual(st?.state, 'ok');
      assert.ok(conn.connectCount > connects, 'a new connection was made');
    } finally {
      off();
    }
  });

  it('reconnects when the connection is killed mid-upload, and submits once', async () => {
    const big = Buffer.alloc(30 * 1024 * 1024, 7);
    const file = input('big.bin', big);
    const req: SubmitRequest = { software: 'sw_example', cmd: `python -c 'import os; print(os.path.getsize("big.bin"))'`, files: [file] };
    const mark = events.length;
    let killed = 0;
    const r = await backend.submit(req, {
      onProgress: (p) => {
        if (p.phase === 'upload' && p.done > 8 * 1024 * 1024 && killed === 0) killed = killSessions(env.sshdPid);
      },
    });
    assert.ok(killed > 0, 'an sshd session was killed during the upload');
    const trace = events.slice(mark).map((e) => JSON.stringify(e)).join('\n');
    // The drop was met during the upload (the inputs' stream), a reconnect followed, and one job exists.
    assert.ok(events.slice(mark).some((e) => e.type === 'connect'), trace);
    assert.deepStrictEqual(await jobsNamed(`muse-sw_example-${r.key}`), [r.jobId], trace);
    const run = ref('big', req, r);
    assert.strictEqual((await final(run)).state, 'ok');
    const res = await backend.results(run, path.join(tmp, 'big-out'));
    assert.strictEqual(res.kind === 'stdout' && res.text.trim(), String(big.length));
  });

  it('stops a submit cancelled during the upload, and leaves no run folder', async () => {
    const list = async () => (await conn.execOk(['ls', '-1', '--', env.remoteRoot])).split('\n').filter(Boolean);
    const before = new Set(await list());
    // The newest job id Slurm knows: a job made by the cancelled submit would raise it.
    const newestJob = async () => Math.max(0, ...(await conn.execOk(['squeue', '-h', '-t', 'all', '-o', '%A'])).split('\n').filter(Boolean).map(Number));
    const newestBefore = await newestJob();
    const ac = new AbortController();
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 1 1', files: [input('big.bin', Buffer.alloc(30 * 1024 * 1024, 1))] };
    await assert.rejects(
      backend.submit(req, { signal: ac.signal, onProgress: (p) => p.phase === 'upload' && p.done > 4 * 1024 * 1024 && ac.abort() }),
      (e: unknown) => isMuseError(e, 'cancelled'),
    );
    assert.ok((await newestJob()) <= newestBefore, 'no job after a cancel');
    await until('the half-made run folder to be removed', async () => (await list()).every((d) => before.has(d)), { timeoutMs: 30_000, intervalMs: 250 });
    // The shared connection is still fine.
    assert.strictEqual((await conn.execOk(['echo', 'ok'])).trim(), 'ok');
  });

  it('an option only sbatch rejects: its message reaches the caller, and no run folder is left', async () => {
    // A mark in the batch script tells this attempt's folder from others' (other suites share the root).
    const mark = `muse-test-${Math.random().toString(36).slice(2)}`;
    const folders = async () =>
      (await conn.exec(['sh', '-c', 'grep -l -F -e "$1" -- "$2"/*/__MUSE__batch.sh 2>/dev/null; true', 'sh', mark, env.remoteRoot])).stdout.toString().split('\n').filter(Boolean);
    await assert.rejects(
      backend.submit({ software: 'sw_example', cmd: 'python /add.py 1 1', sbatchList: [`--comment=${mark}`, '--bogus-opt=3'], files: [input('in.txt', '1\n')] }),
      (e: unknown) => isMuseError(e, 'usage') && /^sbatch refused the job: sbatch: unrecognized option '--bogus-opt=3'$/.test((e as Error).message),
    );
    assert.deepStrictEqual(await folders(), [], 'the half-made run folder was removed');
  });

  it('never submits twice when the connection dies as sbatch runs', async () => {
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 5 5' };
    let killed = 0;
    const off = conn.onEvent((e) => {
      if (e.type === 'command' && e.command.includes('sbatch --parsable') && killed === 0) {
        // Let the command reach the cluster, then cut the connection.
        setTimeout(() => (killed = killSessions(env.sshdPid)), 5);
      }
    });
    let r: Awaited<ReturnType<SlurmBackend['submit']>> | Error;
    try {
      r = await backend.submit(req).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    } finally {
      off();
    }
    // Either the job id was recovered, or the submit says plainly it did not resubmit.
    if (r instanceof Error) {
      assert.ok(isMuseError(r, 'network') && /not submitted again/.test(r.message), r.message);
      return;
    }
    assert.deepStrictEqual(await jobsNamed(`muse-sw_example-${r.key}`), [r.jobId]);
    assert.strictEqual((await final(ref('once', req, r))).state, 'ok');
  });
});
