/**
 * What a run used and why it waits, for `muse state` and `muse rerun --apply-advice`: the usage
 * block with its advice (the oom check reads the end of a failed run's stderr), and the wait line.
 */
import type { Backend } from '../core/backend';
import type { Run } from '../core/model';
import { readRunTail } from '../core/outputTail';
import { adviseRun, figuresOfUsage } from '../core/usage/runUsage';
import type { UsageAdvice } from '../core/usage/usageAdvice';
import { usageBlock, usageLine } from '../core/usage/usageText';
import { waitText } from '../core/usage/waitReason';

/** How much of a failed run's stderr the oom check reads. */
const OOM_TAIL_BYTES = 8192;

/**
 * The advice for an ended run: its figures, and for a failed run the end of its stderr (a kill
 * for memory may show only there). Reading the output is best effort: without it the advice
 * comes from the figures alone.
 */
export async function adviceFor(backend: Backend, run: Run, signal?: AbortSignal): Promise<UsageAdvice[]> {
  if (!run.raw.usage) return [];
  let outputTail: string | undefined;
  if (run.state === 'failed' && run.key) {
    outputTail = await readRunTail(backend, run, 'stderr', OOM_TAIL_BYTES, { signal }).catch(() => undefined);
  }
  return adviseRun(run.raw, { outputTail, sbatchOptions: run.request.sbatchList });
}

/**
 * The lines `muse state` prints after the run's details: why it waits (while Slurm says), the
 * usage block with the advice, and one line per array task.
 */
export function usageAndWaitLines(run: Run, advice: readonly UsageAdvice[], now = Date.now()): string[] {
  const lines: string[] = [];
  if (run.state === 'waiting' && run.raw.wait) lines.push(`wait: ${waitText({ jobId: '', baseId: '', ...run.raw.wait }, now)}`);
  const u = run.raw.usage;
  if (u) {
    const tasks = u.tasks ?? [];
    // An array's top figures are one task's (the one the advice is about): say which.
    lines.push(...usageBlock(figuresOfUsage(u), advice).map((l, i) => (i === 0 && tasks.length > 0 ? l.replace(/^usage:/, 'usage (worst task):') : l)));
    for (const t of tasks) lines.push(`  task ${t.task}: ${t.state ?? '?'} · ${usageLine(figuresOfUsage(t)) || 'no figures'}`);
  }
  return lines;
}
