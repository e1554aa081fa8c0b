// The browser half of the vscode bench (scripts/bench-vscode.sh): opens code-server's workbench
// once per round and build (a new extension host each time) with the build's in-host entry
// (DIR/bench/host.js) as `extensionTestsPath`, then prints the figures: medians over the rounds,
// ratios where a baseline measured in the same run exists, and with --compare the activation of
// one bundle against two (rounds alternate which build goes first). Nothing here asserts a timing.
//
//   npx tsx scripts/bench-vscode-drive.ts --server URL --folder WS --extension DIR \
//     --profile DIR --results FILE --rounds N [--log FILE] [--vsix FILE] \
//     [--compare DIR --compare-label TEXT]
import * as fs from 'fs';
import * as path from 'path';
import { format, parseArgs } from 'util';
import { launchBrowser, remoteUri, workbenchUrl } from '../test/vscode/runner/browser';

const { values: o } = parseArgs({
  options: {
    server: { type: 'string' },
    folder: { type: 'string' },
    extension: { type: 'string' },
    compare: { type: 'string' },
    'compare-label': { type: 'string' },
    profile: { type: 'string' },
    results: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    log: { type: 'string' },
    vsix: { type: 'string' },
    timeout: { type: 'string', default: '240' },
  },
});

function need(name: keyof typeof o): string {
  const v = o[name];
  if (typeof v !== 'string' || !v) throw new Error(`--${name} is required`);
  return v;
}

/** One round of one build (extension folder `ext`): a fresh browser profile and workbench, so a fresh extension host. */
async function round(i: number, ext: string, tag: string): Promise<void> {
  const server = need('server');
  const payload: [string, string][] = [
    ['extensionDevelopmentPath', remoteUri(server, ext)],
    ['extensionTestsPath', remoteUri(server, path.join(ext, 'bench', 'host.js'))],
    ['skipWelcome', 'true'],
  ];
  const log = (line: string): void => {
    if (o.log) fs.appendFileSync(o.log, line + '\n');
  };
  const context = await launchBrowser(path.join(need('profile'), `round-${i}-${tag}`));
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    let settle!: (code: number) => void;
    const exited = new Promise<number>((r) => (settle = r));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown) => {
      const line = format(...(Array.isArray(args) ? args : [args]));
      log(`[automation.${type}] ${line}`);
      if (type === 'error') process.stderr.write(`  ${line}\n`);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => settle(code));
    page.on('console', (m) => log(`[console.${m.type()}] ${m.text()}`));
    await page.goto(workbenchUrl(server, path.resolve(need('folder')), payload));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((r) => (timer = setTimeout(() => r(-1), Number(o.timeout) * 1000)));
    const code = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(code === -1 ? `round ${i} did not finish within ${o.timeout} s` : `round ${i}: the in-host bench exited ${code} (see ${o.log ?? 'the log'})`);
  } finally {
    await context.close();
  }
}

interface Line {
  ext: string;
  warmupMs: number;
  emptyLoadActivateMs: number;
  emptyLoadActivateCpuMs: number;
  museLoadActivateMs: number;
  museLoadActivateCpuMs: number;
  museActivateMs: number;
  readyMs: number;
  runs: number;
  tree: Record<'cold' | 'warm', { rootMs: number; groupsMs: number; itemsMs: number; groups: number; items: number }>;
  requireExtensionMs: number;
  requireExtensionCpuMs: number;
  /** Absent for a one-bundle build. */
  requireCoreMs?: number;
  requireCoreCpuMs?: number;
  /** Event-loop lag while data moves (round 0 of the build under test only). */
  io?: { download: { lag: Lag; mbPerS: number; bytes: number }; follow: { lag: Lag; runs: number; seconds: number; bytesPerSecond: number; shownChars: number; visibleChars?: number; focused?: boolean; open?: { lag: Lag; ms: number; each?: number[] } } };
}

