/**
 * Facts about local processes, for following detached runs: whether the process we started is
 * still the one behind a pid (its start time guards against pid reuse), and killing its
 * process group.
 */
import * as fsp from 'fs/promises';
import { processAlive, processGroupAlive } from '../../processAlive';

/**
 * The start time of a process as /proc/<pid>/stat gives it (clock ticks since boot), or
 * undefined when the process is gone, a zombie, or /proc is not there (not Linux).
 */
export async function procStartTime(pid: number): Promise<string | undefined> {
  const stat = await readStat(pid);
  return stat && stat.state !== 'Z' && stat.state !== 'X' ? stat.startTime : undefined;
}

interface ProcStat {
  state: string;
  pgid: number;
  startTime: string;
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ")": split after the last ")".
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const state = rest[0];
  const pgid = Number(rest[2]);
  const startTime = rest[19];
  if (!state || !startTime || !Number.isFinite(pgid)) return undefined;
  return { state, pgid, startTime };
}

function hasProc(): Promise<boolean> {
  return fsp
    .access('/proc/self/stat')
    .then(() => true)
    .catch(() => false);
}

/**
 * True when `pid` is alive and is the process we started (same start time, when known).
 * Without /proc, falls back to `processAlive` (signal 0).
 */
export async function isSameProcessAlive(pid: number, startTime: string | undefined): Promise<boolean> {
  if (await hasProc()) {
    const now = await procStartTime(pid);
    if (now === undefined) return false;
    return startTime === undefined || now === startTime;
  }
  return processAlive(pid);
}

/**
 * True when some live process still belongs to process group `pgid`. Zombies do not count: an
 * orphaned wrapper may never be reaped where PID 1 is not an init system.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (await hasProc()) {
    let names: string[];
    try {
      names = await fsp.readdir('/proc');
    } catch {
      names = [];
    }
    for (const n of names) {
      if (!/^\d+$/.test(n)) continue;
      const st = await readStat(Number(n));
      if (st && st.pgid === pgid && st.state !== 'Z' && st.state !== 'X') return true;
    }
    return false;
  }
  return processGroupAlive(pgid);
}

/** Sends `signal` to the whole process group; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/**
 * True when process group `pgid` is ours to signal: its leader is the process we started, or the
 * leader is gone and the group lives on (its members can only be our leader's descendants: Linux
 * does not give a pid that is still a group id to a new process).
 */
export async function groupIsOurs(pgid: number, leaderStartTime: string | undefined): Promise<boolean> {
  if (await isSameProcessAlive(pgid, leaderStartTime)) return true;
  if (await hasProc()) {
    const leader = await readStat(pgid);
    if (leader && leader.state !== 'Z' && leader.state !== 'X') return false; // a stranger reused the pid
  }
  return await groupAlive(pgid);
}
