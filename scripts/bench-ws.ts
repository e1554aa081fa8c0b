/**
 * ws transfer bench (`npx tsx scripts/bench-ws.ts`, run by `npm run bench`): the real CLI
 * against curl, on loopback, interleaved so that the machine's load hits both alike.
 *  - download of a 1 GB file (served from disk by a plain node server, 1 MB reads):
 *    `curl -o` and `node dist/cli.js --url URL download KEY -o FILE`, each timed from spawn to
 *    exit; the CLI's peak RSS is read by `/usr/bin/time -f %M` (Debian package `time`);
 *  - one submit of 100 files of 10 KB: `curl -F` (its own time_total) against the WsClient
 *    used by the CLI, in this process (a CLI process would mostly time node's start-up).
 * Prints the median of the per-round ratios (ours / curl throughput; ours / curl time for the
 * submit). Targets: download ratio >= 0.9, peak RSS < 100 MB.
 * Options: --size-mb N (default 1024), --rounds N (default 3), --no-build (use dist/cli.js as is;
 * scripts/bench.sh has just built it).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { WsClient } from '../src/core/backends/ws/wsClient';

const MB = 1024 * 1024;
const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const TIME = '/usr/bin/time';
const KEY = '20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function loadavg(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** Serves `file` for every download, the way a web server would: from disk, 1 MB reads. */
function startServer(file: string): Promise<{ url: string; close(): void }> {
  const size = fs.statSync(file).size;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/api/download/')) {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': size });
      fs.createReadStream(file, { highWaterMark: MB }).pipe(res);
      return;
    }
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({ msg: 'ok', url: `http://127.0.0.1/api/software/muse/state/sw_example/58ae6cea-df31-4059-9466-b817c337985d/` });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ url: `http://127.0.0.1:${port}/api/`, close: () => server.close() });
    }),
  );
}

/** Runs a command without blocking this process's event loop (the server lives here). */
function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr, code: code ?? -1 }));
  });
}

