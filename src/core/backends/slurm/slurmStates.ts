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
  if (run.key && /^[A-Za-z0-9-]+$/.test(run.key) && /^[A-Za-z0-9._+-]+$/.test(run.software ?? '')) return `muse-${run.software}-${run.key}`;
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
  for (const r of runs) {
    const jobId = r.raw?.jobId?.split(';')[0];
    if (!jobId || !/^\d+$/.test(jobId)) {
      out.set(r.id, new MuseError('notFound', 'No Slurm job id is recorded for this run.'));
      continue;
    }
    ids.set(jobId, [...(ids.get(jobId) ?? []), r.id]);
    const tasks = arrayTasksOf(r);
    if (tasks) expected.set(jobId, tasks);
    const name = submittedJobName(r);
    if (name) names.set(jobId, name);
  }
  if (ids.size === 0) return out;
  try {
    const found = await query((conn) => queryJobs(conn, host, [...ids.keys()], expected, names, signal));
    for (const [jobId, runIds] of ids) {
      const st: StateReport | Error =
        found.get(jobId) ??
        ({ state: 'unknown', raw: { jobId, message: `Slurm does not know job ${jobId} (neither sacct nor squeue lists it).` } } as StateReport);
      for (const id of runIds) out.set(id, st);
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
  }
  return result;
}
