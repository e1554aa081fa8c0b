/**
 * Follow bench (`npx tsx scripts/bench-follow.ts`, run by `npm run bench follow`), against the
 * test cluster (test/cluster/up.sh):
 *   - a line written on the cluster shows in `muse logs -f` (the built CLI, 1 s rate) within
 *     1.5 s: the median and the worst over 20 lines (the job stamps each line with the clock,
 *     the cluster being this machine); the same for the Follow Output document's file (the
 *     extension's follower at the 1 s pace of a visible document, its FollowedFile), through the
 *     latency proxy at 50 ms round trip;
 *   - following 50 running jobs of one cluster: remote commands, SFTP requests and SSH
 *     channels per cycle, and the cycle's time;
 *   - a job writing 100 MB to stdout over about 30 s, followed by the core follower (1 s cycles)
 *     to its end through the latency proxy (0 ms added): bytes over the wire / 100 MB.
 * Nothing is asserted: the lines are for people and for the note.
 */
import { spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { LatencyProxy } from '../test/support/latencyProxy';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { SlurmBackend } from '../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../src/core/backends/slurm/sshConnectionPool';
import { FollowedFile } from '../src/core/follow/followedFile';
import { Follower } from '../src/core/follow/follower';
import { normalizeRequest } from '../src/core/model';
import type { Run, SubmitRequest } from '../src/core/model';
import type { SshPrompts } from '../src/core/sshPrompts';
import { clusterSshProfile } from '../test/cluster/clusterEnv';
import type { ClusterEnv } from '../test/cluster/clusterEnv';

const ROOT = path.resolve(__dirname, '..');
const prompts: SshPrompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };
const STAMPS = 'import time\ntime.sleep(1)\nfor i in range(1, 21):\n    print(f"{i} {time.time() * 1000:.0f}", flush=True)\n    time.sleep(1)\n';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string, onLine?: (line: string) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let pending = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine?.(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

async function main(): Promise<void> {
  const envFile = path.join(ROOT, '.cache', 'cluster', 'env.json');
  if (!existsSync(envFile)) {
    console.log('follow bench skipped: no .cache/cluster/env.json (run bash test/cluster/up.sh)');
    return;
  }
  const cluster = JSON.parse(readFileSync(envFile, 'utf8')) as ClusterEnv;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-bench-follow-'));
  const remoteRoot = `${cluster.remoteRoot}/bench-follow`;
  const pool = new SshConnectionPool();
  const backend = new SlurmBackend(clusterSshProfile(cluster, tmp, { name: 'bench', remoteRoot, singularityCommand: cluster.singularityCommand, images: cluster.images }), prompts, pool);
  const jobIds: string[] = [];
  try {
    // --- a line on the cluster to `muse logs -f` ---------------------------------------------
    const work = path.join(tmp, 'work');
    mkdirSync(work, { recursive: true });
    writeFileSync(path.join(work, 'stamps.py'), STAMPS);
    const env: NodeJS.ProcessEnv = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG', 'MUSE_FOLLOW_SECONDS']) delete env[k];
    const add = await cli(['profiles', 'add', 'cluster', '--kind', 'ssh', '--default', '--host', cluster.host, '--port', String(cluster.port), '--user', cluster.user, '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile, '--remote-root', remoteRoot, '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand], env, work);
    if (add.code !== 0) throw new Error(add.err);
    const sub = await cli(['submit', 'sw_example', '--cmd', 'python stamps.py', '--file', 'stamps.py'], env, work);
    if (sub.code !== 0) throw new Error(sub.err);
    const lags: number[] = [];
    const logs = await cli(['logs', '-f', sub.out.trim().split('\n')[0]!], env, work, (l) => {
      const m = /^(\d+) (\d+)$/.exec(l);
      if (m) lags.push(Date.now() - Number(m[2]));
    });
    console.log(`line on the cluster -> muse logs -f (1 s rate)     median ${median(lags).toFixed(0)} ms, worst ${Math.max(...lags).toFixed(0)} ms over ${lags.length} lines (target <= 1500 ms median; exit ${logs.code})`);

    // --- 50 running jobs followed ------------------------------------------------------------
    const script = path.join(tmp, 'tick.py');
    writeFileSync(script, 'import time\nfor i in range(90):\n    print(i, flush=True)\n    time.sleep(1)\n');
    const runs: Run[] = [];
    for (let i = 0; i < 50; i++) {
      const r0: SubmitRequest = { software: 'sw_example', cmd: 'python tick.py', files: [{ path: script, name: 'tick.py' }] };
      const r = await backend.submit(r0);
      if (r.jobId) jobIds.push(r.jobId);
      const now = new Date().toISOString();
      runs.push({ id: `b${i}`, key: r.key, location: r.location, profile: 'bench', backend: 'ssh', software: r0.software, request: normalizeRequest(r0), state: 'waiting', raw: { jobId: r.jobId }, createdAt: now, updatedAt: now });
    }
    const conn = await backend.connection();
    const s = await conn.sftp(async (x) => x);
    const counts: Record<string, number> = {};
    for (const op of ['stat', 'readdir', 'open', 'read', 'close'] as const) {
      const orig = (s as unknown as Record<string, (...a: unknown[]) => unknown>)[op]!.bind(s);
      (s as unknown as Record<string, unknown>)[op] = (...a: unknown[]) => {
        counts[op] = (counts[op] ?? 0) + 1;
        return orig(...a);
      };
    }
    const f = new Follower({ backendOf: () => backend });
    for (const r of runs) f.add(r, 'stdout', () => undefined);
    await f.cycle(); // the first read of each file
    const cycles = 5;
    const cmd0 = conn.commandCount;
    const c0 = { ...counts };
    const times: number[] = [];
    for (let i = 0; i < cycles; i++) {
      const t = performance.now();
      await f.cycle();
      times.push(performance.now() - t);
    }
    const per = (k: string) => ((counts[k] ?? 0) - (c0[k] ?? 0)) / cycles;
    console.log(
      `following 50 jobs: per cycle ${((conn.commandCount - cmd0) / cycles).toFixed(1)} remote command(s), ${f.batches / (cycles + 1)} follow batch, SFTP ${per('stat').toFixed(0)} stat + ${per('open').toFixed(0)} open + ${per('read').toFixed(0)} read + ${per('close').toFixed(0)} close (pipelined), ` +
        `0 extra SSH channels (1 SFTP session); cycle median ${median(times).toFixed(0)} ms`,
    );
    f.dispose();
    if (jobIds.length) await conn.exec(['scancel', ...jobIds.splice(0)]).catch(() => undefined);

    await documentLatency(cluster, tmp, remoteRoot, jobIds, 50);
    await wireVolume(cluster, tmp, remoteRoot, jobIds);
  } finally {
    const conn = await backend.connection().catch(() => undefined);
    if (conn && jobIds.length) await conn.exec(['scancel', ...jobIds]).catch(() => undefined);
    await conn?.exec(['rm', '-rf', '--', remoteRoot]).catch(() => undefined);
    await backend.dispose();
    pool.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A Slurm backend of its own pool whose SSH goes through the latency proxy at `rttMs` (files in `dir`). */
async function proxiedBackend(
  cluster: ClusterEnv,
  dir: string,
  rttMs: number,
  profile: Parameters<typeof clusterSshProfile>[2],
): Promise<{ proxy: LatencyProxy; backend: SlurmBackend; close: () => Promise<void> }> {
  const proxy = await LatencyProxy.start({ targetHost: cluster.host, targetPort: cluster.port, rttMs });
  mkdirSync(dir, { recursive: true });
  const kh = path.join(dir, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${proxy.port} ${readFileSync(cluster.knownHostsFile, 'utf8').trim().split('\n')[0]!.split(/\s+/).slice(1).join(' ')}\n`);
  const pool = new SshConnectionPool();
  const backend = new SlurmBackend(clusterSshProfile(cluster, dir, { ...profile, port: proxy.port, knownHostsFile: kh }), prompts, pool);
  const close = async (): Promise<void> => {
    await backend.dispose();
    pool.dispose();
    await proxy.close();
  };
  return { proxy, backend, close };
}

/**
 * A line on the cluster to the Follow Output document's file, as the extension follows it: the
 * follower's own timer at a visible, focused document's 1 s pace, the text appended to the file
 * VS Code shows (FollowedFile); through the latency proxy at `rttMs`.
 */
async function documentLatency(cluster: ClusterEnv, tmp: string, remoteRoot: string, jobIds: string[], rttMs: number): Promise<void> {
  const dir = path.join(tmp, 'doc');
  const { backend, close } = await proxiedBackend(cluster, dir, rttMs, { name: 'doc', remoteRoot, singularityCommand: cluster.singularityCommand, images: cluster.images });
  const f = new Follower({ backendOf: () => backend });
  try {
    const script = path.join(dir, 'stamps.py');
    writeFileSync(script, STAMPS);
    const r0: SubmitRequest = { software: 'sw_example', cmd: 'python stamps.py', files: [{ path: script, name: 'stamps.py' }] };
    const r = await backend.submit(r0);
    if (r.jobId) jobIds.push(r.jobId);
    const now = new Date().toISOString();
    const run: Run = { id: 'doc', key: r.key, location: r.location, profile: 'doc', backend: 'ssh', software: r0.software, request: normalizeRequest(r0), state: 'waiting', raw: { jobId: r.jobId }, createdAt: now, updatedAt: now };
    const out = new FollowedFile(path.join(dir, 'follow', 'stdout.log'), '', 8 * 1024 * 1024, 'the run folder', (e) => console.error(e));
    const lags: number[] = [];
    let ended = false;
    f.add(run, 'stdout', (e) => {
      out.append(e.text);
      if (e.ended) ended = true;
      // Counted once the text is in the file (what VS Code then reads).
      void out.settled().then(() => {
        const t = Date.now();
        for (const m of e.text.matchAll(/^(\d+) (\d+)$/gm)) lags.push(t - Number(m[2]));
      });
    });
    f.start(() => 1000);
    const t0 = performance.now();
    while (!ended && performance.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 200));
    await out.settled();
    console.log(
      `line on the cluster -> Follow Output document's file (1 s pace, ${rttMs} ms RTT)  median ${median(lags).toFixed(0)} ms, worst ${Math.max(...lags).toFixed(0)} ms over ${lags.length} lines (target <= 1500 ms median${ended ? '' : ', NOT ended'})`,
    );
  } finally {
    f.dispose();
    await close();
  }
}

/** 100 MB written by a job over ~30 s, followed to its end through the proxy: bytes moved each way. */
async function wireVolume(cluster: ClusterEnv, tmp: string, remoteRoot: string, jobIds: string[]): Promise<void> {
  const total = 100 * 1024 * 1024;
  const dir = path.join(tmp, 'wire');
  const { proxy, backend, close } = await proxiedBackend(cluster, dir, 0, { name: 'wire', remoteRoot, noContainer: true });
  try {
    // 1 MB (of 100-byte lines) every 0.3 s: about 30 s in all.
    const script = path.join(dir, 'hundred.py');
    writeFileSync(script, `import sys, time\nblock = ("y" * 99 + "\\n") * 10486\nfor i in range(100):\n    sys.stdout.write(block[: ${1024 * 1024}])\n    sys.stdout.flush()\n    time.sleep(0.3)\n`);
    const r0: SubmitRequest = { software: 'sw_example', cmd: 'python3 hundred.py', files: [{ path: script, name: 'hundred.py' }] };
    const r = await backend.submit(r0);
    if (r.jobId) jobIds.push(r.jobId);
    const now = new Date().toISOString();
    const run: Run = { id: 'wire', key: r.key, location: r.location, profile: 'wire', backend: 'ssh', software: r0.software, request: normalizeRequest(r0), state: 'waiting', raw: { jobId: r.jobId }, createdAt: now, updatedAt: now };
    const f = new Follower({ backendOf: () => backend });
    let got = 0;
    let ended = false;
    f.add(run, 'stdout', (e) => {
      got += Buffer.byteLength(e.text ?? '', 'utf8');
      if (e.ended) ended = true;
    });
    await backend.connection();
    const before = { ...proxy.stats };
    const t0 = performance.now();
    while (!ended && performance.now() - t0 < 180_000) {
      const t = performance.now();
      await f.cycle();
      await new Promise((res) => setTimeout(res, Math.max(0, 1000 - (performance.now() - t))));
    }
    const secs = (performance.now() - t0) / 1000;
    const down = proxy.stats.bytesDown - before.bytesDown;
    const up = proxy.stats.bytesUp - before.bytesUp;
    console.log(
      `100 MB stdout followed to its end (1 s cycles, ${secs.toFixed(0)} s${ended ? '' : ', NOT ended'}): ${(got / total).toFixed(3)}x 100 MB shown; over the wire ${(down / total).toFixed(3)}x down + ${(up / total).toFixed(4)}x up = ${((down + up) / total).toFixed(3)}x (target <= 1.05x)`,
    );
    f.dispose();
  } finally {
    await close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
