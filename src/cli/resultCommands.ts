/** `muse results`, `muse content`, `muse download`: fetching what runs produced, safely to disk. */
import type { Command } from 'commander';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { replaceAtomically, writeFileAtomic } from '../core/atomicFile';
import type { Backend, OpOptions } from '../core/backend';
import { can, cannot } from '../core/backend';
import { MuseError } from '../core/errors';
import { isFinal } from '../core/model';
import type { ResultOutcome, Run } from '../core/model';
import { readOutputs } from '../core/compare/runOutputs';
import { refreshRuns, runRef } from '../core/runs';
import { findSweep, groupSweeps } from '../core/sweep/sweepGroups';
import { compileExtract, sweepTable, sweepTableCells, sweepTableCsv } from '../core/sweep/sweepTable';
import type { CliContext } from './context';
import { formatBytes } from './terminal';

/** The first 8 characters of a key, for file names and short displays. */
export function shortKey(run: Run): string {
  return (run.key ?? run.id).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 8);
}

/** Where a file goes: `-o PATH` (a file, or a folder to put `defaultName` in), else the current folder. */
export function targetPath(ctx: CliContext, out: string | undefined, defaultName: string): string {
  if (!out) return ctx.resolvePath(defaultName);
  if (ctx.isDirTarget(out)) return path.join(ctx.resolvePath(out), defaultName);
  return ctx.resolvePath(out);
}

/**
 * Runs `write(tmp)` to a temp file beside `dest`, then renames it (`replaceAtomically`): nothing
 * half-written is ever left at (or beside) `dest`, whatever happens. A `write` that makes no
 * file (a stdout answer) or moves it itself leaves `dest` alone.
 */
export async function writeBeside<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const dir = path.dirname(dest);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new MuseError('io', `Cannot create the folder ${dir}: ${(e as Error).message}`);
  }
  const tmp = path.join(dir, `.${path.basename(dest)}.muse-${randomBytes(4).toString('hex')}.part`);
  return replaceAtomically(dest, write, tmp, { optional: true });
}

/** `writeBeside` under the command's cancel (Ctrl-C) and progress, ended however it goes. */
async function saveBeside<T>(ctx: CliContext, dest: string, write: (tmp: string, op: OpOptions) => Promise<T>): Promise<T> {
  const op = ctx.op();
  try {
    return await writeBeside(dest, (tmp) => write(tmp, op));
  } finally {
    op.end();
  }
}

