// The in-host half of the vscode bench (scripts/bench-vscode.sh): loaded by the extension host as
// `extensionTestsPath`, bundled by esbuild into the bench's copy of the extension (so its
// `require('vscode')` is ours: it lives in `<extension>/bench/`). One round per extension host:
// seeds a store of N runs, activates the empty extension and ours (neither has activation events
// in the bench copy, so both are still unloaded), times the tree, requires fresh copies of the
// bundles (dist/core.js too when the build has a second bundle), appends one JSON line. In the
// first round of the build under test, the event-loop lag while data moves (bench-vscode-lag.ts).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run, RunState } from '../src/core/model';
import type { MuseExtensionApi } from '../src/extension/extension';
import type { RunsNode } from '../src/extension/runsView';
import { downloadLag, followLag } from './bench-vscode-lag';

const MUSE_ID = 'muse-runner.muse-runner';
const EMPTY_ID = 'muse-runner.muse-bench-empty';
/** Activated first: the host's first activation of a round pays one-time costs (hundreds of ms). */
const WARMUP_ID = 'muse-runner.muse-bench-warmup';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run scripts/bench-vscode.sh)`);
  return v;
}

/** N runs over a few profiles of each kind, mostly ended, some waiting (spinning icons, badge). */
function seedRuns(n: number): Run[] {
  const profiles: [string, Run['backend']][] = [
    ['cluster-ws', 'ws'],
    ['cluster-ssh', 'ssh'],
    ['gpu-ssh', 'ssh'],
    ['laptop', 'local'],
    ['staging-ws', 'ws'],
  ];
  const states: RunState[] = ['ok', 'ok', 'ok', 'failed', 'cancelled', 'ok', 'ok', 'ok', 'ok', 'failed'];
  const t0 = Date.parse('2025-01-01T00:00:00Z');
  const runs: Run[] = [];
  for (let i = 0; i < n; i++) {
    const [profile, backend] = profiles[i % profiles.length];
    const state: RunState = i % 100 === 0 ? 'waiting' : states[i % states.length];
    const created = new Date(t0 + i * 60_000).toISOString();
    const ended = new Date(t0 + i * 60_000 + 42_000).toISOString();
    runs.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      profile,
      backend,
      software: i % 3 ? 'sw_example' : 'python',
      key: `k${i.toString(36).padStart(8, '0')}`,
      request: { cmd: `python3 script${i % 50}.py ${i}`, cmdOption: '', files: [`script${i % 50}.py`, 'data.csv'], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
      label: `script${i % 50}.py`,
      state,
      raw: { jobId: String(100000 + i), slurmState: state === 'ok' ? 'COMPLETED' : state === 'waiting' ? 'RUNNING' : 'FAILED', exitCode: state === 'failed' ? 1 : 0 },
      createdAt: created,
      updatedAt: state === 'waiting' ? created : ended,
      submittedAt: created,
      ...(state === 'waiting' ? {} : { endedAt: ended }),
    });
  }
  return runs.reverse(); // newest first, as the store keeps them
}

async function timed<T>(f: () => T | Thenable<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

/**
 * CPU time of this process (user + system, ms): on a machine shared with other work, wall time
 * swings with the load, CPU time much less (the bench compares two builds by both).
 */
function cpuMs(since?: NodeJS.CpuUsage): [number, NodeJS.CpuUsage] {
  const u = process.cpuUsage(since);
  return [(u.user + u.system) / 1000, u];
}

async function activate(id: string): Promise<{ ms: number; cpuMs: number; api: unknown }> {
  const ext = vscode.extensions.getExtension(id);
  if (!ext) throw new Error(`${id} is not loaded in this extension host`);
  if (ext.isActive) throw new Error(`${id} is already active: the bench copy must have no activation events`);
  const cpu0 = process.cpuUsage();
  const [ms, api] = await timed(() => ext.activate());
  return { ms, cpuMs: cpuMs(cpu0)[0], api };
}

/** Times the tree as the workbench asks for it: the root, each profile group, every item. */
async function treeTimes(api: MuseExtensionApi): Promise<Record<string, number>> {
  const view = api.runsView;
  const [rootMs, roots] = await timed(() => view.getChildren() as RunsNode[]);
  let groupsMs = 0;
  const runs: RunsNode[] = [];
  for (const p of roots) {
    const [ms, kids] = await timed(() => view.getChildren(p) as RunsNode[]);
    groupsMs += ms;
    runs.push(...kids);
  }
  const [itemsMs] = await timed(() => {
    for (const node of [...roots, ...runs]) view.getTreeItem(node);
  });
  return { rootMs, groupsMs, itemsMs, groups: roots.length, items: roots.length + runs.length };
}

/** require() of a fresh copy of a bundle (a new path: nothing cached), in this extension host. */
function requireCopy(src: string, dir: string): { ms: number; cpuMs: number } {
  const copy = path.join(dir, `${path.basename(src, '.js')}-${process.pid}-${Date.now()}.js`);
  fs.copyFileSync(src, copy);
  try {
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(copy);
    return { ms: performance.now() - t, cpuMs: cpuMs(cpu0)[0] };
  } finally {
    fs.rmSync(copy, { force: true });
  }
}

/** The `extensionTestsPath` entry: one bench round. */
export async function run(): Promise<void> {
  const out = env('MUSE_BENCH_OUT');
  // This file is <extension>/bench/host.js: the build under test (the bench compares two).
  const extDir = path.resolve(__dirname, '..');
  const nRuns = Number(process.env.MUSE_BENCH_RUNS || 5000);
  const earlier = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
  const round = earlier.filter((l) => (JSON.parse(l) as { ext?: string }).ext === extDir).length;

  // The store the extension reads at activation: written whole (5,000 store.add calls would time the disk).
  const dataDir = env('MUSE_DATA_DIR');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'runs.json'), JSON.stringify({ version: 1, runs: seedRuns(nRuns) }, null, 1) + '\n');

  // Alternate which one goes first, so neither always pays the host's first-activation costs.
  const warmupMs = (await activate(WARMUP_ID)).ms;
  const emptyFirst = round % 2 === 0;
  let empty: { ms: number; cpuMs: number } | undefined;
  if (emptyFirst) empty = await activate(EMPTY_ID);
  const muse = await activate(MUSE_ID);
  if (!emptyFirst) empty = await activate(EMPTY_ID);
  const api = muse.api as MuseExtensionApi;
  const [readyMs] = await timed(() => api.ready);
  const stored = api.store.list().length;
  if (stored !== nRuns) throw new Error(`the store shows ${stored} runs, ${nRuns} were seeded`);

  const cold = await treeTimes(api);
  const warm = await treeTimes(api);

  const copies = path.join(extDir, 'bench', 'copies');
  fs.mkdirSync(copies, { recursive: true });
  const requireExtension = requireCopy(path.join(extDir, 'dist', 'extension.js'), copies);
  // Only a two-bundle build has it: loaded on first use there, not at activation.
  const core = path.join(extDir, 'dist', 'core.js');
  const requireCore = fs.existsSync(core) ? requireCopy(core, copies) : undefined;

  // Event-loop lag while data moves: once per bench (round 0 of the build under test).
  const io = process.env.MUSE_BENCH_IO === extDir && round === 0 ? { download: await downloadLag(api, copies), follow: await followLag(api, copies) } : undefined;

  const line = {
    ext: extDir,
    io,
    round,
    emptyFirst,
    warmupMs,
    emptyLoadActivateMs: empty!.ms,
    emptyLoadActivateCpuMs: empty!.cpuMs,
    museLoadActivateMs: muse.ms,
    museLoadActivateCpuMs: muse.cpuMs,
    museActivateMs: api.activationMs,
    readyMs,
    runs: stored,
    tree: { cold, warm },
    requireExtensionMs: requireExtension.ms,
    requireExtensionCpuMs: requireExtension.cpuMs,
    requireCoreMs: requireCore?.ms,
    requireCoreCpuMs: requireCore?.cpuMs,
  };
  fs.appendFileSync(out, JSON.stringify(line) + '\n');
  console.log(`[muse-bench] round ${round}: ${JSON.stringify(line)}`);
}
