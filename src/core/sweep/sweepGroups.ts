/**
 * Sweeps as the user sees them: the runs of one sweep (same `sweep.id`) gathered into a group
 * with its counts, the failed tasks to rerun, and cancelling the whole sweep at once.
 */
import { can, cannot } from '../backend';
import type { Backend, OpOptions } from '../backend';
import { mapLimit } from '../concurrency';
import { MuseError } from '../errors';
import { isFinal } from '../model';
import type { BackendKind, Run } from '../model';
import { runRef } from '../runs';
import type { RunStore } from '../store';
import { submitSweep } from './submitSweep';
import type { SubmitSweepArgs } from './submitSweep';
import type { SweepSpec } from './sweepSpec';

/** How many tasks of a sweep are in each state ("running" and "waiting" split `waiting`). */
export interface SweepCounts {
  ok: number;
  running: number;
  waiting: number;
  submitting: number;
  failed: number;
  cancelled: number;
  unknown: number;
}

/** One sweep: its tasks (the latest run of each task index, in index order) and their counts. */
export interface SweepGroup {
  id: string;
  label: string;
  profile: string;
  backend: BackendKind;
  /** How many tasks the sweep has (some may not be listed: removed by the user). */
  count: number;
  tasks: Run[];
  counts: SweepCounts;
  /** When its first task was recorded. */
  createdAt: string;
}

/** Slurm states of a job that has not started yet. */
const NOT_STARTED = /^(PENDING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESV_DEL_HOLD|SUSPENDED|CONFIGURING)/;

/**
 * Whether a `waiting` run is running or still queued: from the Slurm state where the backend
 * reports one (`PENDING` -> waiting); the local runner's runs run once started.
 */
export function isRunning(run: Run): boolean {
  if (run.state !== 'waiting') return false;
  const s = run.raw.slurmState?.trim();
  if (s) return !NOT_STARTED.test(s);
  if (run.raw.latestCr) return run.raw.latestCr === 'IN_PROGRESS';
  return run.backend === 'local';
}

/** The counts of these runs' states. */
export function countTasks(runs: readonly Run[]): SweepCounts {
  const c: SweepCounts = { ok: 0, running: 0, waiting: 0, submitting: 0, failed: 0, cancelled: 0, unknown: 0 };
  for (const r of runs) {
    if (r.state === 'waiting') c[isRunning(r) ? 'running' : 'waiting']++;
    else c[r.state]++;
  }
  return c;
}

const ORDER: Array<keyof SweepCounts> = ['ok', 'running', 'waiting', 'submitting', 'failed', 'cancelled', 'unknown'];

/** `12 ok · 3 running · 1 failed`: the counts that are not 0, in a fixed order. */
export function sweepCountsText(counts: SweepCounts): string {
  const parts = ORDER.filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
  return parts.length > 0 ? parts.join(' · ') : 'no tasks';
}

/**
 * The sweeps among `runs`, newest first. A task rerun (same sweep id and index) replaces the
 * earlier run of that index in `tasks`; the earlier run stays in the store (and in `--all`).
 */
