// Event-loop lag of the extension host while the extension moves data (part of the in-host
// vscode bench, bundled into bench/host.js): a 1 GB web API download through the backend the
// extension's own Backends give (asyncFileWrites, as every command uses it), served by a child
// process so that the serving costs this event loop nothing. Lag is sampled with
// perf_hooks.monitorEventLoopDelay at a 10 ms resolution: p50/p99/max in ms. And 10 local runs
// writing 1 MB/s each, followed in Follow Output documents for 20 s (issue 9).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import type { MuseExtensionApi } from '../src/extension/extension';

/** Event-loop delay figures in ms. */
export interface LagFigures {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/**
 * Samples the event-loop delay while `work` runs. With `MUSE_BENCH_CPUPROF=DIR` in the
 * environment, a CPU profile of the extension host over the same time is written to
 * DIR/`name`.cpuprofile (open it in Chrome's DevTools or VS Code).
 */
export async function lagDuring<T>(work: () => Promise<T>, name = 'lag'): Promise<{ lag: LagFigures; result: T; ms: number }> {
  const prof = process.env.MUSE_BENCH_CPUPROF ? await startProfile() : undefined;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t = performance.now();
  try {
    const result = await work();
    return { result, ms: performance.now() - t, lag: { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, samples: h.count } };
  } finally {
    h.disable();
    if (prof) await prof(path.join(process.env.MUSE_BENCH_CPUPROF!, `${name}.cpuprofile`)).catch(() => undefined);
  }
}

/** Starts the inspector's CPU profiler in this process; the returned function stops it and writes the profile. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const inspector = require('inspector') as typeof import('inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object): Promise<any> => new Promise((resolve, reject) => session.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 1000 });
  await post('Profiler.start');
  return async (file) => {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(file, JSON.stringify(profile));
  };
}

// The server of the big answer: N bytes as a zip download, from a 1 MB buffer written again and again.
const SERVER = `
const http = require('http');
const N = Number(process.argv[1]);
const chunk = Buffer.alloc(1 << 20, 120);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/zip', 'content-disposition': 'attachment; filename="big.zip"', 'content-length': N });
  let left = N;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

/** A child process answering every GET with `bytes` bytes of a zip download. */
async function bigAnswerServer(bytes: number): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['-e', SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the download server exited (${code})`)));
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return { url: `http://127.0.0.1:${port}/api/`, stop: () => child.kill() };
}

/** The 1 GB download round: lag figures, MB/s. */
export async function downloadLag(api: MuseExtensionApi, dir: string, bytes = 1024 ** 3): Promise<{ lag: LagFigures; mbPerS: number; bytes: number }> {
  const server = await bigAnswerServer(bytes);
  const dest = path.join(dir, 'big-download.zip');
  try {
    // The backend the extension's commands use (Backends.get: asyncFileWrites).
    const backend = await api.backends.get({ name: 'bench-ws', kind: 'ws', url: server.url });
    const { lag, result, ms } = await lagDuring(() => backend.download!('20261201_000000_bench', dest), 'download');
    if (result.bytes !== bytes) throw new Error(`the download wrote ${result.bytes} bytes, ${bytes} were sent`);
    return { lag, mbPerS: bytes / 1e6 / (ms / 1000), bytes };
  } finally {
    server.stop();
    fs.rmSync(dest, { force: true });
  }
}

/**
 * The follow round: `runs` local-runner runs each writing `bytesPerSecond` to stdout for
 * `seconds`, each followed in a Follow Output document (opened through the command, as a user
 * does; one of them visible, the others in background tabs), lag sampled over the whole time.
 */
export async function followLag(
  api: MuseExtensionApi,
  dir: string,
  o = { runs: 10, seconds: 20, bytesPerSecond: 1_000_000 },
): Promise<{ lag: LagFigures; runs: number; seconds: number; bytesPerSecond: number; shownChars: number; visibleChars: number; focused: boolean; open: { lag: LagFigures; ms: number; each: number[] } }> {
  const vscode = require('vscode') as typeof import('vscode');
  const { runRef, submitRun } = require('../src/core/runs') as typeof import('../src/core/runs');
  const profile = { name: 'local', kind: 'local' } as const;
  const backend = await api.backends.get(profile);
  const script = path.join(dir, 'writer.py');
  // 10 blocks a second of 100-byte lines, on time (a late block is not made up by a burst).
  fs.writeFileSync(
    script,
    [
      'import sys, time',
      `block = ("x" * 99 + "\\n") * (${o.bytesPerSecond} // 1000)`,
      't0 = time.time()',
      // The runs outlive the sampling (their ends are not part of it).
      `for i in range(${(o.seconds + 15) * 10}):`,
      '    sys.stdout.write(block)',
      '    sys.stdout.flush()',
      '    d = t0 + (i + 1) / 10 - time.time()',
      '    if d > 0: time.sleep(d)',
      '',
    ].join('\n'),
  );
  const runs = await Promise.all(
    Array.from({ length: o.runs }, () =>
      submitRun({ backend, store: api.store, profile, request: { software: 'direct', cmd: 'python3 writer.py', files: [{ path: script, name: 'writer.py' }] } }),
    ),
  );
  const editors: import('vscode').TextEditor[] = [];
  const each: number[] = [];
  // Opening: each document catches up on what its run wrote so far (up to the kept size).
  const opening = await lagDuring(async () => {
    for (const r of runs) {
      const t0 = performance.now();
      editors.push((await vscode.commands.executeCommand('muse.followOutput', r.id)) as import('vscode').TextEditor);
      each.push(performance.now() - t0);
    }
  }, 'follow-open');
  // The runs write on: the lag is sampled for `seconds` while the documents grow.
  const { lag } = await lagDuring(() => new Promise((resolve) => setTimeout(resolve, o.seconds * 1000)), 'follow');
  // Counted after the sampling: joining 10 documents of up to 8 MB is the bench's work, not the extension's.
  const shownChars = editors.reduce((n, e) => n + (e?.document.getText().length ?? 0), 0);
  const visible = new Set(vscode.window.visibleTextEditors.map((e) => e.document));
  const visibleChars = editors.reduce((n, e) => n + (e && visible.has(e.document) ? e.document.getText().length : 0), 0);
  const focused = vscode.window.state.focused;
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  for (const r of runs) await backend.cancel?.(runRef(r)).catch(() => undefined);
  return { lag, runs: o.runs, seconds: o.seconds, bytesPerSecond: o.bytesPerSecond, shownChars, visibleChars, focused, open: { lag: opening.lag, ms: opening.ms, each } };
}
