/**
 * The states of a profile's runs: which Slurm job each run is (its id, the array tasks it
 * asked for, its name), one sacct for all of them (job rows for the states, step rows for the
 * usage figures), one squeue for what accounting does not show yet and for why pending jobs
 * wait, and the rows read into one state per run.
 */
import type { RunRef } from '../../backend';
import { MuseError, cancelledError } from '../../errors';
import type { RunUsage, RunWait, StateReport } from '../../model';
import { isFinal } from '../../model';
import { normalizeSbatchOption } from './batchScript';
import { splitTaskJobId } from './slurmSweep';
import { FIELD_DELIMITER, SACCT_FIELDS, SQUEUE_FORMAT, coveredTasks, groupByJob, mapSlurmState, parseArraySpec, parseSacct, parseSqueue, realJobName, stateFromRows } from './slurmParse';
import type { SlurmRow } from './slurmParse';
import type { SshConnection } from './sshConnection';
import { groupUsageRows, parseUsageRows, withUsageFields } from '../../usage/sacctUsage';
import { figuresOfJob, usageByJob } from '../../usage/usageFigures';
import { runUsageFromFigures } from '../../usage/runUsage';
import { parseSlurmTime } from '../../usage/slurmUnits';

/** The task ids a run asked for with `--array`, when its spec can be read. */
function arrayTasksOf(run: RunRef): number[] | undefined {
  for (const o of run.request?.sbatchList ?? []) {
    let opt: string;
    try {
      opt = normalizeSbatchOption(o);
    } catch {
      continue;
    }
    const m = /^(?:--array[= ]|-a ?)(.+)$/.exec(opt);
    if (m) return parseArraySpec(m[1]);
  }
  return undefined;
}

/** The job name submit gave the run's job (`muse-<software>-<key>`), when the run shows it. */
function submittedJobName(run: RunRef): string | undefined {
  // A sweep's task key is `<folderKey>_<index>`: the job (array) is named after the folder.
  const folderKey = run.key?.replace(/_\d+$/, '');
  if (folderKey && /^[A-Za-z0-9-]+$/.test(folderKey) && /^[A-Za-z0-9._+-]+$/.test(run.software ?? '')) return `muse-${run.software}-${folderKey}`;
  return realJobName(run.raw?.jobName);
}

/**
 * The states of `runs`, with one sacct (and one squeue for the jobs sacct does not list) for them
 * all, run through `query` (the backend's connection, retried once after a drop). A run without
 * a job id, or whose job Slurm does not know, gets an error or `unknown` of its own; a failed
 * query is every run's error.
 */
export async function slurmStates(
  runs: RunRef[],
  host: string,
  query: (ask: (conn: SshConnection) => Promise<Map<string, StateReport>>) => Promise<Map<string, StateReport>>,
  signal?: AbortSignal,
): Promise<Map<string, StateReport | Error>> {
  const out = new Map<string, StateReport | Error>();
  const ids = new Map<string, string[]>(); // job id -> run ids
  const expected = new Map<string, number[]>(); // job id -> array task ids asked for
  const names = new Map<string, string>(); // job id -> the name given at submit
  const taskOf = new Map<string, number>(); // run id -> its task, for a sweep's task (`123_4`)
  const sweepTasks = new Map<string, number[]>(); // job id -> the sweep tasks asked about
  for (const r of runs) {
    const id = splitTaskJobId(r.raw?.jobId);
    if (!id) {
      out.set(r.id, new MuseError('notFound', 'No Slurm job id is recorded for this run.'));
      continue;
    }
    const jobId = id.base;
    const same = ids.get(jobId) ?? [];
    same.push(r.id);
    ids.set(jobId, same);
    if (id.task !== undefined) {
      taskOf.set(r.id, id.task);
      const tasks = expected.get(jobId) ?? [];
      tasks.push(id.task);
      expected.set(jobId, tasks);
      sweepTasks.set(jobId, tasks);
    } else {
      const tasks = arrayTasksOf(r);
      if (tasks) expected.set(jobId, tasks);
    }
    const name = submittedJobName(r);
    if (name) names.set(jobId, name);
  }
  if (ids.size === 0) return out;
  try {
    const found = await query((conn) => queryJobs(conn, host, [...ids.keys()], expected, names, sweepTasks, signal));
    for (const [jobId, runIds] of ids) {
      const st: StateReport | Error =
        found.get(jobId) ??
        ({ state: 'unknown', raw: { jobId, message: `Slurm does not know job ${jobId} (neither sacct nor squeue lists it).` } } as StateReport);
      for (const id of runIds) {
        const task = taskOf.get(id);
        out.set(id, task === undefined ? st : (found.get(`${jobId}_${task}`) ?? { ...st, raw: { ...st.raw, jobId: `${jobId}_${task}` } }));
      }
    }
  } catch (e) {
    if (signal?.aborted) throw cancelledError('Polling');
    for (const runIds of ids.values()) for (const id of runIds) out.set(id, e instanceof Error ? e : new Error(String(e)));
  }
  return out;
}

