/**
 * Reading the rows of `sacct -P -n --delimiter=D --format=<USAGE_FIELDS>` (without `-X`: the
 * job rows and their steps) and grouping each job or array task with its steps, so the figures
 * of each can be computed. Values stay as printed here; `usageFigures.ts` reads the units.
 */
import { FIELD_DELIMITER } from './slurmUnits';

/** The sacct fields the usage figures need, in the order the rows are read. */
export const USAGE_FIELDS = [
  'JobID',
  'State',
  'ExitCode',
  'Elapsed',
  'Timelimit',
  'TotalCPU',
  'AllocCPUS',
  'ReqMem',
  'MaxRSS',
  'AllocTRES',
  'NodeList',
  'Submit',
  'Start',
  'End',
] as const;

/**
 * The fields of the poll's one sacct call: the state fields it asks today, then the usage fields
 * they lack, so that the state parser (which reads the first columns by position) and
 * `parseUsageRows` (which finds its columns by name) both read the same output.
 */
export function withUsageFields(stateFields: readonly string[]): string[] {
  const have = new Set(stateFields.map((f) => f.toLowerCase()));
  return [...stateFields, ...USAGE_FIELDS.filter((f) => !have.has(f.toLowerCase()))];
}

/** One sacct row, values as printed (trimmed). */
export interface UsageRow {
  /** As printed: `123`, `123.batch`, `123_4.0`, `123+1.extern`, `123_[5-9]`. */
  jobId: string;
  /** The sbatch job id: `123` for all of the above. */
  baseId: string;
  /** Array task id (`4`) or pending range (`5-9`, `5-9%2`), when the row belongs to an array task. */
  task?: string;
  /** Het job component offset (`1` of `123+1`). */
  het?: number;
  /** Step name (`batch`, `extern`, `0`, `interactive`), for step rows. */
  step?: string;
  state: string;
  exitCode: string;
  elapsed: string;
  timelimit: string;
  totalCpu: string;
  allocCpus: string;
  reqMem: string;
  maxRss: string;
  allocTres: string;
  nodeList: string;
  submit: string;
  start: string;
  end: string;
}

/** A job (or one array task, or one het component) with its steps. */
export interface UsageJob {
  /** The key of this job: `123`, `123_4`, `123_[5-9]`, `123+1`. */
  key: string;
  baseId: string;
  task?: string;
  het?: number;
  /** The job's own row (absent when sacct listed only steps, which it does not do in practice). */
  job?: UsageRow;
  steps: UsageRow[];
}

const JOB_ID = /^(\d+)(?:_(\[[^\]]*\]|\d+))?(?:\+(\d+))?(?:\.(.+))?$/;

/**
 * Parses the rows of sacct asked for `fields` (USAGE_FIELDS, or any list holding them, such as
 * `withUsageFields(...)`); lines that are not rows (warnings, blank lines, short lines) are
 * skipped. Het job components (`123+0`, `123+1`) are kept apart: each is its own UsageJob, keyed
 * `123+N`, since each component asks for its own resources.
 */
export function parseUsageRows(text: string, delimiter = FIELD_DELIMITER, fields: readonly string[] = USAGE_FIELDS): UsageRow[] {
  const lower = fields.map((f) => f.toLowerCase());
  const col = USAGE_FIELDS.map((name) => {
    const i = lower.indexOf(name.toLowerCase());
    if (i < 0) throw new Error(`parseUsageRows: the sacct fields lack ${name}`);
    return i;
  });
  const width = Math.max(...col) + 1;
  const rows: UsageRow[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (!line.trim()) continue;
    const f = line.split(delimiter);
    if (f.length < width) continue;
    const jobId = f[col[0]].trim();
    const m = JOB_ID.exec(jobId);
    if (!m) continue;
    const v = (i: number): string => f[col[i]].trim();
    rows.push({
      jobId,
      baseId: m[1],
      task: m[2]?.replace(/^\[|\]$/g, ''),
      het: m[3] !== undefined ? Number(m[3]) : undefined,
      step: m[4],
      state: v(1),
      exitCode: v(2),
      elapsed: v(3),
      timelimit: v(4),
      totalCpu: v(5),
      allocCpus: v(6),
      reqMem: v(7),
      maxRss: v(8),
      allocTres: v(9),
      nodeList: v(10),
      submit: v(11),
      start: v(12),
      end: v(13),
    });
  }
  return rows;
}

/** The key of the job a row belongs to: its id without the step. */
function jobKey(r: UsageRow): string {
  const dot = r.jobId.indexOf('.', r.jobId.indexOf(']') + 1);
  return dot < 0 ? r.jobId : r.jobId.slice(0, dot);
}

/**
 * Groups rows into jobs, array tasks and het components with their steps, in the order sacct
 * listed them. An array's own record seen while it splits (`123` beside `123_1`...) stays a
 * job of its own, as sacct gives it.
 */
export function groupUsageRows(rows: readonly UsageRow[]): UsageJob[] {
  const byKey = new Map<string, UsageJob>();
  for (const r of rows) {
    const key = jobKey(r);
    let job = byKey.get(key);
    if (!job) {
      job = { key, baseId: r.baseId, task: r.task, het: r.het, steps: [] };
      byKey.set(key, job);
    }
    if (r.step === undefined) job.job = r;
    else job.steps.push(r);
  }
  return [...byKey.values()];
}
