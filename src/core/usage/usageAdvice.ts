/**
 * Advice after a run, from its usage figures: ask less memory when the peak stayed far under
 * the request, more after an out-of-memory kill, more time after a TIMEOUT, fewer CPUs when
 * most of them idled. Each item carries the sbatch option that applies it, so a rerun can
 * offer "Apply: --mem=6G" (`applyAdvice.ts`).
 */
import type { UsageFigures } from './usageFigures';
import { formatMemoryOption, formatTimeOption } from './slurmUnits';
import { formatBytes } from '../format';

/** What an advice item is about. */
export type AdviceKind = 'memoryOverRequested' | 'outOfMemory' | 'timeout' | 'lowCpuEfficiency';

/** One piece of advice. */
export interface UsageAdvice {
  kind: AdviceKind;
  /** A sentence for a person. */
  text: string;
  /** The sbatch option that applies it, `--opt=value` (`--mem=6G`, `--time=0:15:00`). */
  option: string;
}

/** What else the advice may look at. */
export interface AdviceContext {
  /** The end of the run's output (stderr, stdout): an oom kill shows there with cgroups. */
  outputTail?: string;
  /** The sbatch options of the run, to keep a per-CPU memory request per CPU. */
  sbatchOptions?: readonly string[];
}

/** Peak under this share of the request: memory over-requested. */
export const OVER_REQUEST_FRACTION = 0.25;
/** CPU efficiency under this with several CPUs: fewer CPUs would do. */
export const LOW_CPU_EFFICIENCY = 0.5;
/** How much more to ask after an out-of-memory kill or a TIMEOUT. */
export const GROWTH = 1.5;
/** Shorter runs say little about CPU use (start-up dominates). */
const MIN_SECONDS_FOR_CPU_ADVICE = 10;

/**
 * What Slurm and the kernel write when memory ran out: the cgroup handler's
 * `Detected 1 oom-kill event(s)`, jobacct_gather's `Exceeded job memory limit`, the kernel's
 * `Out of memory: Killed process`.
 */
const OOM_TEXT = /oom[-_ ]kill|out[- ]of[- ]memory|exceeded (?:job |step )?memory limit/i;

/** True when the output tail shows that memory ran out. */
export function outputShowsOom(tail: string | undefined): boolean {
  return !!tail && OOM_TEXT.test(tail);
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'CANCELLED', 'NODE_FAIL', 'PREEMPTED', 'DEADLINE']);

function asksPerCpu(f: UsageFigures, options: readonly string[] | undefined): boolean {
  if (f.memoryRequestPer === 'cpu') return true;
  return (options ?? []).some((o) => /^(?:--)?mem-per-cpu(?:[= ]|$)/.test(o.trim()));
}

/** `--mem=` or `--mem-per-cpu=` for a job total of `bytes`. */
function memoryOption(f: UsageFigures, bytes: number, perCpu: boolean): string {
  if (perCpu && f.allocCpus) return `--mem-per-cpu=${formatMemoryOption(bytes / f.allocCpus)}`;
  return `--mem=${formatMemoryOption(bytes)}`;
}

/** The advice for one job (or array task) that ended; nothing for a job still waiting or running. */
export function adviseUsage(f: UsageFigures, ctx: AdviceContext = {}): UsageAdvice[] {
  if (!ENDED.has(f.state)) return [];
  const out: UsageAdvice[] = [];
  const perCpu = asksPerCpu(f, ctx.sbatchOptions);
  const peak = f.memoryPeakBytes;
  const req = f.memoryRequestBytes;

  const oom = f.state === 'OUT_OF_MEMORY' || outputShowsOom(ctx.outputTail);
  if (oom) {
    // The sampled peak can miss the spike that was killed: never ask less than 1.5x the request.
    const base = Math.max(peak ?? 0, req ?? 0);
    if (base > 0) {
      const option = memoryOption(f, base * GROWTH, perCpu);
      const seen = peak !== undefined ? `peak ${formatBytes(peak)}` : 'peak unknown';
      const asked = req !== undefined ? ` of ${formatBytes(req)} asked` : '';
      out.push({ kind: 'outOfMemory', text: `The run ran out of memory (${seen}${asked}): ask for more with ${option}.`, option });
    }
  } else if (peak !== undefined && req !== undefined && peak < req * OVER_REQUEST_FRACTION) {
    const option = memoryOption(f, peak * GROWTH, perCpu);
    const pct = Math.round((peak / req) * 100);
    out.push({
      kind: 'memoryOverRequested',
      text: `The run used ${formatBytes(peak)} of the ${formatBytes(req)} it asked (${pct}%): ${option} would do and may start sooner.`,
      option,
    });
  }

  if (f.state === 'TIMEOUT') {
    const limit = typeof f.timeLimit === 'number' ? f.timeLimit : f.elapsedSeconds;
    if (limit !== undefined && limit > 0) {
      const option = `--time=${formatTimeOption(limit * GROWTH)}`;
      out.push({ kind: 'timeout', text: `The run reached its time limit and was stopped: ask for more time with ${option}.`, option });
    }
  }

  const eff = f.cpuEfficiency;
  if (
    eff !== undefined && eff < LOW_CPU_EFFICIENCY && f.allocCpus !== undefined && f.allocCpus > 1 &&
    f.cpuSeconds !== undefined && f.elapsedSeconds !== undefined && f.elapsedSeconds >= MIN_SECONDS_FOR_CPU_ADVICE
  ) {
    const busy = Math.max(1, Math.ceil(f.cpuSeconds / f.elapsedSeconds));
    if (busy < f.allocCpus) {
      const option = `--cpus-per-task=${busy}`;
      out.push({
        kind: 'lowCpuEfficiency',
        text: `The run kept about ${busy} of its ${f.allocCpus} CPUs busy (CPU efficiency ${Math.round(eff * 100)}%): ${option} would do.`,
        option,
      });
    }
  }
  return out;
}