export function groupSweeps(runs: readonly Run[]): SweepGroup[] {
  const byId = new Map<string, Map<number, Run>>();
  const first = new Map<string, Run>();
  for (const r of runs) {
    if (!r.sweep) continue;
    const tasks = byId.get(r.sweep.id) ?? new Map<number, Run>();
    byId.set(r.sweep.id, tasks);
    const had = tasks.get(r.sweep.index);
    if (!had || had.createdAt < r.createdAt || (had.createdAt === r.createdAt && had.id < r.id)) tasks.set(r.sweep.index, r);
    const f = first.get(r.sweep.id);
    if (!f || r.createdAt < f.createdAt) first.set(r.sweep.id, r);
  }
  const groups: SweepGroup[] = [];
  for (const [id, map] of byId) {
    const tasks = [...map.values()].sort((a, b) => a.sweep!.index - b.sweep!.index);
    const f = first.get(id)!;
    groups.push({
      id,
      label: f.sweep!.label ?? f.label ?? f.sweep!.template,
      profile: f.profile,
      backend: f.backend,
      count: Math.max(...tasks.map((t) => t.sweep!.count)),
      tasks,
      counts: countTasks(tasks),
      createdAt: f.createdAt,
    });
  }
  return groups.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

/**
 * The sweep whose id is `idOrPrefix` (or starts with it). Throws `notFound`, or `usage` when the
 * prefix fits several sweeps.
 */
export function findSweep(groups: readonly SweepGroup[], idOrPrefix: string): SweepGroup {
  const q = idOrPrefix.trim();
  const exact = groups.find((g) => g.id === q);
  if (exact) return exact;
  const m = q ? groups.filter((g) => g.id.startsWith(q)) : [];
  if (m.length === 1) return m[0];
  if (m.length === 0) throw new MuseError('notFound', `No sweep matches "${idOrPrefix}".`);
  throw new MuseError('usage', `"${idOrPrefix}" matches ${m.length} sweeps (${m.slice(0, 5).map((g) => g.id.slice(0, 8)).join(', ')}): give more characters.`);
}

/**
 * The tasks to rerun: `failed`, and `unknown` (lost, or a submit that may not have reached the
 * backend). Cancelled tasks are not: the user stopped them on purpose.
 */
export function failedTasks(group: SweepGroup): Run[] {
  return group.tasks.filter((t) => t.state === 'failed' || t.state === 'unknown');
}

/**
 * Cancels every task of the sweep that has not ended: with one call where the backend can
 * (one `scancel` of the Slurm array), else one cancel per task, a few at once. Tasks still
 * being submitted (no key yet) are left: they are cancelled by stopping their submit.
 * Returns how many tasks were asked to stop.
 */
export async function cancelSweep(backend: Backend, store: RunStore, group: SweepGroup, opts: OpOptions = {}): Promise<number> {
  void store; // states are read back by the poller, as after any cancel
  const live = group.tasks.filter((t) => !isFinal(t.state) && t.key !== undefined);
  if (live.length === 0) return 0;
  if (can(backend, 'cancelSweep')) {
    await backend.cancelSweep(live.map(runRef), opts);
    return live.length;
  }
  if (!can(backend, 'cancel')) throw cannot(backend.kind, 'cancel', { profile: group.profile });
  const errors: unknown[] = [];
  await mapLimit(live, 4, async (t) => {
    await backend.cancel(runRef(t), opts).catch((e: unknown) => errors.push(e));
  });
  if (errors.length > 0) throw errors[0];
  return live.length;
}

/** The spec that gives back exactly the group's tasks at their indexes (zipped values by index). */
export function specOfGroup(group: SweepGroup): SweepSpec {
  const template = group.tasks[0]?.sweep?.template;
  if (!template) throw new MuseError('usage', 'This sweep has no task left to take its command from.');
  const names = Object.keys(group.tasks[0].sweep!.params);
  const byIndex = new Map(group.tasks.map((t) => [t.sweep!.index, t.sweep!.params]));
  const filler = group.tasks[0].sweep!.params;
  const params = names.map((name) => ({
    name,
    values: Array.from({ length: group.count }, (_, i) => (byIndex.get(i) ?? filler)[name] ?? ''),
  }));
  return { template, params, combine: 'zip' };
}

/**
 * Resubmits the sweep's failed tasks (see `failedTasks`) into the same sweep (same id, same
 * indexes: over SSH, a new array of just those indexes). `request` is the sweep's request (files
 * found again by the caller); its `cmd` is replaced by the sweep's template.
 */
export async function rerunFailedTasks(
  args: Omit<SubmitSweepArgs, 'spec' | 'only' | 'sweepId'> & { group: SweepGroup },
  opts: OpOptions = {},
): Promise<Run[]> {
  const { group, ...rest } = args;
  const failed = failedTasks(group);
  if (failed.length === 0) throw new MuseError('usage', 'No task of this sweep failed: nothing to rerun.');
  const spec = specOfGroup(group);
  const first = group.tasks[0].sweep!;
  return submitSweep(
    {
      ...rest,
      request: { ...rest.request, cmd: spec.template },
      spec,
      only: failed.map((t) => t.sweep!.index),
      sweepId: group.id,
      label: rest.label ?? first.label,
      throttle: rest.throttle ?? first.throttle,
    },
    opts,
  );
}
