/**
 * The files in which a local run keeps its state, so that any process (the CLI, VS Code after
 * a restart, another window) can follow it: the request, the launch record (pid and start time),
 * the exit record written by the wrapper, and the cancel marker.
 */
import * as fsp from 'fs/promises';
import * as path from 'path';
import { writeFileAtomic } from '../../atomicFile';
import type { RawFacts, Run, StateReport } from '../../model';
import { groupIsOurs, isSameProcessAlive } from './procInfo';
import { SLOT_WAIT_FILE } from './slots';
import { readLocalUsage } from '../../usage/localUsage';
import { runUsageFromLocal } from '../../usage/runUsage';

export const STDOUT_FILE = '__WS__stdout.txt';
export const STDERR_FILE = '__WS__stderr.txt';
export const REQUEST_FILE = '__MUSE__request.json';
export const LAUNCH_FILE = '__MUSE__state.json';
export const EXIT_FILE = '__MUSE__exit.json';
export const CANCEL_FILE = '__MUSE__cancel.json';
export const DOWNLOAD_FILE = '__MUSE__download.json';
/** Our own files in a run folder (left out of run.zip and content, as ws shows only __WS__ ones). */
export const isInternalFile = (rel: string): boolean => rel.startsWith('__MUSE__');

/** What `submit` saved of the request (the normalized ws parameters, and how it ran). */
export interface RequestRecord {
  software: string;
  request: Run['request'];
  /** The shell line actually run (`singularity exec ... image cmd`, or the plain command). */
  commandLine: string;
  container?: { runtime: string; image: string };
  createdAt: string;
}

/** Written by `submit` right after the detached process started. */
export interface LaunchRecord {
  pid: number;
  /** Process group id (the wrapper leads its own group). */
  pgid: number;
  /** /proc/<pid>/stat start time, to tell our process from a later one with the same pid. */
  procStart?: string;
  startedAt: string;
}

/** Written atomically by the wrapper when the command ended. */
export interface ExitRecord {
  exitCode: number;
  /** Signal name when the exit code says the command was killed (128 + N). */
  signal?: string;
  endedAt?: string;
}

export interface CancelRecord {
  requestedAt: string;
  by?: number;
}

/** Writes JSON through a temporary file and a rename: readers never see half a file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** The parsed JSON file, undefined when missing; unreadable JSON gives undefined too. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** A run whose launch was never recorded is given this long before it is declared lost. */
const LAUNCH_GRACE_MS = 60_000;

/** Reads the state of the run in `runDir` and maps it to the model, with a ws-like report. */
export async function readRunState(runDir: string, name: string): Promise<StateReport> {
  const [request, launch, cancel] = await Promise.all([
    readJson<RequestRecord>(path.join(runDir, REQUEST_FILE)),
    readJson<LaunchRecord>(path.join(runDir, LAUNCH_FILE)),
    readJson<CancelRecord>(path.join(runDir, CANCEL_FILE)),
  ]);
  let exit = await readJson<ExitRecord>(path.join(runDir, EXIT_FILE));

  let slurmState: string;
  let message: string | undefined;
  let alive = false;
  if (!exit && launch) {
    alive = await isSameProcessAlive(launch.pid, launch.procStart);
    if (!alive) {
      // It may have ended between the two reads: look once more before calling it lost.
      exit = await readJson<ExitRecord>(path.join(runDir, EXIT_FILE));
      if (!exit && (await groupIsOurs(launch.pgid, launch.procStart))) alive = true; // children still running
    }
  }

  if (exit) {
    if (cancel) {
      slurmState = 'CANCELLED';
      message = 'Cancelled.';
    } else if (exit.exitCode === 0) {
      slurmState = 'COMPLETED';
    } else {
      slurmState = 'FAILED';
      message = `The command exited with code ${exit.exitCode}${exit.signal ? ` (killed by SIG${exit.signal})` : ''}; see ${STDERR_FILE}.`;
    }
  } else if (!launch) {
    const st = await fsp.stat(runDir).catch(() => undefined);
    if (cancel) {
      slurmState = 'CANCELLED';
      message = 'Cancelled before it started.';
    } else if (st && Date.now() - st.mtimeMs > LAUNCH_GRACE_MS) {
      slurmState = 'FAILED';
      message = 'The run was never started (the submitting process stopped before launching it).';
    } else {
      slurmState = 'PENDING';
    }
  } else if (alive) {
    // A sweep's task waiting for a free slot (slots.ts) is alive but has not started its command.
    const queued = await fsp.stat(path.join(runDir, SLOT_WAIT_FILE)).then(() => true, () => false);
    slurmState = queued ? 'PENDING' : 'RUNNING';
    if (queued) message = 'Waiting for a free slot: the sweep runs at most one task per core (or its throttle) at once.';
  } else if (cancel) {
    slurmState = 'CANCELLED';
    message = 'Cancelled.';
  } else {
    slurmState = 'FAILED';
    message =
      `The run's process (pid ${launch.pid}) is gone without recording an exit status: ` +
      'it was killed, or the machine restarted.';
  }

  const ended = slurmState !== 'PENDING' && slurmState !== 'RUNNING';
  const ok = slurmState === 'COMPLETED';
  const raw: RawFacts = {
    slurmState,
    cr: ended ? (ok ? 'OK' : 'NOK') : 'WAIT',
    latestCr: ended ? (ok ? 'ENDED_OK' : 'ENDED_NOK') : 'IN_PROGRESS',
  };
  if (launch) raw.jobId = String(launch.pid);
  if (exit) raw.exitCode = exit.exitCode;
  if (exit?.signal) raw.signal = `SIG${exit.signal}`;
  if (message) raw.message = message;
  if (exit) {
    // Written by the wrapper just before the exit record (absent for runs from before it did).
    const used = await readLocalUsage(runDir).catch(() => undefined);
    if (used) raw.usage = runUsageFromLocal(used, slurmState);
  }

  const state = !ended ? 'waiting' : ok ? 'ok' : slurmState === 'CANCELLED' ? 'cancelled' : 'failed';
  const r = request?.request;
  const report = {
    // The request as the ws state report shows it, so that both read alike.
    request: r && {
      cmd: r.cmd,
      cmd_option: r.cmdOption,
      ordered_filename_list: r.filesOrder,
      returned_type: r.returnedType,
      todownload: r.toDownload,
      sbatch_list: r.sbatchList,
      module_list: r.moduleList,
    },
    rsrc: { identity: 'local' },
    process: {
      pid: launch?.pid,
      command: request?.commandLine,
      container: request?.container,
      latest_cr: raw.latestCr,
      latest_state: slurmState,
      exit_code: exit?.exitCode,
    },
    name: request?.software ?? name,
    cr: raw.cr,
  };
  const out: StateReport = { state, raw, report };
  if (launch) out.startedAt = launch.startedAt;
  if (ended) out.endedAt = exit?.endedAt ?? cancel?.requestedAt;
  return out;
}
