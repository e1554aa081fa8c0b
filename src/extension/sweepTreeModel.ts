/**
 * What the Runs tree shows for a sweep, as plain data: the sweep row's label, counts, icon,
 * tooltip and `contextValue`, and each task's label (its parameter values). The grouping and
 * the counts are the core's (`sweepGroups.ts`); no vscode import, so it is unit-tested.
 */
import { isFinal } from '../core/model';
import type { Run, RunState } from '../core/model';
import { failedTasks, groupSweeps, sweepCountsText } from '../core/sweep/sweepGroups';
import type { SweepCounts, SweepGroup } from '../core/sweep/sweepGroups';
import { mdEscape, runIcon } from './runTreeModel';
import type { RunAbilities } from './runTreeModel';

/**
 * The state a sweep's row stands for: `waiting` while any task has not ended (`submitting` while
 * all are being sent), then `failed` when any failed or was lost, `ok` when any ended well, else
 * `cancelled`.
 */
export function sweepState(c: SweepCounts): RunState {
  const total = c.ok + c.running + c.waiting + c.submitting + c.failed + c.cancelled + c.unknown;
  if (total > 0 && c.submitting === total) return 'submitting';
  if (c.running + c.waiting + c.submitting > 0) return 'waiting';
  if (c.failed + c.unknown > 0) return 'failed';
  if (c.ok > 0) return 'ok';
  return 'cancelled';
}

/** The sweep row's codicon: a run's icon for the sweep's overall state. */
export function sweepIcon(group: SweepGroup): { id: string; color?: string } {
  return runIcon(sweepState(group.counts));
}

/**
 * `sweep;<state>` and the actions the row offers, as `;name` (menus match `viewItem =~ /;rerunFailed/`):
 * cancellable (a task is keyed and not ended, and the backend cancels), rerunFailed (a task
 * failed or was lost, none still running), removable (no task is being sent).
 */
export function sweepContextValue(group: SweepGroup, can: RunAbilities): string {
  const state = sweepState(group.counts);
  const parts = ['sweep', state];
  const live = group.tasks.some((t) => !!t.key && !isFinal(t.state) && t.state !== 'unknown');
  if (can.cancel && live) parts.push('cancellable');
  if (state !== 'waiting' && state !== 'submitting' && failedTasks(group).length > 0) parts.push('rerunFailed');
  if (group.counts.submitting === 0) parts.push('removable');
  return parts.join(';');
}

/** `sw_example · add.py`: the software of its tasks and the sweep's label. */
export function sweepLabel(group: SweepGroup): string {
  const software = group.tasks[0]?.software;
  return software ? `${software} · ${group.label}` : group.label;
}

/** The Slurm job all the sweep's tasks belong to (one array: `2459394_3` -> `2459394`), if one. */
export function sweepJobId(group: SweepGroup): string | undefined {
  let job: string | undefined;
  for (const t of group.tasks) {
    const id = t.raw.jobId?.split('_')[0];
    if (!id) continue;
    if (job !== undefined && job !== id) return undefined;
    job = id;
  }
  return job;
}

/** `6 tasks · 5 ok · 1 failed · job 2459394`. */
export function sweepDescription(group: SweepGroup): string {
  const parts = [`${group.count} task${group.count === 1 ? '' : 's'}`, sweepCountsText(group.counts)];
  const job = sweepJobId(group);
  if (job) parts.push(`job ${job}`);
  return parts.join(' · ');
}

/** A task's label: its parameter values (`a=1 b=10`), in the template's order. */
export function taskLabel(run: Run): string {
  const params = Object.entries(run.sweep?.params ?? {});
  if (params.length === 0) return `task ${run.sweep?.index ?? '?'}`;
  return params.map(([k, v]) => `${k}=${v}`).join(' ');
}

/** The values each parameter takes across the listed tasks, at most `max` shown. */
function paramValues(group: SweepGroup, max = 8): string[] {
  const names = Object.keys(group.tasks[0]?.sweep?.params ?? {});
  return names.map((n) => {
    const seen = [...new Set(group.tasks.map((t) => t.sweep?.params[n] ?? ''))];
    return `${n}: ${seen.slice(0, max).join(', ')}${seen.length > max ? `, ... (${seen.length})` : ''}`;
  });
}

/** The sweep row's tooltip: its command template, counts, parameters and throttle. */
export function sweepTooltipMarkdown(group: SweepGroup): string {
  const first = group.tasks[0]?.sweep;
  const rows: [string, string | undefined][] = [
    ['Tasks', `${group.count}: ${sweepCountsText(group.counts)}`],
    ['Profile', `${group.profile} (${group.backend})`],
    ['Command', first?.template],
    ['Parameters', paramValues(group).join('; ') || undefined],
    ['At most', first?.throttle ? `${first.throttle} running at once` : undefined],
    ['Slurm job', sweepJobId(group)],
    ['Created', group.createdAt],
  ];
  const lines = [`**Sweep ${mdEscape(sweepLabel(group))}**`, '', '| | |', '|---|---|'];
  for (const [k, v] of rows) if (v) lines.push(`| ${k} | ${mdEscape(v)} |`);
  return lines.join('\n');
}

/** Every listed task of the sweep has ended (a lost one counts as ended: it will not change by itself). */
export function sweepEnded(group: SweepGroup): boolean {
  return group.tasks.length > 0 && group.tasks.every((t) => isFinal(t.state) || t.state === 'unknown');
}

/** The end notification's text: `Sweep add.py: 5 ok · 1 failed`. */
export function sweepEndText(group: SweepGroup): string {
  return `Sweep ${group.label}: ${sweepCountsText(group.counts)}`;
}

/**
 * The sweeps that `ended` (tasks seen ending just now) completed: those whose every listed task
 * has ended in `runs` (the store's list). One entry per sweep, however many of its tasks ended.
 */
export function sweepsEndedBy(ended: readonly Run[], runs: readonly Run[]): SweepGroup[] {
  const ids = new Set(ended.map((r) => r.sweep?.id).filter((x): x is string => !!x));
  if (ids.size === 0) return [];
  const mine = runs.filter((r) => r.sweep && ids.has(r.sweep.id));
  return groupSweeps(mine).filter(sweepEnded);
}

/**
 * The task whose claim stands for the sweep's end notification: the one that ended last (ties:
 * the greatest id), the same in every window; a rerun's tasks make a new one, so a sweep whose
 * failed tasks were rerun is announced again when they end.
 */
export function sweepClaimTask(group: SweepGroup): Run {
  const at = (r: Run): string => r.endedAt ?? r.updatedAt;
  return group.tasks.reduce((a, b) => (at(b) > at(a) || (at(b) === at(a) && b.id > a.id) ? b : a));
}