/**
 * The usage of each job in the output of the poll's sacct (asked with `fields`, job rows and
 * their steps), by sbatch job id. Jobs still waiting to start have none.
 */
export function usageOfJobs(sacctText: string, fields: readonly string[]): Map<string, RunUsage> {
  const figures = usageByJob(groupUsageRows(parseUsageRows(sacctText, FIELD_DELIMITER, fields)));
  const out = new Map<string, RunUsage>();
  for (const baseId of new Set([...figures.values()].map((f) => f.baseId))) {
    const usage = runUsageFromFigures(figuresOfJob(figures, baseId));
    if (usage) out.set(baseId, usage);
  }
  return out;
}

/** Why a job waits, from its squeue rows (`%r` and `%S`): the first pending row's reason and expected start. */
function waitOfRows(rows: readonly SlurmRow[]): RunWait | undefined {
  const pending = rows.find((r) => r.state === 'PENDING');
  if (!pending) return undefined;
  const wait: RunWait = {};
  const reason = pending.reason?.replace(/^\(|\)$/g, '');
  if (reason) wait.reason = reason;
  const at = parseSlurmTime(pending.start);
  if (at !== undefined) wait.expectedStart = at;
  return wait;
}

/** The sacct fields of the poll: the state fields, then the usage fields they lack. */
const POLL_FIELDS = withUsageFields(SACCT_FIELDS);