/** `muse ARGS` under /usr/bin/time: wall time (ms, from spawn) and peak RSS (KB). */
async function muse(args: string[], env: NodeJS.ProcessEnv, work: string): Promise<{ ms: number; rssKb: number }> {
  const rssFile = path.join(work, 'rss.txt');
  const r = await run(TIME, ['-o', rssFile, '-f', '%M', process.execPath, CLI, ...args], env);
  if (r.code !== 0) throw new Error(`muse ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
  return { ms: r.ms, rssKb: Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) };
}

function writeBigFile(file: string, bytes: number): void {
  const block = Buffer.alloc(MB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= block.length) fs.writeSync(fd, block, 0, Math.min(left, block.length));
  } finally {
    fs.closeSync(fd);
  }
}

async function main(): Promise<void> {
  const sizeMb = arg('--size-mb', 1024);
  const rounds = Math.max(1, arg('--rounds', 3));
  const size = sizeMb * MB;
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing (Debian: apt-get install time); it measures the CLI's peak RSS.`);
  if (!process.argv.includes('--no-build') || !fs.existsSync(CLI)) {
    const b = await run(process.execPath, ['esbuild.js']);
    if (b.code !== 0) throw new Error(`node esbuild.js failed: ${b.stderr}`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ws-'));
  const src = path.join(work, 'served.zip');
  writeBigFile(src, size);
  const srv = await startServer(src);
  const env: NodeJS.ProcessEnv = { ...process.env, MUSE_DATA_DIR: path.join(work, 'data'), MUSE_CONFIG_DIR: path.join(work, 'config') };
  for (const v of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'MUSE_PROFILE']) delete env[v];
  try {
    console.log(`load average at start: ${loadavg()} (${os.cpus().length} CPUs)`);
    const idle = await muse(['--version'], env, work);
    console.log(`muse --version: ${idle.ms.toFixed(0)} ms, peak RSS ${(idle.rssKb / 1024).toFixed(0)} MB (start-up alone)`);

    const dest = path.join(work, 'got.zip');
    const dlUrl = `${srv.url}download/?key=${KEY}`;
    const ratios: number[] = [];
    const curlMsAll: number[] = [];
    const oursMsAll: number[] = [];
    const rssAll: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first: a page cache warmed by one must not favour it.
      const order = r % 2 === 0 ? ['curl', 'muse'] : ['muse', 'curl'];
      let c = 0;
      let o = 0;
      for (const who of order) {
        if (who === 'curl') {
          const res = await run('curl', ['-sS', '--fail', '--noproxy', '*', '-o', dest, dlUrl]);
          if (res.code !== 0 || fs.statSync(dest).size !== size) throw new Error(`curl download failed (exit ${res.code}): ${res.stderr}`);
          c = res.ms;
        } else {
          const res = await muse(['--url', srv.url, '--quiet', 'download', KEY, '-o', dest], env, work);
          if (fs.statSync(dest).size !== size) throw new Error('the muse download has the wrong size');
          o = res.ms;
          rssAll.push(res.rssKb);
        }
        fs.rmSync(dest);
      }
      curlMsAll.push(c);
      oursMsAll.push(o);
      ratios.push(c / o);
      console.log(`  round ${r + 1}: curl ${c.toFixed(0)} ms, muse ${o.toFixed(0)} ms, throughput ratio ${(c / o).toFixed(2)}, muse peak RSS ${(rssAll[rssAll.length - 1] / 1024).toFixed(0)} MB`);
    }
    const label = sizeMb >= 1024 ? `${sizeMb / 1024}GB` : `${sizeMb}MB`;
    const mbs = (ms: number): string => (sizeMb / (ms / 1000)).toFixed(0);
    console.log(
      `download ${label} (median of ${rounds}, process wall time): curl ${mbs(median(curlMsAll))} MB/s, muse ${mbs(median(oursMsAll))} MB/s, ` +
        `ratio ${median(ratios).toFixed(2)} (target >= 0.9); muse peak RSS max ${(Math.max(...rssAll) / 1024).toFixed(0)} MB (target < 100)`,
    );

    // 100 files of 10 KB in one submit.
    const files: { path: string; name: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const p = path.join(work, `in${i}.dat`);
      fs.writeFileSync(p, Buffer.alloc(10 * 1024, i));
      files.push({ path: p, name: `in${i}.dat` });
    }
    const client = new WsClient({ baseUrl: srv.url });
    const submitUrl = `${srv.url}software/muse/run/sw_example/`;
    const curlArgs = ['-sS', '--fail', '--noproxy', '*', '-o', '/dev/null', '-w', '%{time_total}', ...files.flatMap((f) => ['-F', `file=@${f.path}`]), '-F', 'cmd=python /add.py', '-F', 'jwt=bench', submitUrl];
    const upCurl: number[] = [];
    const upOurs: number[] = [];
    await client.submit('sw_example', { cmd: 'python /add.py', files }, 'bench'); // warm-up (JIT, connection)
    for (let r = 0; r < Math.max(rounds, 5); r++) {
      const c = await run('curl', curlArgs);
      if (c.code !== 0) throw new Error(`curl upload failed (exit ${c.code}): ${c.stderr}`);
      // curl's own time_total, so its process start-up is not counted against it.
      upCurl.push(Number(c.stdout.trim()) * 1000);
      const t0 = process.hrtime.bigint();
      await client.submit('sw_example', { cmd: 'python /add.py', files }, 'bench');
      upOurs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    await client.close();
    const upRatios = upCurl.map((c, i) => upOurs[i] / c);
    console.log(`submit 100 x 10KB (median of ${upCurl.length}): curl ${median(upCurl).toFixed(1)} ms, muse ${median(upOurs).toFixed(1)} ms, time ratio ${median(upRatios).toFixed(2)}`);
    console.log(`load average at end: ${loadavg()}`);
  } finally {
    srv.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
