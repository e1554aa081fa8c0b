/**
 * A sweep over SSH as one Slurm job array: the `--array` spec of the tasks sent (with the
 * throttle), the task table (line i+1 is task i's command line), each task's key and job id
 * (`<folderKey>_<i>`, `<arrayId>_<i>`), and the check against the cluster's MaxArraySize.
 */
import { MuseError } from '../../errors';
import type { SentScriptRun } from '../../sentScript';
import { sentScriptRun } from '../../sentScript';
import type { SweepTask } from '../../sweep/sweepSpec';
import { validateCommandLine } from './batchScript';

/**
 * `0-5%2`, `1,4,7-9`: the indexes as ranges, with `%throttle` when asked.
 * Indexes must be sorted and distinct.
 */
export function arraySpecOf(indexes: readonly number[], throttle?: number): string {
  const parts: string[] = [];
  for (let i = 0; i < indexes.length; ) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j] + 1) j++;
    parts.push(j > i ? `${indexes[i]}-${indexes[j]}` : `${indexes[i]}`);
    i = j + 1;
  }
  return parts.join(',') + (throttle !== undefined && throttle > 0 ? `%${throttle}` : '');
}

/**
 * The task table of a sweep of `count` tasks: one line per index, the command of each task sent
 * (a file sent with the run named as the first word is run as `sentScript` says, as a plain
 * submit does); indexes not sent this time (a rerun of some tasks) get a line that fails.
 */
export function taskTable(tasks: readonly SweepTask[], count: number, sent?: { names: string[]; shebang: boolean }): string {
  const lines = Array.from({ length: count }, () => 'exit 97');
  for (const t of tasks) {
    const script: SentScriptRun | undefined = sent ? sentScriptRun(t.command, sent.names, () => sent.shebang) : undefined;
    lines[t.index] = validateCommandLine('command', script ? script.command : t.command);
  }
  return lines.join('\n') + '\n';
}

/** The key of a sweep's task: its run folder's key and its index. */
export function taskKey(folderKey: string, index: number): string {
  return `${folderKey}_${index}`;
}

/** `{ base: '123', task: 4 }` from a task's job id `123_4`; `{ base: '123' }` for a plain job. */
export function splitTaskJobId(jobId: string | undefined): { base: string; task?: number } | undefined {
  const m = /^(\d+)(?:_(\d+))?$/.exec((jobId ?? '').split(';')[0]);
  if (!m) return undefined;
  return m[2] !== undefined ? { base: m[1], task: Number(m[2]) } : { base: m[1] };
}

/** Refuses, before anything is sent, a sweep whose highest index the cluster cannot hold. */
export function checkArraySize(highestIndex: number, maxArraySize: number | undefined, host: string): void {
  if (maxArraySize === undefined) return;
  if (highestIndex >= maxArraySize) {
    throw new MuseError(
      'usage',
      `The sweep has ${highestIndex + 1} tasks, more than the cluster ${host} accepts in one job array (MaxArraySize=${maxArraySize}, so task ids 0 to ${maxArraySize - 1}): ` +
        'split it into smaller sweeps, or ask the cluster administrators.',
      { notSent: true },
    );
  }
}