/** A file name's start for a run's files: software and short key, safe on any file system. */
function runFileBase(run: Run): string {
  return `${run.software}-${shortKey(run)}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Refreshes a run that has not ended; throws `notReady` / `runFailed` unless it ended OK. */
export async function requireEndedOk(ctx: CliContext, backend: Backend, run: Run): Promise<Run> {
  const store = await ctx.store();
  let r = run;
  if (!isFinal(r.state) && r.key) [r] = await refreshRuns(backend, store, [r], { signal: ctx.signal });
  const name = r.key ?? r.id;
  if (r.state === 'ok') return r;
  if (!isFinal(r.state)) {
    throw new MuseError('notReady', `The run ${name} has not ended yet (state ${r.state}): wait with "muse state ${shortKey(r)}" and ask again.`);
  }
  throw new MuseError('runFailed', `${endedNotOkText(r)} See its run folder with "muse content ${shortKey(r)}".`);
}

/** "The run K ended FAILED (exit 3): <error>." */
export function endedNotOkText(r: Run): string {
  const facts = [r.raw.slurmState, r.raw.latestCr, r.raw.exitCode !== undefined ? `exit ${r.raw.exitCode}` : undefined, r.raw.signal]
    .filter((x) => x !== undefined && x !== '')
    .join(', ');
  return `The run ${r.key ?? r.id} ended ${r.state}${facts ? ` (${facts})` : ''}${r.lastError ? `: ${r.lastError}` : ''}.`;
}

function defaultResultName(run: Run): string {
  const base = runFileBase(run);
  return run.request.returnedType === 'run.zip' ? `${base}.zip` : `${base}.stdout.txt`;
}

/**
 * Fetches the results of an ended-OK run: stdout printed, files saved (to -o or the current
 * folder), a download key printed and remembered.
 */
export async function fetchResults(ctx: CliContext, backend: Backend, run: Run, out: string | undefined): Promise<ResultOutcome> {
  const dest = targetPath(ctx, out, defaultResultName(run));
  let outcome = await saveBeside(ctx, dest, (tmp, op) => backend.results(runRef(run), tmp, op));
  const store = await ctx.store();
  switch (outcome.kind) {
    case 'stdout':
      if (out) {
        await writeBeside(dest, async (tmp) => fs.writeFileSync(tmp, outcome.kind === 'stdout' ? outcome.text : ''));
        ctx.info(`Saved stdout to ${dest}`);
        ctx.out(dest);
      } else {
        ctx.out(outcome.text);
      }
      ctx.json({ run, result: { kind: 'stdout', text: outcome.text, ...(out ? { path: dest } : {}) } });
      break;
    case 'file':
      outcome = { ...outcome, path: dest };
      ctx.info(`Saved ${formatBytes(outcome.bytes)} to ${dest}`);
      ctx.out(dest);
      ctx.json({ run, result: outcome });
      break;
    case 'downloadKey':
      if (run.downloadKey !== outcome.key) run = await store.update(run.id, { downloadKey: outcome.key });
      ctx.info(`The results are kept for later. Get them with: muse download ${outcome.key}`);
      ctx.out(outcome.key);
      ctx.json({ run, result: outcome });
      break;
  }
  return outcome;
}

/** Finds a run in the store by id / key / prefix, with the backend of its profile. */
export async function runAndBackend(ctx: CliContext, key: string): Promise<{ run: Run; backend: Backend }> {
  const store = await ctx.store();
  const run = store.resolve(key);
  return { run, backend: ctx.backend(ctx.profileForRun(run)) };
}

export function registerResultCommands(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  program
    .command('results')
    .description('fetch the results of an ended run: stdout printed, files saved (-o PATH or the current folder); with --table, a sweep\'s results as a table')
    .argument('<key>', 'run id, backend key, or a unique prefix (with --table: a sweep id or prefix)')
    .option('-o, --output <path>', 'file (or folder) to save to')
    .option('--table', "a sweep's results: one row per task (parameters, state, elapsed, peak memory, last stdout line)")
    .option('--extract <regex>', 'with --table: the value column is the first group of the last match of REGEX in stdout (e.g. "loss=([0-9.]+)")')
    .option('--csv', 'with --table: print (or save with -o) the table as CSV')
    .action(async (key: string, o: { output?: string; table?: boolean; extract?: string; csv?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      if (o.table) return sweepResultsTable(ctx, key, o);
      if (o.extract !== undefined || o.csv) throw new MuseError('usage', '--extract and --csv go with --table (a sweep\'s results table).');
      const { run, backend } = await runAndBackend(ctx, key);
      const ok = await requireEndedOk(ctx, backend, run);
      await fetchResults(ctx, backend, ok, o.output);
    });

  program
    .command('content')
    .description('save the whole run folder as a zip (to investigate a run, even a failed one)')
    .argument('<key>', 'run id, backend key, or a unique prefix')
    .option('-o, --output <path>', 'file (or folder) to save to')
    .action(async (key: string, o: { output?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const { run, backend } = await runAndBackend(ctx, key);
      const dest = targetPath(ctx, o.output, `${runFileBase(run)}-content.zip`);
      const r = await saveBeside(ctx, dest, (tmp, op) => backend.content(runRef(run), tmp, op));
      ctx.info(`Saved the run folder (${formatBytes(r.bytes)}) to ${dest}`);
      ctx.out(dest);
      ctx.json({ run, path: dest, bytes: r.bytes });
    });

  program
    .command('download')
    .description('download a result kept for later (the key printed for --todownload runs)')
    .argument('<downloadKey>', 'the download key (like 20210119_130603_<uuid>)')
    .option('-o, --output <path>', 'file (or folder) to save to')
    .action(async (downloadKey: string, o: { output?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      if (!/^[A-Za-z0-9_.-]+$/.test(downloadKey)) throw new MuseError('usage', `"${downloadKey}" does not look like a download key (letters, digits, "_", "-", ".").`);
      const store = await ctx.store();
      const known = store.list().find((r) => r.downloadKey === downloadKey);
      const profile = known ? ctx.profileForRun(known) : ctx.profile();
      const backend = ctx.backend(profile);
      if (!can(backend, 'download')) throw cannot(backend.kind, 'download', { profile: profile.name, hint: 'Fetch a run\'s results with "muse results KEY".' });
      const download = backend.download.bind(backend);
      const ext = known?.request.returnedType === 'run.zip' ? '.zip' : known ? '.txt' : '';
      const dest0 = targetPath(ctx, o.output, `${downloadKey}${ext}`);
      let dest = dest0;
      const r = await saveBeside(ctx, dest0, async (tmp, op) => {
        const res = await download(downloadKey, tmp, op);
        // Unknown run: name the file after what it is.
        if (!o.output && !known) {
          const head = Buffer.alloc(4);
          const fd = fs.openSync(tmp, 'r');
          try {
            fs.readSync(fd, head, 0, 4, 0);
          } finally {
            fs.closeSync(fd);
          }
          dest = dest0 + (head.toString('latin1') === 'PK\u0003\u0004' ? '.zip' : '.txt');
          fs.renameSync(tmp, dest);
        }
        return res;
      });
      ctx.info(`Saved ${formatBytes(r.bytes)} to ${dest}`);
      ctx.out(dest);
      ctx.json({ downloadKey, path: dest, bytes: r.bytes });
    });
}

/** Aligned columns for a terminal; the last column is not padded. */
function textTable(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join('  ')).join('\n');
}

/** `muse results SWEEP --table [--extract REGEX] [--csv] [-o FILE]`: the outputs read in one batch per profile. */
async function sweepResultsTable(ctx: CliContext, key: string, o: { output?: string; extract?: string; csv?: boolean }): Promise<void> {
  const extract = o.extract !== undefined ? compileExtract(o.extract) : undefined;
  const store = await ctx.store();
  const sweep = findSweep(groupSweeps(store.list()), key);
  let tasks = sweep.tasks;
  // States first (one batched call per profile), so the table says what is true now.
  const active = tasks.filter((t) => t.key && !isFinal(t.state));
  if (active.length > 0) {
    const byProfile = new Map<string, Run[]>();
    for (const t of active) byProfile.set(t.profile, [...(byProfile.get(t.profile) ?? []), t]);
    const fresh = new Map<string, Run>();
    for (const group of byProfile.values()) {
      for (const r of await refreshRuns(ctx.backend(ctx.profileForRun(group[0]!)), store, group, { signal: ctx.signal })) fresh.set(r.id, r);
    }
    tasks = tasks.map((t) => fresh.get(t.id) ?? t);
  }
  const outputs = await readOutputs(tasks, async (r) => ctx.backend(ctx.profileForRun(r)), { signal: ctx.signal });
  const table = sweepTable(tasks, outputs, extract ? { extract } : {});
  if (o.csv) {
    const csv = sweepTableCsv(table);
    if (o.output) {
      const dest = targetPath(ctx, o.output, `sweep-${sweep.id.slice(0, 8)}.csv`);
      await writeFileAtomic(dest, csv);
      ctx.info(`Saved the table (${table.rows.length} tasks) to ${dest}`);
      ctx.out(dest);
    } else if (!ctx.globals.json) {
      ctx.io.stdout.write(csv);
    }
  } else {
    ctx.out(textTable(sweepTableCells(table)));
  }
  ctx.json({ sweep: sweep.id, table });
}
