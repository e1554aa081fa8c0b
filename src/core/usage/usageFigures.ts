/**
 * What a job used against what it asked, from its sacct rows (job row and steps): CPU
 * efficiency, memory peak against the request, time against the limit, queue wait, GPUs.
 * A figure Slurm does not know stays undefined, never 0 (a job cancelled before it started
 * has no elapsed time, no CPU time and no memory peak).
 */
import type { UsageJob, UsageRow } from './sacctUsage';
import {
  isUnknownValue,
  parseCount,
  parseSlurmDuration,
  parseSlurmMemory,
  parseSlurmTime,
  parseTimeLimit,
  parseTres,
  tresGpus,
} from './slurmUnits';

/** The figures of one job, array task or het component. Times are epoch milliseconds. */
export interface UsageFigures {
  /** `123`, `123_4`, `123+1`. */
  key: string;
  baseId: string;
  task?: string;
  het?: number;
  /** The state word (`COMPLETED`, `OUT_OF_MEMORY`, `CANCELLED` for `CANCELLED by 1000`). */
  state: string;
  /** ExitCode as printed (`0:0`, `0:125`). */
  exitCode?: string;
  nodeList?: string;
  /** True once the job started (Slurm gave a start time). */
  started: boolean;
  allocCpus?: number;
  gpus?: number;
  elapsedSeconds?: number;
  /** `'unlimited'` for UNLIMITED; undefined for `Partition_Limit` and unknown. */
  timeLimit?: number | 'unlimited';
  /** Elapsed / limit, when both are known and the limit is finite. */
  timeFraction?: number;
  /** User + system CPU time of the job's steps. */
  cpuSeconds?: number;
  /** cpuSeconds / (elapsed x AllocCPUS): 1 means every allocated CPU busy all along. */
  cpuEfficiency?: number;
  /** The largest MaxRSS of the steps; undefined when no step was sampled (MaxRSS empty or 0). */
  memoryPeakBytes?: number;
  /** The job's memory request (per-CPU requests times AllocCPUS, per-node ones times the nodes). */
  memoryRequestBytes?: number;
  /** How the request was written: per node or per CPU (ReqMem before 21.08), or for the job. */
  memoryRequestPer?: 'node' | 'cpu' | 'job';
  /** Peak / request. */
  memoryFraction?: number;
  submittedAt?: number;
  startedAt?: number;
  endedAt?: number;
  /** Start - Submit. */
  waitSeconds?: number;
}