async function queryJobs(
  conn: SshConnection,
  host: string,
  jobIds: string[],
  expected: Map<string, number[]>,
  names: Map<string, string>,
  taskRuns: Map<string, number[]>,
  signal?: AbortSignal,
): Promise<Map<string, StateReport>> {
  const rowsOf = new Map<string, { rows: SlurmRow[]; source: 'sacct' | 'squeue' }>();
  // Without -X: the steps' rows carry MaxRSS and CPU time; parseSacct reads the job rows only.
  const sacct = await conn.exec(
    ['sacct', '-P', '-n', '-j', jobIds.join(','), `--format=${POLL_FIELDS.join(',')}`, `--delimiter=${FIELD_DELIMITER}`],
    { signal },
  );
  const sacctErr = sacct.stderr.toString().trim();
  let usage = new Map<string, RunUsage>();
  if (sacct.code === 0) {
    const text = sacct.stdout.toString();
    for (const [id, rows] of groupByJob(parseSacct(text))) {
      if (jobIds.includes(id)) rowsOf.set(id, { rows, source: 'sacct' });
    }
    usage = usageOfJobs(text, POLL_FIELDS);
  }
  const incomplete = (id: string) => {
    const want = expected.get(id);
    const got = rowsOf.get(id);
    if (!got) return true;
    if (!want) return false;
    const covered = coveredTasks(got.rows);
    return want.some((t) => !covered.has(t));
  };
  const missing = jobIds.filter(incomplete);
  // Pending jobs: their reason and expected start come from squeue (%r, %S), in the same one
  // call that lists the jobs accounting does not show yet.
  const pending = jobIds.filter((id) => !missing.includes(id) && rowsOf.get(id)!.rows.some((r) => r.state === 'PENDING'));
  const waits = new Map<string, RunWait | undefined>();
  const asked = [...missing, ...pending];
  if (asked.length > 0) {
    const sq = await conn.exec(['squeue', '-h', '-t', 'all', '-j', asked.join(','), '-o', SQUEUE_FORMAT.join(FIELD_DELIMITER)], { signal });
    if (missing.length > 0 && sq.code !== 0 && sacct.code !== 0 && !/invalid job id/i.test(sq.stderr.toString())) {
      throw new MuseError('server', `Cannot read job states on ${host}: sacct: ${sacctErr || `exit ${sacct.code}`}; squeue: ${sq.stderr.toString().trim() || `exit ${sq.code}`}`);
    }
    // With accounting on, an ended job's outcome (its exit code) comes from sacct, which lists
    // it a second or so after squeue does: until then the run is still waiting. Otherwise a run
    // could read ended from squeue, then PENDING from accounting's first, stale row.
    const settle = (rows: SlurmRow[]): SlurmRow[] =>
      sacct.code !== 0 ? rows : rows.map((r) => (isFinal(mapSlurmState(r.state)) ? { ...r, state: 'COMPLETING', rawState: `${r.rawState} (waiting for accounting)` } : r));
    for (const [id, listed] of groupByJob(parseSqueue(sq.stdout.toString()))) {
      if (!asked.includes(id)) continue;
      waits.set(id, waitOfRows(listed));
      if (!missing.includes(id)) continue;
      const rows = settle(listed);
      const have = rowsOf.get(id);
      if (!have) {
        rowsOf.set(id, { rows, source: 'squeue' });
        continue;
      }
      // Array tasks: sacct's rows first, squeue's for the tasks sacct does not list yet.
      const covered = coveredTasks(have.rows);
      have.rows.push(...rows.filter((r) => r.task !== undefined && !(parseArraySpec(r.task) ?? []).some((t) => covered.has(t))));
    }
  }
  const result = new Map<string, StateReport>();
  for (const [id, { rows, source }] of rowsOf) {
    const report = stateFromRows(id, rows, source, expected.get(id), names.get(id));
    const used = usage.get(id);
    if (used) report.raw.usage = used;
    // Like the reason, the wait is always given (cleared once the job no longer waits to start).
    report.raw.wait = waits.get(id);
    result.set(id, report);
    // A sweep's tasks: each its own state, from the rows that cover it (`123_4`, or `123_[4-9%2]`).
    const asked = new Set(taskRuns.get(id) ?? []);
    if (asked.size > 0) {
      const rowsOfTask = new Map<number, SlurmRow[]>();
      for (const r of rows) {
        if (r.task === undefined) continue;
        for (const t of parseArraySpec(r.task) ?? []) if (asked.has(t)) rowsOfTask.set(t, [...(rowsOfTask.get(t) ?? []), r]);
      }
      for (const task of asked) {
        const t = taskState(id, task, rowsOfTask.get(task) ?? [], source, names.get(id), used, waits.get(id));
        if (t) result.set(`${id}_${task}`, t);
      }
    }
  }
  return result;
}

/**
 * The state of task `task` of array job `id`, from the rows covering it (`rows`); undefined when Slurm
 * does not list it yet (the caller then reports the array's state: waiting while any task is).
 */
function taskState(
  id: string,
  task: number,
  rows: readonly SlurmRow[],
  source: 'sacct' | 'squeue',
  name: string | undefined,
  usage: RunUsage | undefined,
  wait: RunWait | undefined,
): StateReport | undefined {
  const mine = rows;
  if (mine.length === 0) return undefined;
  // Prefer the task's own row over a pending range that still names it (accounting lag).
  const own = mine.filter((r) => r.task === String(task));
  const report = stateFromRows(`${id}_${task}`, own.length > 0 ? own : mine.slice(0, 1), source, undefined, name);
  const row = (own.length > 0 ? own : mine)[0];
  report.raw.slurmState = row.rawState;
  delete report.raw.message;
  const taskUsage = usage?.tasks?.find((u) => u.task === String(task));
  if (taskUsage) {
    const { task: _t, ...figures } = taskUsage;
    void _t;
    report.raw.usage = figures;
  }
  report.raw.wait = row.state === 'PENDING' ? wait : undefined;
  return report;
}
