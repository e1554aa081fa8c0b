/**
 * Reading `sacct -P` and `squeue -o` output, and mapping Slurm states to the shared RunState.
 */
import type { RawFacts, RunState, StateReport } from '../../model';
import { FIELD_DELIMITER } from '../../usage/slurmUnits';

// The delimiter is defined with the unit readers (the lowest layer reading Slurm's output).
export { FIELD_DELIMITER };

export const SACCT_FIELDS = ['JobID', 'JobName', 'State', 'ExitCode', 'NodeList', 'Elapsed', 'Reason', 'Start', 'End'] as const;
/** squeue format letters giving the same facts, in the order of SACCT_FIELDS (squeue has no exit code: empty). */
export const SQUEUE_FORMAT = ['%i', '%j', '%T', '', '%N', '%M', '%r', '%S', '%e'];

/** One job (or array task) as sacct/squeue reports it. */
export interface SlurmRow {
  /** `123`, `123_4` (array task), `123_[5-9]` (array tasks still pending together). */
  jobId: string;
  /** The id given by sbatch: `123` for all of the above. */
  baseId: string;
  /** Array task id or range, when the row is an array task. */
  task?: string;
  name: string;
  /** The state word: `CANCELLED` for `CANCELLED by 1000`. */
  state: string;
  /** The state as printed. */
  rawState: string;
  exitCode?: number;
  signal?: number;
  node?: string;
  elapsed?: string;
  reason?: string;
  start?: string;
  end?: string;
}

/** `3:0` -> { code: 3, signal: 0 }. */
export function parseExitCode(s: string | undefined): { code?: number; signal?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec((s ?? '').trim());
  if (!m) return {};
  return { code: Number(m[1]), signal: m[2] !== undefined ? Number(m[2]) : undefined };
}

function clean(v: string | undefined): string | undefined {
  const t = (v ?? '').trim();
  return t === '' || t === 'None' || t === 'None assigned' || t === '(null)' || t === 'Unknown' || t === 'N/A' ? undefined : t;
}

function splitJobId(jobId: string): { baseId: string; task?: string } {
  const m = /^(\d+)(?:_(.+))?$/.exec(jobId);
  if (!m) return { baseId: jobId };
  return { baseId: m[1], task: m[2]?.replace(/^\[|\]$/g, '') };
}

function parseRows(text: string, delimiter: string, exitField: boolean): SlurmRow[] {
  const rows: SlurmRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.replace(/\r$/, '').split(delimiter);
    if (f.length < SACCT_FIELDS.length) continue; // a warning line, not a job row
    const [jobId, name, state, exit, node, elapsed, reason, start, end] = f;
    const id = jobId.trim();
    if (!/^\d/.test(id) || id.includes('.') || id.includes('+')) continue; // job steps, het parts
    const { code, signal } = exitField ? parseExitCode(exit) : {};
    rows.push({
      jobId: id,
      ...splitJobId(id),
      name: name.trim(),
      state: state.trim().split(/\s+/)[0].replace(/\+$/, '').toUpperCase(),
      rawState: state.trim(),
      exitCode: code,
      signal,
      node: clean(node),
      elapsed: clean(elapsed),
      reason: clean(reason),
      start: clean(start),
      end: clean(end),
    });
  }
  return rows;
}

/** Parses `sacct -X -P -n --delimiter=D --format=<SACCT_FIELDS>` output. */
export function parseSacct(text: string, delimiter = FIELD_DELIMITER): SlurmRow[] {
  return parseRows(text, delimiter, true);
}

/** Parses `squeue -h -o <SQUEUE_FORMAT joined by D>` output (no exit codes there). */
export function parseSqueue(text: string, delimiter = FIELD_DELIMITER): SlurmRow[] {
  return parseRows(text, delimiter, false);
}

const WAITING = new Set([
  'PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD',
  'RESIZING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESV_DEL_HOLD', 'SPECIAL_EXIT', 'POWER_UP_NODE', 'UPDATE_DB',
]);
const FAILED = new Set(['FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED']);
const CANCELLED = new Set(['CANCELLED', 'REVOKED']);

/** Maps a Slurm state word (or a raw state like `CANCELLED by 0`) to RunState. */
export function mapSlurmState(state: string): RunState {
  const s = state.trim().split(/\s+/)[0]?.replace(/\+$/, '').toUpperCase() ?? '';
  if (WAITING.has(s)) return 'waiting';
  if (s === 'COMPLETED') return 'ok';
  if (FAILED.has(s)) return 'failed';
  if (CANCELLED.has(s)) return 'cancelled';
  return 'unknown';
}

