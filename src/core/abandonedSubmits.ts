/**
 * Submissions whose sender stopped before the cluster answered: the window (or `muse` command)
 * recorded the run as `submitting`, sent it, and was closed or killed before it could store the
 * key or the error. Nothing else would ever change such a record: it would stay "submitting",
 * counted as active, and could not be removed. It becomes `unknown`, saying so: the request may
 * have reached the cluster, so the user checks before submitting again.
 */
import type { Run } from './model';
import { processTagAlive } from './processAlive';
import type { RunStore } from './store';

/** What an abandoned submission's `lastError` says. */
export const ABANDONED_TEXT =
  'The window or muse command sending this run stopped before the cluster answered. The request may have reached the server: a run may have been created there; check before submitting again.';

/** What the CLI and the extension's log say when `count` runs were marked. */
export function abandonedNotice(count: number): string {
  return `${count} run(s) left "submitting" by a window or muse command that stopped before the cluster answered: now "unknown" (check before submitting again).`;
}

/** A record from before `sentBy` existed that is still submitting after this long was abandoned. */
const UNOWNED_AFTER_MS = 24 * 3600_000;

/** True when `run` is a submission whose sender is gone (or, for a record naming none, a day old). */
export function isAbandonedSubmit(run: Run, nowMs = Date.now()): boolean {
  if (run.state !== 'submitting' || run.key) return false;
  if (run.sentBy) return !processTagAlive(run.sentBy);
  return nowMs - Date.parse(run.createdAt) > UNOWNED_AFTER_MS;
}

/**
 * Marks the abandoned submissions among the store's runs `unknown`, in one store write (none
 * when there is nothing to mark). Resolves with the runs marked.
 */
export async function settleAbandonedSubmits(store: RunStore, nowMs = Date.now()): Promise<Run[]> {
  const abandoned = store.list().filter((r) => isAbandonedSubmit(r, nowMs));
  if (abandoned.length === 0) return [];
  const patch: Partial<Run> = { state: 'unknown', lastError: ABANDONED_TEXT };
  const written = await store.updateMany(abandoned.map((r) => ({ id: r.id, patch })));
  return [...written.values()];
}
