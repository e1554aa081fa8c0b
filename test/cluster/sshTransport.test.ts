/**
 * Submits over SSH "at a real distance": the test cluster's sshd behind the latency proxy at
 * 50 ms RTT. The inputs travel as one tar stream into one remote command; these tests check what
 * a user would notice: every file arrives intact whatever its name, zips are unzipped in
 * files_order, a remote without tar still works (SFTP), and a cut mid-stream makes exactly one job.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import { execFileSync, spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { RunRef } from '../../src/core/backend';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import type { SshConnection, SshEvent } from '../../src/core/backends/slurm/sshConnection';
import { isFinal, normalizeRequest } from '../../src/core/model';
import type { SubmitRequest } from '../../src/core/model';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { LatencyProxy } from '../support/latencyProxy';
import { until } from '../support/until';
import { clusterSshProfile, loadClusterEnv } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';

const prompts: SshPrompts = {
  passphrase: async () => undefined,
  password: async () => undefined,
  keyboardInteractive: async () => undefined,
  unknownHostKey: async () => false,
};

/** A known_hosts naming the cluster's host key at `port` (the proxy's, or a second sshd's). */
function knownHostsAt(env: ClusterEnv, dir: string, port: number): string {
  const line = readFileSync(env.knownHostsFile, 'utf8').trim().split('\n')[0].split(/\s+/).slice(1).join(' ');
  const file = path.join(dir, `known_hosts-${port}`);
  writeFileSync(file, `[127.0.0.1]:${port} ${line}\n`);
  return file;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('SSH transport at 50 ms RTT on the test cluster', function () {
  this.timeout(240_000);
  let env: ClusterEnv;
  let tmp: string;
  let proxy: LatencyProxy;
  let backend: SlurmBackend;
  /** A direct connection (no proxy) to look at the run folders. */
  let direct: SlurmBackend;
  let look: SshConnection;
  const pool = new SshConnectionPool();

  before(async () => {
    env = loadClusterEnv();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-transport-'));
    proxy = await LatencyProxy.start({ targetHost: env.host, targetPort: env.port, rttMs: 50 });
    const base = { remoteRoot: env.remoteRoot, singularityCommand: env.singularityCommand, images: env.images };
    backend = new SlurmBackend(
      clusterSshProfile(env, tmp, { name: 'far', ...base, port: proxy.port, knownHostsFile: knownHostsAt(env, tmp, proxy.port) }),
      prompts,
      pool,
    );
    direct = new SlurmBackend(clusterSshProfile(env, tmp, { name: 'near', ...base }), { ...prompts }, pool);
    look = await direct.connection();
  });
  after(async () => {
    await backend?.dispose();
    await direct?.dispose();
    pool.dispose();
    await proxy?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function ref(req: SubmitRequest, r: { key: string; location?: string; jobId?: string }): RunRef {
    return { id: `run-${r.key}`, key: r.key, software: req.software, request: normalizeRequest(req), raw: { jobId: r.jobId }, location: r.location };
  }

  async function finalState(b: SlurmBackend, run: RunRef): Promise<string> {
    const st = await until(`run ${run.raw.jobId} to end`, async () => {
      const s = (await b.states([run])).get(run.id);
      if (s instanceof Error) throw s;
      return s && isFinal(s.state) ? s : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });
    return st.state;
  }

  /** Every file of a remote run folder (bookkeeping aside) with its sha256, by name. */
  async function remoteFiles(dir: string): Promise<Map<string, string>> {
    const out = await look.execOk(['sh', '-c', 'cd -- "$1" && find . -type f ! -name "__WS__*" ! -name ".muse-*" ! -name "__MUSE__*" -exec sha256sum {} +', 'sh', dir]);
    const m = new Map<string, string>();
    for (const line of out.split('\n').filter(Boolean)) m.set(line.slice(66).replace(/^\.\//, ''), line.slice(0, 64));
    return m;
  }

  /** Slurm jobs with this name (squeue lists a job at once, sacct a second later). */
  async function jobsNamed(jobName: string): Promise<string[]> {
    const a = await look.execOk(['sacct', '-X', '-n', '-P', '-S', 'now-1hours', `--name=${jobName}`, '--format=JobID']);
    const q = await look.execOk(['squeue', '-h', '-t', 'all', '-n', jobName, '-o', '%A']);
    return [...new Set(`${a}\n${q}`.split('\n').map((l) => l.trim()).filter(Boolean))];
  }

  it('1,000 files with subfolders and hostile names, and zips unzipped in files_order, arrive intact in one remote command', async () => {
    const src = path.join(tmp, 'many');
    mkdirSync(src, { recursive: true });
    const files: { name: string; path: string }[] = [];
    const expected = new Map<string, string>();
    const hostile = ['with space.txt', `it's "quoted".txt`, '$(touch pwned) `id`.txt', 'données/été/naïve 数据.csv', `${'long-'.repeat(30)}name.txt`];
    for (let i = 0; i < 1000; i++) {
      const name = i < hostile.length ? hostile[i] : `d${i % 10}/sub${i % 7}/file ${i}.dat`;
      const p = path.join(src, `f${i}`);
      const content = `file ${i} ${name}\n`.repeat(300);
      writeFileSync(p, content);
      files.push({ name, path: p });
      expected.set(name, sha(content));
    }
    // Two zips with a common member, then a plain file over one of theirs: order decides.
    const zdir = path.join(tmp, 'zips');
    for (const [z, body] of [['a', 'from a'], ['b', 'from b']]) {
      const d = path.join(zdir, z);
      mkdirSync(path.join(d, 'inner'), { recursive: true });
      writeFileSync(path.join(d, 'inner', 'both.txt'), body);
      writeFileSync(path.join(d, `only-${z}.txt`), body);
      writeFileSync(path.join(d, 'plain-wins.txt'), body);
      execFileSync('zip', ['-q', '-r', path.join(zdir, `${z}.zip`), '.'], { cwd: d });
    }
    writeFileSync(path.join(zdir, 'plain-wins.txt'), 'the plain file');
    files.push({ name: 'b.zip', path: path.join(zdir, 'b.zip') }, { name: 'a.zip', path: path.join(zdir, 'a.zip') }, { name: 'plain-wins.txt', path: path.join(zdir, 'plain-wins.txt') });
    for (const [n, p] of [['b.zip', 'b.zip'], ['a.zip', 'a.zip']]) expected.set(n, sha(readFileSync(path.join(zdir, p))));
    expected.set('inner/both.txt', sha('from a')); // a.zip comes last of the zips
    expected.set('only-a.txt', sha('from a'));
    expected.set('only-b.txt', sha('from b'));
    expected.set('plain-wins.txt', sha('the plain file'));
    const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 1 2', files, filesOrder: ['b.zip', 'a.zip', 'plain-wins.txt'] };

    const conn = await backend.connection();
    await backend.submit({ software: 'sw_example', cmd: 'python /add.py 0 0' }); // warm: login and probe done
    const commands: string[] = [];
    const off = conn.onEvent((e: SshEvent) => e.type === 'command' && commands.push(e.command));
    // No file by SFTP either: the files travel in that one command's stream (the time it takes
    // at 50 ms RTT is the bench's to measure: npm run bench ssh).
    let sftpCalls = 0;
    const sftp = conn.sftp.bind(conn);
    conn.sftp = ((fn, signal) => {
      sftpCalls++;
      return sftp(fn, signal);
    }) as typeof conn.sftp;
    let r: Awaited<ReturnType<typeof backend.submit>>;
    try {
      r = await backend.submit(req);
    } finally {
      off();
      conn.sftp = sftp;
    }
    assert.strictEqual(commands.length, 1, `one remote command for 1,003 files: ${commands.join('\n')}`);
    assert.strictEqual(sftpCalls, 0, 'no SFTP request during the submit');
    assert.deepStrictEqual(new Map([...(await remoteFiles(r.location!))].sort()), new Map([...expected].sort()));
    assert.strictEqual(await finalState(backend, ref(req, r)), 'ok');
    assert.deepStrictEqual(readdirSync(tmp).filter((n) => n === 'pwned'), []);
  });

  it('falls back to SFTP on a remote without tar on its PATH', async () => {
    // A second sshd of the same cluster whose PATH has every program but tar.
    const bin = path.join(mkdtempSync(path.join(os.tmpdir(), 'muse-notar-')), 'bin');
    chmodSync(path.dirname(bin), 0o755);
    mkdirSync(bin, { mode: 0o755 });
    const envLine = readFileSync(path.join(path.dirname(env.knownHostsFile), 'sshd_config'), 'utf8').split('\n').find((l) => l.startsWith('SetEnv'))!;
    const dirs = /PATH=(\S+)/.exec(envLine)![1].split(':');
    for (const d of dirs) {
      let names: string[] = [];
      try {
        names = readdirSync(d);
      } catch {
        continue;
      }
      for (const n of names) {
        if (n === 'tar') continue;
        try {
          execFileSync('ln', ['-s', path.join(d, n), path.join(bin, n)], { stdio: 'ignore' });
        } catch {
          // the first folder on the PATH wins, as it would there
        }
      }
    }
    const port = await freePort();
    const conf = path.join(tmp, 'sshd_notar');
    const base = readFileSync(path.join(path.dirname(env.knownHostsFile), 'sshd_config'), 'utf8')
      .replace(/^Port .*$/m, `Port ${port}`)
      .replace(/^PidFile .*$/m, `PidFile ${path.join(tmp, 'sshd_notar.pid')}`)
      .replace(/PATH=\S+/, `PATH=${bin}`);
    writeFileSync(conf, base);
    const sshd: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' });
    try {
      await until('the second sshd to listen', () => new Promise<boolean>((res) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), res(true)));
        s.on('error', () => res(false));
      }), { timeoutMs: 10_000, intervalMs: 100 });
      const b = new SlurmBackend(
        clusterSshProfile(env, tmp, { name: 'notar', remoteRoot: env.remoteRoot, singularityCommand: env.singularityCommand, images: env.images, port, knownHostsFile: knownHostsAt(env, tmp, port) }),
        { ...prompts },
        pool,
      );
      try {
        const c = await b.connection();
        const commands: string[] = [];
        c.onEvent((e) => e.type === 'command' && commands.push(e.command));
        const p1 = path.join(tmp, 'notar-in.txt');
        writeFileSync(p1, '2\n');
        const req: SubmitRequest = { software: 'sw_example', cmd: 'python /add.py 40 2', files: [{ name: 'sub dir/in $(x).txt', path: p1 }] };
        const r = await b.submit(req);
        assert.ok(!commands.some((cmd) => cmd.includes('tar -x')), commands.join('\n'));
        assert.deepStrictEqual([...(await remoteFiles(r.location!))], [['sub dir/in $(x).txt', sha('2\n')]]);
        const run = ref(req, r);
        assert.strictEqual(await finalState(b, run), 'ok');
        const res = await b.results(run, path.join(tmp, 'notar-out'));
        assert.strictEqual(res.kind === 'stdout' && res.text.trim(), '42.0');
      } finally {
        await b.dispose();
      }
    } finally {
      sshd.kill('SIGTERM');
    }
  });

  it('a connection cut mid-stream makes no job; the retry submits exactly one, with the file whole', async () => {
    const big = Buffer.alloc(40 * 1024 * 1024, 3);
    const p = path.join(tmp, 'big.bin');
    writeFileSync(p, big);
    const req: SubmitRequest = { software: 'sw_example', cmd: `python -c 'import os; print(os.path.getsize("big.bin"))'`, files: [{ name: 'big.bin', path: p }] };
    const conn = await backend.connection();
    const events: SshEvent[] = [];
    const off = conn.onEvent((e) => events.push(e));
    let cut = false;
    const r = await backend.submit(req, {
      onProgress: (pr) => {
        if (pr.phase === 'upload' && pr.done > 8 * 1024 * 1024 && !cut) {
          cut = true;
          proxy.cutAll();
        }
      },
    });
    off();
    assert.ok(cut, 'the connection was cut during the upload');
    const submits = events.filter((e) => e.type === 'command' && e.command.includes('tar -x'));
    assert.strictEqual(submits.length, 2, 'the submit command ran again after the cut');
    assert.ok(events.slice(events.indexOf(submits[0])).some((e) => e.type === 'connect'), 'reconnected after the cut');
    assert.deepStrictEqual(await jobsNamed(`muse-sw_example-${r.key}`), [r.jobId]);
    const run = ref(req, r);
    assert.strictEqual(await finalState(backend, run), 'ok');
    const res = await backend.results(run, path.join(tmp, 'big-out'));
    assert.strictEqual(res.kind === 'stdout' && res.text.trim(), String(big.length));
  });
});