function isoOf(v: string | undefined): string | undefined {
  if (!v || !/^\d{4}-\d\d-\d\dT/.test(v)) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A task of a job array as shown in a state report. */
export interface TaskReport {
  jobId: string;
  task?: string;
  state: RunState;
  slurmState: string;
  exitCode?: number;
  node?: string;
  elapsed?: string;
  reason?: string;
}

/**
 * The name sacct shows for a job, or undefined when it shows a stand-in: Slurm 22.05 accounting
 * lists a job as `allocation` (with an empty time limit) for a second or so after it starts and
 * after it ends, before the controller's record arrives.
 */
export function realJobName(name: string | undefined): string | undefined {
  const n = (name ?? '').trim();
  return n === '' || n === 'allocation' ? undefined : n;
}

/**
 * The state of one run from the rows of its job: a plain job has one row; a job array has one
 * row per task (or per pending range), summed up as: waiting while any task is; else failed if
 * any failed, cancelled if any was, ok when all completed. Every task stays in `report.tasks`.
 *
 * `knownJobName` is the name given at submit: it is what `raw.jobName` says, whatever sacct
 * shows meanwhile. Facts that sacct leaves empty for a moment (name, node, elapsed) are left out
 * of `raw` rather than set empty, so that merging the report into a stored run keeps what was
 * known; the reason is always given, as no reason is news once a job runs.
 */
export function stateFromRows(
  jobId: string,
  allRows: SlurmRow[],
  source: 'sacct' | 'squeue',
  expectedTasks?: number[],
  knownJobName?: string,
): StateReport {
  // Once an array's tasks are listed, a row without a task id is the array's own record
  // (accounting shows it briefly while splitting the array): the tasks tell the state.
  const rows = allRows.some((r) => r.task !== undefined) ? allRows.filter((r) => r.task !== undefined) : allRows;
  const tasks: TaskReport[] = rows.map((r) => ({
    jobId: r.jobId,
    task: r.task,
    state: mapSlurmState(r.state),
    slurmState: r.rawState,
    exitCode: r.exitCode,
    node: r.node,
    elapsed: r.elapsed,
    reason: r.reason,
  }));
  const states = tasks.map((t) => t.state);
  // Tasks Slurm does not list yet (sacct lags by a second or so) have not ended.
  const covered = coveredTasks(rows);
  const unlisted = (expectedTasks ?? []).filter((t) => !covered.has(t));
  const state: RunState = states.includes('waiting') || unlisted.length > 0
    ? 'waiting'
    : states.includes('unknown')
      ? 'unknown'
      : states.includes('failed')
        ? 'failed'
        : states.includes('cancelled')
          ? 'cancelled'
          : 'ok';
  const isArray = rows.length > 1 || rows.some((r) => r.task !== undefined);
  const main = rows.find((r) => mapSlurmState(r.state) === state) ?? rows[0];
  const raw: RawFacts = { jobId };
  const jobName = knownJobName ?? realJobName(main.name) ?? rows.map((r) => realJobName(r.name)).find((n) => n !== undefined);
  if (jobName !== undefined) raw.jobName = jobName;
  raw.slurmState = main.rawState;
  if (main.node !== undefined) raw.node = main.node;
  if (main.elapsed !== undefined) raw.elapsed = main.elapsed;
  raw.reason = main.reason;
  const codes = rows.map((r) => r.exitCode).filter((c): c is number => c !== undefined);
  if (codes.length > 0) raw.exitCode = Math.max(...codes);
  const sig = rows.map((r) => r.signal).find((s) => s !== undefined && s > 0);
  if (sig !== undefined) raw.signal = String(sig);
  if (isArray) {
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    raw.slurmState = [...counts].map(([s, n]) => `${s}×${n}`).join(' ');
    raw.message = `job array: ${rows.length} task row(s)` + (unlisted.length > 0 ? `, ${unlisted.length} task(s) not listed yet` : '');
  }
  const starts = rows.map((r) => isoOf(r.start)).filter((s): s is string => !!s).sort();
  const ends = rows.map((r) => isoOf(r.end)).filter((s): s is string => !!s).sort();
  return {
    state,
    raw,
    report: { source, jobId, tasks },
    startedAt: starts[0],
    endedAt: state === 'waiting' ? undefined : ends[ends.length - 1],
  };
}

/**
 * The task ids of an `--array` spec: `1-3`, `1,3,5`, `0-15:4`, with an optional `%limit`.
 * Undefined when it cannot be read (then tasks are only known from what Slurm lists).
 */
export function parseArraySpec(spec: string): number[] | undefined {
  const body = spec.trim().replace(/^\[|\]$/g, '').replace(/%\d+$/, '');
  if (!body) return undefined;
  const ids: number[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (to < from || step < 1 || (to - from) / step > 100_000) return undefined;
    for (let i = from; i <= to; i += step) ids.push(i);
  }
  return ids;
}

/** The task ids the rows of an array job account for (single tasks and pending ranges). */
export function coveredTasks(rows: SlurmRow[]): Set<number> {
  const out = new Set<number>();
  for (const r of rows) {
    if (r.task === undefined) continue;
    for (const id of parseArraySpec(r.task) ?? []) out.add(id);
  }
  return out;
}

/** Groups rows by the sbatch job id. */
export function groupByJob(rows: SlurmRow[]): Map<string, SlurmRow[]> {
  const m = new Map<string, SlurmRow[]>();
  for (const r of rows) {
    const list = m.get(r.baseId) ?? [];
    list.push(r);
    m.set(r.baseId, list);
  }
  return m;
}
