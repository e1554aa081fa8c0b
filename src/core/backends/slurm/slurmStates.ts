/**
 * The states of a profile's runs: which Slurm job each run is (its id, the array tasks it
 * asked for, its name), one sacct for all of them, squeue for what accounting does not show
 * yet, and the rows read into one state per run.
 */
import type { RunRef } from '../../backend';
import { MuseError, cancelledError } from '../../errors';
import type { StateReport } from '../../model';
import { isFinal } from '../../model';
import { normalizeSbatchOption } from './batchScript';
import { FIELD_DELIMITER, SACCT_FIELDS, SQUEUE_FORMAT, coveredTasks, groupByJob, mapSlurmState, parseArraySpec, parseSacct, parseSqueue, realJobName, stateFromRows } from './slurmParse';
import type { SlurmRow } from './slurmParse';
import type { SshConnection } from './sshConnection';

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

async function queryJobs(
  conn: SshConnection,
  host: string,
  jobIds: string[],
  expected: Map<string, number[]>,
  names: Map<string, string>,
  signal?: AbortSignal,
): Promise<Map<string, StateReport>> {
  const rowsOf = new Map<string, { rows: SlurmRow[]; source: 'sacct' | 'squeue' }>();
  const sacct = await conn.exec(
    ['sacct', '-X', '-P', '-n', '-j', jobIds.join(','), `--format=${SACCT_FIELDS.join(',')}`, `--delimiter=${FIELD_DELIMITER}`],
    { signal },
  );
  const sacctErr = sacct.stderr.toString().trim();
  if (sacct.code === 0) {
    for (const [id, rows] of groupByJob(parseSacct(sacct.stdout.toString()))) {
      if (jobIds.includes(id)) rowsOf.set(id, { rows, source: 'sacct' });
    }
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
  if (missing.length > 0) {
    const sq = await conn.exec(['squeue', '-h', '-t', 'all', '-j', missing.join(','), '-o', SQUEUE_FORMAT.join(FIELD_DELIMITER)], { signal });
    if (sq.code !== 0 && sacct.code !== 0 && !/invalid job id/i.test(sq.stderr.toString())) {
      throw new MuseError('server', `Cannot read job states on ${host}: sacct: ${sacctErr || `exit ${sacct.code}`}; squeue: ${sq.stderr.toString().trim() || `exit ${sq.code}`}`);
    }
    // With accounting on, an ended job's outcome (its exit code) comes from sacct, which lists
    // it a second or so after squeue does: until then the run is still waiting. Otherwise a run
    // could read ended from squeue, then PENDING from accounting's first, stale row.
    const settle = (rows: SlurmRow[]): SlurmRow[] =>
      sacct.code !== 0 ? rows : rows.map((r) => (isFinal(mapSlurmState(r.state)) ? { ...r, state: 'COMPLETING', rawState: `${r.rawState} (waiting for accounting)` } : r));
    for (const [id, listed] of groupByJob(parseSqueue(sq.stdout.toString()))) {
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
  for (const [id, { rows, source }] of rowsOf) result.set(id, stateFromRows(id, rows, source, expected.get(id), names.get(id)));
  return result;
}
