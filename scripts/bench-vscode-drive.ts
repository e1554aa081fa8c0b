// The browser half of the vscode bench (scripts/bench-vscode.sh): opens code-server's workbench
// once per round (a new extension host each time) with the bench's in-host entry as
// `extensionTestsPath`, then prints the figures: medians over the rounds, ratios where a
// baseline measured in the same run exists. Nothing here asserts a timing.
//
//   npx tsx scripts/bench-vscode-drive.ts --server URL --folder WS --extension DIR \
//     --host DIR/bench/host.js --profile DIR --results FILE --rounds N [--log FILE] [--vsix FILE]
import * as fs from 'fs';
import * as path from 'path';
import { format, parseArgs } from 'util';
import { launchBrowser, remoteUri, workbenchUrl } from '../test/vscode/runner/browser';

const { values: o } = parseArgs({
  options: {
    server: { type: 'string' },
    folder: { type: 'string' },
    extension: { type: 'string' },
    host: { type: 'string' },
    profile: { type: 'string' },
    results: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    log: { type: 'string' },
    vsix: { type: 'string' },
    timeout: { type: 'string', default: '120' },
  },
});

function need(name: keyof typeof o): string {
  const v = o[name];
  if (typeof v !== 'string' || !v) throw new Error(`--${name} is required`);
  return v;
}

/** One round: a fresh browser profile and workbench, so a fresh extension host. */
async function round(i: number): Promise<void> {
  const server = need('server');
  const payload: [string, string][] = [
    ['extensionDevelopmentPath', remoteUri(server, path.resolve(need('extension')))],
    ['extensionTestsPath', remoteUri(server, path.resolve(need('host')))],
    ['skipWelcome', 'true'],
  ];
  const log = (line: string): void => {
    if (o.log) fs.appendFileSync(o.log, line + '\n');
  };
  const context = await launchBrowser(path.join(need('profile'), `round-${i}`));
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
  warmupMs: number;
  emptyLoadActivateMs: number;
  museLoadActivateMs: number;
  museActivateMs: number;
  readyMs: number;
  runs: number;
  tree: Record<'cold' | 'warm', { rootMs: number; groupsMs: number; itemsMs: number; groups: number; items: number }>;
  requireExtensionMs: number;
  requireCoreMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const kib = (file: string): string => (fs.existsSync(file) ? `${(fs.statSync(file).size / 1024).toFixed(0)} KiB` : 'missing');

function report(lines: Line[]): void {
  const med = (f: (l: Line) => number): number => median(lines.map(f));
  const n = lines.length;
  const museTotal = med((l) => l.museLoadActivateMs);
  const emptyTotal = med((l) => l.emptyLoadActivateMs);
  const activate = med((l) => l.museActivateMs);
  console.log(`vscode bench: ${n} round(s) in code-server's extension host, medians (production bundles)`);
  console.log(`  activation, load + activate(): ${ms(museTotal)}  vs an empty extension ${ms(emptyTotal)}  = ${(museTotal / emptyTotal).toFixed(2)}x  (issue target: < 50 ms)`);
  console.log(`    of which activate() itself: ${ms(activate)}; loading dist/extension.js and host overhead: ${ms(museTotal - activate)}`);
  console.log(`    per round (muse / empty): ${lines.map((l) => `${l.museLoadActivateMs.toFixed(1)}/${l.emptyLoadActivateMs.toFixed(1)}`).join(', ')}`);
  console.log(`    the extension's own share (muse - empty): ${ms(museTotal - emptyTotal)}; the host's first activation in a round (a warm-up empty extension, not counted): ${ms(med((l) => l.warmupMs))}`);
  console.log(`  require() of a fresh copy, same host: dist/extension.js ${ms(med((l) => l.requireExtensionMs))}, dist/core.js ${ms(med((l) => l.requireCoreMs))} (core: on first use, not at activation)`);
  const runs = lines[0].runs;
  console.log(`  store of ${runs} runs read after activation (api.ready): ${ms(med((l) => l.readyMs))}`);
  for (const k of ['cold', 'warm'] as const) {
    const t = lines[0].tree[k];
    const items = med((l) => l.tree[k].itemsMs);
    console.log(
      `  tree of ${runs} runs (${k}): getChildren(root) ${ms(med((l) => l.tree[k].rootMs))}, getChildren of the ${t.groups} profile groups ${ms(med((l) => l.tree[k].groupsMs))}, getTreeItem x${t.items} ${ms(items)} (${((items * 1000) / t.items).toFixed(1)} µs/item)`,
    );
  }
}

function sizes(): void {
  const dist = path.join(need('extension'), 'dist');
  const main = fs.statSync(path.join(dist, 'extension.js')).size;
  const core = fs.statSync(path.join(dist, 'core.js')).size;
  console.log(
    `  bundles (minified): dist/extension.js ${kib(path.join(dist, 'extension.js'))} (read at activation; ${((100 * main) / (main + core)).toFixed(1)}% of extension + core), dist/core.js ${kib(path.join(dist, 'core.js'))}, dist/cli.js ${kib(path.join(dist, 'cli.js'))}` +
      (o.vsix ? `, VSIX ${kib(o.vsix)}` : ''),
  );
}

async function main(): Promise<void> {
  const results = need('results');
  fs.rmSync(results, { force: true });
  const rounds = Math.max(1, Number(o.rounds));
  for (let i = 0; i < rounds; i++) await round(i);
  const lines = fs.readFileSync(results, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  if (lines.length !== rounds) throw new Error(`${lines.length} result line(s) for ${rounds} round(s)`);
  report(lines);
  sizes();
}

main().catch((e: unknown) => {
  console.error('vscode bench:', e instanceof Error ? e.message : e);
  process.exit(1);
});
