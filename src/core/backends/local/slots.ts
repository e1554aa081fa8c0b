/**
 * At most N local runs of a sweep at once, without a process of ours staying alive: each task
 * is launched detached at once (its record stored as usual), and its shell first takes one of N
 * slot locks (`flock` on `<slots>/<i>`), waiting for a free one. The lock belongs to the run's
 * own process tree, so it is released when the run ends, is killed or cancelled, and the queue
 * survives the window or the CLI that submitted the sweep. Where `flock` is missing (macOS),
 * tasks run at once.
 */
import * as os from 'os';
import { shellQuote } from '../../shellQuote';

/** How many tasks of a sweep run at once here: one per core, or the throttle when smaller. */
export function localSlots(throttle?: number, cores = os.availableParallelism()): number {
  const n = Math.max(1, cores);
  return throttle !== undefined && throttle > 0 ? Math.min(n, Math.floor(throttle)) : n;
}

/** The shell lines that wait for a free slot among `count` under `dir`, put before the run's line. */
export function slotWaitLines(dir: string, count: number): string {
  const d = shellQuote(dir);
  return [
    'if command -v flock >/dev/null 2>&1; then',
    '  while :; do',
    '    muse_i=0; muse_got=',
    `    while [ "$muse_i" -lt ${count} ]; do`,
    `      exec 9>>${d}/"$muse_i"`,
    '      if flock -n 9; then muse_got=1; break; fi',
    '      exec 9>&-; muse_i=$((muse_i + 1))',
    '    done',
    '    [ -n "$muse_got" ] && break',
    '    sleep 1',
    '  done',
    'fi',
  ].join('\n');
}