/** States of a job that has not ended (sacct's states before the end of a job). */
const STILL_GOING = new Set(['PENDING', 'RUNNING', 'COMPLETING', 'CONFIGURING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'STOPPED', 'SIGNALING', 'STAGE_OUT']);

/** The state word of a printed state (`CANCELLED by 1000` -> `CANCELLED`, `RUNNING+`...). */
function stateWord(s: string): string {
  return (s.split(/\s+/)[0] ?? '').replace(/\+$/, '').toUpperCase();
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function memoryRequest(job: UsageRow, tres: Map<string, string>, allocCpus: number | undefined, nodes: number | undefined):
  { bytes?: number; per?: 'node' | 'cpu' | 'job' } {
  const req = parseSlurmMemory(job.reqMem);
  // ReqMem 0 asks for all the memory of the node: an amount sacct does not say.
  if (req && req.bytes > 0) {
    if (req.per === 'cpu') return { bytes: allocCpus ? req.bytes * allocCpus : undefined, per: 'cpu' };
    if (req.per === 'node') return { bytes: req.bytes * (nodes ?? 1), per: 'node' };
    return { bytes: req.bytes, per: 'job' };
  }
  // After 21.08 the TRES hold the job's memory too (ReqMem may be empty on some versions' steps).
  const tresMem = parseSlurmMemory(tres.get('mem'));
  return tresMem && tresMem.bytes > 0 ? { bytes: tresMem.bytes, per: 'job' } : {};
}

/** The figures of one job (or array task) from its rows. */
export function usageFigures(u: UsageJob): UsageFigures {
  const job = u.job ?? u.steps[0];
  const state = stateWord(job?.state ?? '');
  // A job cancelled while pending shows Start `None` (22.05 on the test cluster) or, in some
  // versions, Start = End; it may still show AllocCPUS 1 (the test cluster does), but never a
  // node: a start time, CPUs and a node are all needed to call it started.
  const cpusGiven = parseCount(job?.allocCpus) || undefined;
  const placed = !!job && !isUnknownValue(job.nodeList);
  const startedAt = cpusGiven !== undefined && placed ? parseSlurmTime(job?.start) : undefined;
  const started = startedAt !== undefined;
  const tres = parseTres(job?.allocTres);
  const allocCpus = started ? cpusGiven : undefined;
  const nodes = parseCount(tres.get('node')) || undefined;
  const elapsed = started ? parseSlurmDuration(job?.elapsed) : undefined;

  // Accounting records a step's CPU time and MaxRSS when the step ends: a job still running
  // would read as idle and small, so those wait for the end.
  const ended = started && !STILL_GOING.has(state);

  // sacct sums the steps' CPU time into the job row; take the larger in case it did not.
  let cpu: number | undefined;
  if (ended) {
    const own = parseSlurmDuration(job?.totalCpu);
    const steps = u.steps.map((s) => parseSlurmDuration(s.totalCpu)).filter((n): n is number => n !== undefined);
    const sum = steps.length > 0 ? steps.reduce((a, b) => a + b, 0) : undefined;
    cpu = own === undefined ? sum : sum === undefined ? own : Math.max(own, sum);
  }

  // MaxRSS lives on the steps. 0 means the gatherer never sampled it (a step shorter than
  // JobAcctGatherFrequency): no process runs in 0 bytes, so that is unknown, not a tiny peak.
  let peak: number | undefined;
  for (const r of [...u.steps, ...(u.job ? [u.job] : [])]) {
    const m = parseSlurmMemory(r.maxRss, 'K');
    if (m && m.bytes > 0 && (peak === undefined || m.bytes > peak)) peak = m.bytes;
  }
  if (!ended) peak = undefined;

  const req = job ? memoryRequest(job, tres, allocCpus, nodes) : {};
  const limit = job ? parseTimeLimit(job.timelimit) : undefined;
  const submittedAt = parseSlurmTime(job?.submit);
  const endedAt = parseSlurmTime(job?.end);
  const wait = startedAt !== undefined && submittedAt !== undefined ? Math.max(0, (startedAt - submittedAt) / 1000) : undefined;

  const out: UsageFigures = { key: u.key, baseId: u.baseId, state, started };
  if (u.task !== undefined) out.task = u.task;
  if (u.het !== undefined) out.het = u.het;
  if (job?.exitCode) out.exitCode = job.exitCode;
  if (placed) out.nodeList = job!.nodeList;
  if (allocCpus !== undefined) out.allocCpus = allocCpus;
  const gpus = tresGpus(tres);
  if (gpus !== undefined) out.gpus = gpus;
  if (elapsed !== undefined) out.elapsedSeconds = elapsed;
  if (limit !== undefined) out.timeLimit = limit;
  const timeFraction = typeof limit === 'number' ? ratio(elapsed, limit) : undefined;
  if (timeFraction !== undefined) out.timeFraction = timeFraction;
  if (cpu !== undefined) out.cpuSeconds = cpu;
  const eff = ratio(cpu, elapsed !== undefined && allocCpus !== undefined ? elapsed * allocCpus : undefined);
  if (eff !== undefined) out.cpuEfficiency = eff;
  if (peak !== undefined) out.memoryPeakBytes = peak;
  if (req.bytes !== undefined) out.memoryRequestBytes = req.bytes;
  if (req.per !== undefined) out.memoryRequestPer = req.per;
  const memFraction = ratio(peak, req.bytes);
  if (memFraction !== undefined) out.memoryFraction = memFraction;
  if (submittedAt !== undefined) out.submittedAt = submittedAt;
  if (startedAt !== undefined) out.startedAt = startedAt;
  if (endedAt !== undefined) out.endedAt = endedAt;
  if (wait !== undefined) out.waitSeconds = wait;
  return out;
}

/** The figures of every job, array task and het component in sacct's rows, by key. */
export function usageByJob(jobs: readonly UsageJob[]): Map<string, UsageFigures> {
  const out = new Map<string, UsageFigures>();
  for (const j of jobs) out.set(j.key, usageFigures(j));
  return out;
}

/**
 * The figures of one run's job: the job itself, or each of its array tasks and pending ranges
 * (and het components), in sacct's order. An array's own record, which accounting shows for a
 * moment while the array splits, is left out once tasks are listed.
 */
export function figuresOfJob(figures: ReadonlyMap<string, UsageFigures>, baseId: string): UsageFigures[] {
  const mine = [...figures.values()].filter((f) => f.baseId === baseId);
  return mine.some((f) => f.task !== undefined) ? mine.filter((f) => f.task !== undefined || f.het !== undefined) : mine;
}