interface Lag {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

const lagText = (l: Lag): string => `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (${l.samples} samples at 10 ms)`;

/** The event-loop lag figures of the one round that measured them. */
function reportIo(lines: Line[]): void {
  const io = lines.find((l) => l.io)?.io;
  if (!io) return;
  const d = io.download;
  console.log(`  extension host event-loop lag during a ${(d.bytes / 1024 ** 3).toFixed(0)} GB web API download (the extension's backend, ${d.mbPerS.toFixed(0)} MB/s): ${lagText(d.lag)}  (issue 8 target: p99 < 20 ms)`);
  const f = io.follow;
  console.log(`  extension host event-loop lag while ${f.runs} Follow Output documents grow at ${(f.bytesPerSecond / 1e6).toFixed(0)} MB/s each for ${f.seconds} s (local runs, one visible${f.focused === false ? ' in an unfocused window' : ''}, the others in background tabs; at the end ${((f.visibleChars ?? 0) / 1e6).toFixed(1)} M characters in the visible one, ${((f.shownChars - (f.visibleChars ?? 0)) / 1e6).toFixed(1)} M in the background ones): ${lagText(f.lag)}  (issue 9 target: p99 <= 50 ms)`);
  if (f.open) console.log(`    opening those ${f.runs} documents before (each catching up on its run's output so far, ${(f.open.ms / 1000).toFixed(1)} s in all): ${lagText(f.open.lag)}`);
  if (f.open?.each?.length) console.log(`    each Follow Output command until its editor is shown, in order (ms): ${f.open.each.map((ms) => ms.toFixed(0)).join(', ')}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const kib = (file: string): string => (fs.existsSync(file) ? `${(fs.statSync(file).size / 1024).toFixed(0)} KiB` : 'missing');

/** The build's layout, from its files: two bundles when dist/core.js is there. */
function layout(ext: string): string {
  return fs.existsSync(path.join(ext, 'dist', 'core.js')) ? 'two bundles' : 'one bundle';
}

function report(lines: Line[], ext: string, title: string): void {
  const med = (f: (l: Line) => number): number => median(lines.map(f));
  const n = lines.length;
  const museTotal = med((l) => l.museLoadActivateMs);
  const emptyTotal = med((l) => l.emptyLoadActivateMs);
  const activate = med((l) => l.museActivateMs);
  console.log(`vscode bench, ${title} (${layout(ext)}): ${n} round(s) in code-server's extension host, medians (production bundles)`);
  console.log(`  activation, load + activate(): ${ms(museTotal)}  vs an empty extension ${ms(emptyTotal)}  = ${(museTotal / emptyTotal).toFixed(2)}x  (issue target: < 50 ms)`);
  console.log(`    of which activate() itself: ${ms(activate)}; loading dist/extension.js and host overhead: ${ms(museTotal - activate)}`);
  console.log(`    per round (muse / empty): ${lines.map((l) => `${l.museLoadActivateMs.toFixed(1)}/${l.emptyLoadActivateMs.toFixed(1)}`).join(', ')}`);
  console.log(`    the extension's own share (muse - empty): ${ms(museTotal - emptyTotal)}; the host's first activation in a round (a warm-up empty extension, not counted): ${ms(med((l) => l.warmupMs))}`);
  console.log(`    CPU time of the extension host (less swayed by other load): ${ms(med((l) => l.museLoadActivateCpuMs))} vs the empty extension ${ms(med((l) => l.emptyLoadActivateCpuMs))}`);
  const core = lines.every((l) => l.requireCoreMs !== undefined)
    ? `, dist/core.js ${ms(med((l) => l.requireCoreMs!))} (CPU ${ms(med((l) => l.requireCoreCpuMs!))}; on first use, not at activation)`
    : '';
  console.log(`  require() of a fresh copy, same host: dist/extension.js ${ms(med((l) => l.requireExtensionMs))} (CPU ${ms(med((l) => l.requireExtensionCpuMs))})${core}`);
  const runs = lines[0].runs;
  console.log(`  store of ${runs} runs read after activation (api.ready): ${ms(med((l) => l.readyMs))}`);
  for (const k of ['cold', 'warm'] as const) {
    const t = lines[0].tree[k];
    const items = med((l) => l.tree[k].itemsMs);
    console.log(
      `  tree of ${runs} runs (${k}): getChildren(root) ${ms(med((l) => l.tree[k].rootMs))}, getChildren of the ${t.groups} profile groups ${ms(med((l) => l.tree[k].groupsMs))}, getTreeItem x${t.items} ${ms(items)} (${((items * 1000) / t.items).toFixed(1)} µs/item)`,
    );
  }
  reportIo(lines);
  sizes(ext);
}

function sizes(ext: string): void {
  const dist = path.join(ext, 'dist');
  const main = fs.statSync(path.join(dist, 'extension.js')).size;
  const coreFile = path.join(dist, 'core.js');
  const core = fs.existsSync(coreFile) ? fs.statSync(coreFile).size : 0;
  console.log(
    `  bundles (minified): dist/extension.js ${kib(path.join(dist, 'extension.js'))} (read at activation` +
      (core ? `; ${((100 * main) / (main + core)).toFixed(1)}% of extension + core), dist/core.js ${kib(coreFile)}` : ')') +
      `, dist/cli.js ${kib(path.join(dist, 'cli.js'))}` +
      (o.vsix && ext === path.resolve(need('extension')) ? `, VSIX ${kib(o.vsix)}` : ''),
  );
}

/** One bundle against two: what the second bundle saves at activation (the extension's own share, muse - empty, per round). */
function compare(byExt: Map<string, Line[]>): void {
  const builds = [...byExt.entries()].map(([ext, lines]) => ({
    ext,
    layout: layout(ext),
    total: median(lines.map((l) => l.museLoadActivateMs)),
    share: median(lines.map((l) => l.museLoadActivateMs - l.emptyLoadActivateMs)),
    cpu: median(lines.map((l) => l.museLoadActivateCpuMs)),
    cpuShare: median(lines.map((l) => l.museLoadActivateCpuMs - l.emptyLoadActivateCpuMs)),
    requireMain: median(lines.map((l) => l.requireExtensionCpuMs)),
    firstUse: median(lines.map((l) => l.requireCoreMs ?? 0)),
    firstUseCpu: median(lines.map((l) => l.requireCoreCpuMs ?? 0)),
  }));
  const one = builds.find((b) => b.layout === 'one bundle');
  const two = builds.find((b) => b.layout === 'two bundles');
  if (!one || !two) {
    console.log(`one bundle vs two: both builds have ${builds[0].layout}: nothing to compare`);
    return;
  }
  console.log('one bundle vs two (same code-server, rounds alternating), medians:');
  console.log(`  load + activate(), wall: one bundle ${ms(one.total)}, two bundles ${ms(two.total)}; the extension's own share (muse - empty in the same host): ${ms(one.share)} vs ${ms(two.share)}`);
  console.log(`  load + activate(), CPU: one bundle ${ms(one.cpu)}, two bundles ${ms(two.cpu)}; own share: ${ms(one.cpuShare)} vs ${ms(two.cpuShare)}`);
  console.log(`  require() of dist/extension.js alone, CPU: one bundle ${ms(one.requireMain)}, two bundles ${ms(two.requireMain)}`);
  // The direct difference decides: the empty extension's own figure swings with the order of activation.
  console.log(
    `  two bundles save ${ms(one.total - two.total)} wall, ${ms(one.cpu - two.cpu)} CPU at activation (keep two only if >= 10 ms); ` +
      `they pay ${ms(two.firstUse)} wall, ${ms(two.firstUseCpu)} CPU on first use (require of dist/core.js)`,
  );
}

async function main(): Promise<void> {
  const results = need('results');
  fs.rmSync(results, { force: true });
  const rounds = Math.max(1, Number(o.rounds));
  const mainExt = path.resolve(need('extension'));
  const exts = o.compare ? [mainExt, path.resolve(o.compare)] : [mainExt];
  for (let i = 0; i < rounds; i++) {
    // Alternate which build goes first, so neither always follows the other.
    const order = i % 2 === 0 ? exts : [...exts].reverse();
    for (const ext of order) await round(i, ext, ext === mainExt ? 'main' : 'compare');
  }
  const lines = fs.readFileSync(results, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  if (lines.length !== rounds * exts.length) throw new Error(`${lines.length} result line(s) for ${rounds} round(s) of ${exts.length} build(s)`);
  const byExt = new Map(exts.map((e) => [e, lines.filter((l) => l.ext === e)] as const));
  for (const [ext, mine] of byExt) {
    if (mine.length !== rounds) throw new Error(`${mine.length} result line(s) from ${ext} for ${rounds} round(s)`);
    report(mine, ext, ext === mainExt ? 'this checkout' : `compared with ${o['compare-label'] ?? ext}`);
  }
  if (o.compare) compare(byExt);
}

main().catch((e: unknown) => {
  console.error('vscode bench:', e instanceof Error ? e.message : e);
  process.exit(1);
});
