/**
 * A sweep's results table: one row per task with its parameters (one column per placeholder),
 * state, elapsed time, peak memory where known, and a value taken from its stdout (the last
 * non-empty line, or the first capture group of the user's regular expression, last match).
 * Also the CSV (RFC 4180, spreadsheet formulas defused). Pure: the outputs are read by
 * `readOutputs` (compare/runOutputs.ts), one batch per cluster.
 */
import type { OutputRead } from '../compare/runOutputs';
import { MuseError } from '../errors';
import { formatBytes } from '../format';
import type { Run, RunUsage } from '../model';
import { formatDuration } from '../usage/usageText';

/** Shown in a cell whose value is not known. */
export const ABSENT = '—';

export interface SweepTableRow {
  runId: string;
  key?: string;
  index: number;
  /** This task's value of each parameter, in `SweepTable.params` order (ABSENT when none). */
  params: string[];
  state: Run['state'];
  elapsedSeconds?: number;
  peakMemoryBytes?: number;
  /** The extracted value, or the last line; ABSENT when there is none. */
  value: string;
  /** Why `value` is absent, when it is (no output yet, no match, an unreadable output). */
  note?: string;
}

export interface SweepTable {
  /** The placeholders, in the order of the command template. */
  params: string[];
  /** The title of the value column: `last line` or the expression. */
  valueTitle: string;
  rows: SweepTableRow[];
}

/**
 * The user's extraction expression, compiled; an invalid one is a usage error that says why.
 * Without a capture group the whole match is the value. `^` and `$` match at each line (the
 * output is lines), so `^loss: (.*)$` takes a whole line's end.
 */
export function compileExtract(source: string): RegExp {
  if (source === '') throw new MuseError('usage', 'The extraction expression is empty: give one like "loss=([0-9.]+)".');
  try {
    return new RegExp(source, 'gm');
  } catch (e) {
    throw new MuseError('usage', `The extraction expression "${source}" is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}.`);
  }
}

/** The first capture group (else the whole match) of the expression's LAST match in `text`. */
export function extractValue(text: string, re: RegExp): string | undefined {
  const g = re.global ? re : new RegExp(re.source, re.flags + 'g');
  g.lastIndex = 0;
  let last: RegExpExecArray | undefined;
  for (let m = g.exec(text); m !== null; m = g.exec(text)) {
    last = m;
    if (m[0] === '') g.lastIndex++; // an empty match must not loop forever
  }
  if (!last) return undefined;
  return last.length > 1 ? last[1] : last[0];
}

/** The last line of `text` that is not blank (trimmed at its end), or undefined. */
export function lastLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.replace(/\s+$/, '');
    if (l !== '') return l;
  }
  return undefined;
}

/** Placeholder names in template order, then any other parameter the tasks carry. */
export function paramNames(tasks: readonly Run[]): string[] {
  const names: string[] = [];
  const add = (n: string): void => {
    if (!names.includes(n)) names.push(n);
  };
  const template = tasks.find((t) => t.sweep)?.sweep?.template ?? '';
  for (const m of template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) add(m[1]!);
  for (const t of tasks) for (const n of Object.keys(t.sweep?.params ?? {})) add(n);
  return names;
}

/** This task's own usage figures: its entry in an array's `tasks` when there is one. */
function taskUsage(run: Run): RunUsage | undefined {
  const u = run.raw.usage;
  if (!u) return undefined;
  const own = run.sweep && u.tasks?.find((t) => t.task === String(run.sweep!.index));
  return own ?? u;
}

function elapsedOf(run: Run, now: number): number | undefined {
  const u = taskUsage(run);
  if (u?.elapsedSeconds !== undefined) return u.elapsedSeconds;
  const start = u?.startedAt ?? (run.submittedAt ? Date.parse(run.submittedAt) : undefined);
  if (start === undefined || Number.isNaN(start)) return undefined;
  const end = u?.endedAt ?? (run.endedAt ? Date.parse(run.endedAt) : run.state === 'waiting' ? now : undefined);
  if (end === undefined || Number.isNaN(end) || end < start) return undefined;
  return (end - start) / 1000;
}

/**
 * The table of these task runs (one per task: `groupSweeps`' latest run of each index),
 * sorted by task index, with each task's output from `outputs` (by run id).
 */
export function sweepTable(tasks: readonly Run[], outputs: ReadonlyMap<string, OutputRead>, opts: { extract?: RegExp; now?: number } = {}): SweepTable {
  const params = paramNames(tasks);
  const now = opts.now ?? Date.now();
  const rows = [...tasks]
    .sort((a, b) => (a.sweep?.index ?? 0) - (b.sweep?.index ?? 0))
    .map((run): SweepTableRow => {
      const row: SweepTableRow = {
        runId: run.id,
        index: run.sweep?.index ?? 0,
        params: params.map((p) => run.sweep?.params[p] ?? ABSENT),
        state: run.state,
        value: ABSENT,
      };
      if (run.key !== undefined) row.key = run.key;
      const elapsed = elapsedOf(run, now);
      if (elapsed !== undefined) row.elapsedSeconds = elapsed;
      const peak = taskUsage(run)?.memoryPeakBytes;
      if (peak !== undefined) row.peakMemoryBytes = peak;
      const out = outputs.get(run.id);
      if (!out) row.note = 'output not read';
      else if ('missing' in out) row.note = out.missing;
      else {
        const v = opts.extract ? extractValue(out.text, opts.extract) : lastLine(out.text);
        if (v !== undefined) row.value = v;
        else row.note = opts.extract ? 'no match' : 'empty output';
      }
      return row;
    });
  return { params, valueTitle: opts.extract ? opts.extract.source : 'last line', rows };
}

/** The table as text cells, a header row first: task, parameters, state, elapsed, peak memory, value. */
export function sweepTableCells(t: SweepTable): string[][] {
  const header = ['task', ...t.params, 'state', 'elapsed', 'peak memory', t.valueTitle];
  const body = t.rows.map((r) => [
    String(r.index),
    ...r.params,
    r.state,
    r.elapsedSeconds !== undefined ? formatDuration(r.elapsedSeconds) : ABSENT,
    r.peakMemoryBytes !== undefined ? formatBytes(r.peakMemoryBytes) : ABSENT,
    r.value,
  ]);
  return [header, ...body];
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes
 * doubled. A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
 * return first) gets a `'` first, so it stays text; plain numbers (`-0.5`) are left alone.
 */
export function csvField(value: string): string {
  let v = value;
  if (/^[=+\-@\t\r]/.test(v) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Rows of cells as CSV text, CRLF line ends (RFC 4180). */
export function toCsv(cells: readonly (readonly string[])[]): string {
  return cells.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** The table's CSV: elapsed in seconds and memory in bytes, plain numbers a spreadsheet can sum. */
export function sweepTableCsv(t: SweepTable): string {
  const header = ['task', ...t.params, 'state', 'elapsed_seconds', 'peak_memory_bytes', t.valueTitle];
  const body = t.rows.map((r) => [
    String(r.index),
    ...r.params,
    r.state,
    r.elapsedSeconds !== undefined ? String(Math.round(r.elapsedSeconds)) : '',
    r.peakMemoryBytes !== undefined ? String(r.peakMemoryBytes) : '',
    r.value === ABSENT ? '' : r.value,
  ]);
  return toCsv([header, ...body]);
}
