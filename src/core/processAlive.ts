/**
 * Whether a process, or a process group, exists on this host: signal 0 (nothing is sent, only
 * the check). EPERM counts as alive: the process is there, it is another user's to signal.
 */

function signalZeroFinds(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while process `pid` exists (a zombie not yet reaped counts). False for a number that
 * names no single process: 0 and negatives would address process groups.
 */
export function processAlive(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && signalZeroFinds(pid);
}

/**
 * True while some process of process group `pgid` exists (zombies count). False for a number
 * that names no group of its own: 1 would address every process (`kill(-1)`).
 */
export function processGroupAlive(pgid: number): boolean {
  return Number.isInteger(pgid) && pgid > 1 && signalZeroFinds(-pgid);
}
