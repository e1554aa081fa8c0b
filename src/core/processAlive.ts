/**
 * Whether a process, or a process group, exists on this host: signal 0 (nothing is sent, only
 * the check). EPERM counts as alive: the process is there, it is another user's to signal.
 * And the tag (`host:pid`) by which a record names the process that wrote it, with its check.
 */
import * as os from 'os';

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

/** This process as records name it: `host:pid` (a window id adds a random part after it). */
export function processTag(): string {
  return `${os.hostname()}:${process.pid}`;
}

/**
 * True unless `tag` (`host:pid[:...]`, see `processTag`) names a process of this host that is
 * gone: another host's processes cannot be checked, and count as alive.
 */
export function processTagAlive(tag: string): boolean {
  const [host, pidText] = tag.split(':');
  const pid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0) return true;
  return processAlive(pid);
}
