/**
 * A run's usage as the run store keeps it (`RunUsage`, JSON in `RawFacts.usage`), to and from
 * the computed figures: Slurm's figures of a job or of each array task become one `RunUsage`,
 * the local runner's record another, and a stored `RunUsage` gives the advice again.
 */
import type { RawFacts, RunUsage } from '../model';
import type { LocalUsage } from './localUsage';
import { adviseUsage } from './usageAdvice';
import type { AdviceContext, UsageAdvice } from './usageAdvice';
import type { UsageFigures } from './usageFigures';

/** The stored fields of one job's figures (no keys, no fractions: those are recomputed). */
function storedFigures(f: UsageFigures): RunUsage {
  const u: RunUsage = { source: 'slurm', state: f.state, started: f.started };
  const copy = <K extends keyof RunUsage & keyof UsageFigures>(k: K): void => {
    if (f[k] !== undefined) (u as unknown as Record<string, unknown>)[k] = f[k];
  };
  copy('allocCpus');
  copy('gpus');
  copy('nodeList');
  copy('elapsedSeconds');
  copy('timeLimit');
  copy('cpuSeconds');
  copy('cpuEfficiency');
  copy('memoryPeakBytes');
  copy('memoryRequestBytes');
  copy('memoryRequestPer');
  copy('submittedAt');
  copy('startedAt');
  copy('endedAt');
  copy('waitSeconds');
  return u;
}

/** States that the advice is about first when an array's headline task is chosen. */
const TROUBLE = ['OUT_OF_MEMORY', 'TIMEOUT', 'FAILED'];

/**
 * The usage of a run from the figures of its job (`figuresOfJob`): one job gives its figures;
 * an array gives every task in `tasks` and, at the top, the task the advice should look at (one
 * that ran out of memory, then out of time, then failed, else the largest memory peak).
 * Undefined while the job waits to start (no figure to show yet).
 */
export function runUsageFromFigures(figures: readonly UsageFigures[]): RunUsage | undefined {
  if (figures.length === 0) return undefined;
  if (figures.every((f) => !f.started && f.state === 'PENDING')) return undefined;
  if (figures.length === 1 && figures[0].task === undefined) return storedFigures(figures[0]);
  const rank = (f: UsageFigures): number => {
    const t = TROUBLE.indexOf(f.state);
    return t >= 0 ? t : TROUBLE.length;
  };
  const headline = [...figures].sort((a, b) => rank(a) - rank(b) || (b.memoryPeakBytes ?? -1) - (a.memoryPeakBytes ?? -1))[0];
  const top = storedFigures(headline);
  top.tasks = figures.map((f) => ({ ...storedFigures(f), task: f.task ?? f.key }));
  return top;
}

/**
 * The usage of a local run from its record: wall time, CPU time, peak memory. No CPUs were
 * asked, so the CPU efficiency is CPU time over wall time: 1 is one CPU busy all along (a
 * multi-threaded run can pass 1).
 */
export function runUsageFromLocal(l: LocalUsage, state: string | undefined): RunUsage {
  const u: RunUsage = { source: 'local', started: true };
  if (state) u.state = state;
  if (l.wallSeconds !== undefined) u.elapsedSeconds = l.wallSeconds;
  if (l.cpuSeconds !== undefined) u.cpuSeconds = l.cpuSeconds;
  if (l.cpuSeconds !== undefined && l.wallSeconds !== undefined && l.wallSeconds > 0) u.cpuEfficiency = l.cpuSeconds / l.wallSeconds;
  if (l.memoryPeakBytes !== undefined) u.memoryPeakBytes = l.memoryPeakBytes;
  return u;
}

/** A stored usage read back as figures, for `adviseUsage` and the usage text. */
export function figuresOfUsage(u: RunUsage, key = ''): UsageFigures {
  const { source: _source, tasks: _tasks, state, started, ...rest } = u;
  return { key, baseId: key, state: state ?? '', started: started ?? false, ...rest };
}

/**
 * The advice for a run from its stored facts (none for the local runner, which asked for no
 * resources; none while it has no figures). `ctx.outputTail` catches an oom kill that the state
 * does not say (Slurm's jobacct_gather kills end FAILED with `Exceeded job memory limit`).
 */
export function adviseRun(raw: Pick<RawFacts, 'usage'>, ctx: AdviceContext = {}): UsageAdvice[] {
  const u = raw.usage;
  if (!u || u.source !== 'slurm') return [];
  return adviseUsage(figuresOfUsage(u), ctx);
}
