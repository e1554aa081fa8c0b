/**
 * ws transfer bench (`npx tsx scripts/bench-ws.ts`): our client against curl, on loopback.
 *  - download of 1 GB (generated as it is sent, never stored in memory) with `curl -o` and with
 *    the WsBackend download path, the latter in a child process (bundled with esbuild, run by
 *    plain node) whose peak RSS is measured;
 *  - one submit of 100 files of 10 KB, against `curl -F` with 100 file fields.
 * Prints plain lines with ratios (ours / curl); targets: download ratio >= 0.9, peak RSS < 100 MB.
 * Options: --size-mb N (default 1024), --rounds N (default 3; the best round of each is kept).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { WsBackend } from '../src/core/backends/ws/wsBackend';
import { WsClient } from '../src/core/backends/ws/wsClient';

const MB = 1024 * 1024;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** Child mode: download once through WsBackend, print timing and peak RSS as JSON. */
async function child(url: string, dest: string): Promise<void> {
  const b = new WsBackend({ baseUrl: url, getToken: async () => undefined });
  const loadedRssKb = process.resourceUsage().maxRSS;
  const t0 = process.hrtime.bigint();
  const r = await b.download('big', dest);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await b.dispose();
  process.stdout.write(JSON.stringify({ ms, bytes: r.bytes, maxRssKb: process.resourceUsage().maxRSS, loadedRssKb }) + '\n');
}

function startServer(sizeBytes: number): Promise<{ url: string; close(): void; uploads: number[] }> {
  const block = Buffer.alloc(MB, 0x5a);
  const uploads: number[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/api/download/')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': sizeBytes });
      let left = sizeBytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        uploads.push(n);
        const key = '58ae6cea-df31-4059-9466-b817c337985d';
        const body = JSON.stringify({ msg: 'ok', url: `http://127.0.0.1/api/software/muse/state/sw_example/${key}/` });
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
      resolve({ url: `http://127.0.0.1:${port}/api/`, close: () => server.close(), uploads });
    }),
  );
}

/** Runs a command without blocking this process's event loop (the server lives here). */
function run(cmd: string, args: string[]): Promise<{ ms: number; stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, code: code ?? -1 }));
  });
}

/** curl's own `-w %{time_total}` (seconds), so its process start-up is not counted against it. */
function curlMs(out: string): number {
  const s = Number(out.trim());
  if (!Number.isFinite(s)) throw new Error(`unexpected curl output: ${out}`);
  return s * 1000;
}

async function main(): Promise<void> {
  const sizeMb = arg('--size-mb', 1024);
  const rounds = arg('--rounds', 3);
  const size = sizeMb * MB;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ws-'));
  const srv = await startServer(size);
  try {
    // Bundle the child so its RSS is ours, not a TypeScript loader's.
    const childJs = path.join(work, 'child.js');
    const esbuild = await import('esbuild');
    esbuild.buildSync({ entryPoints: [__filename], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: childJs, logLevel: 'error', external: ['esbuild'] });

    const dest = path.join(work, 'big.bin');
    const dlUrl = `${srv.url}download/?key=big`;
    let curlBest = Infinity;
    let oursBest = Infinity;
    let peakKb = 0;
    let loadedKb = 0;
    for (let r = 0; r < rounds; r++) {
      const c = await run('curl', ['-sS', '--fail', '-o', dest, '-w', '%{time_total}', dlUrl]);
      if (c.code !== 0 || fs.statSync(dest).size !== size) throw new Error(`curl download failed (exit ${c.code})`);
      curlBest = Math.min(curlBest, curlMs(c.stdout));
      fs.rmSync(dest);
      const o = await run(process.execPath, [childJs, '--child', srv.url, dest]);
      if (o.code !== 0) throw new Error(`our download failed (exit ${o.code})`);
      const res = JSON.parse(o.stdout.trim().split('\n').pop() ?? '{}') as { ms: number; bytes: number; maxRssKb: number; loadedRssKb: number };
      if (res.bytes !== size || fs.statSync(dest).size !== size) throw new Error('our download has the wrong size');
      oursBest = Math.min(oursBest, res.ms);
      peakKb = Math.max(peakKb, res.maxRssKb);
      loadedKb = Math.max(loadedKb, res.loadedRssKb);
      fs.rmSync(dest);
    }
    const curlMBs = sizeMb / (curlBest / 1000);
    const oursMBs = sizeMb / (oursBest / 1000);
    const label = sizeMb >= 1024 ? `${sizeMb / 1024}GB` : `${sizeMb}MB`;
    console.log(`download ${label}: curl ${curlMBs.toFixed(0)} MB/s, muse ${oursMBs.toFixed(0)} MB/s, ratio ${(oursMBs / curlMBs).toFixed(2)}; peak RSS ${(peakKb / 1024).toFixed(0)} MB (${(loadedKb / 1024).toFixed(0)} MB before the download)`);

    // 100 files of 10 KB in one submit.
    const files: { path: string; name: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const p = path.join(work, `in${i}.dat`);
      fs.writeFileSync(p, Buffer.alloc(10 * 1024, i));
      files.push({ path: p, name: `in${i}.dat` });
    }
    const client = new WsClient({ baseUrl: srv.url });
    const submitUrl = `${srv.url}software/muse/run/sw_example/`;
    const curlArgs = ['-sS', '--fail', '-o', '/dev/null', '-w', '%{time_total}', ...files.flatMap((f) => ['-F', `file=@${f.path}`]), '-F', 'cmd=python /add.py', '-F', 'jwt=bench', submitUrl];
    let curlUp = Infinity;
    let oursUp = Infinity;
    for (let r = 0; r < Math.max(rounds, 5); r++) {
      const c = await run('curl', curlArgs);
      if (c.code !== 0) throw new Error(`curl upload failed (exit ${c.code})`);
      curlUp = Math.min(curlUp, curlMs(c.stdout));
      const t0 = process.hrtime.bigint();
      await client.submit('sw_example', { cmd: 'python /add.py', files }, 'bench');
      oursUp = Math.min(oursUp, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    await client.close();
    console.log(`submit 100 x 10KB: curl ${curlUp.toFixed(1)} ms, muse ${oursUp.toFixed(1)} ms, time ratio ${(oursUp / curlUp).toFixed(2)}`);
  } finally {
    srv.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) {
  const i = process.argv.indexOf('--child');
  child(process.argv[i + 1], process.argv[i + 2]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
