/**
 * The one interface every backend (ws API, Slurm over SSH, local runner) implements.
 * What a backend can do beyond the required methods is declared once, by implementing the
 * optional method: callers ask `can(backend, 'cancel')` (never `backend.kind === ...`), and
 * refuse with `cannot(...)`, so that every "cannot" reads the same.
 */
import { MuseError } from './errors';
import type { BackendKind, ResultOutcome, Run, SoftwareInfo, StateReport, SubmitRequest } from './model';
import type { SweepTask } from './sweep/sweepSpec';

/** Progress of a long operation; `total` is absent when unknown. */
export interface Progress {
  /** What is being done ("upload", "download", "submit", ...). */
  phase: string;
  /** Bytes (or items) done so far. */
  done: number;
  total?: number;
  /** The file being transferred, when there is one. */
  file?: string;
}

/** Options every long operation takes. */
export interface OpOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** What a submit answers: the key, and what else the backend learned at once. */
export interface SubmitResult {
  key: string;
  /** Where the backend keeps the run (state URL, remote folder, local folder). */
  location?: string;
  /** Slurm job id when the backend knows it at submit time. */
  jobId?: string;
  message?: string;
  /** Set by the local runner when the command ran without a container. */
  noContainer?: boolean;
}

/** The part of a run a backend needs to find it again. */
export type RunRef = Pick<Run, 'id' | 'key' | 'software' | 'request' | 'raw' | 'location'>;

/** Which output stream of a run. */
export type OutputStream = 'stdout' | 'stderr';

export interface Backend {
  readonly kind: BackendKind;

  /**
   * Submits a run. Resolves as soon as the backend has accepted it and the key is known.
   * Never retried blindly once the request may have reached the server.
   */
  submit(req: SubmitRequest, opts?: OpOptions): Promise<SubmitResult>;

  /**
   * States of many runs at once (one batched remote call where the backend can).
   * The map is keyed by `RunRef.id`; a run whose state could not be read maps to an Error.
   */
  states(runs: RunRef[], opts?: OpOptions): Promise<Map<string, StateReport | Error>>;

  /**
   * The results of an ended run, as the run asked (`returnedType`, `toDownload`).
   * Files are streamed to `destFile` (for `stdout.txt`, `run.zip`); `stdout` is returned as text.
   */
  results(run: RunRef, destFile: string, opts?: OpOptions): Promise<ResultOutcome>;

  /** The whole run folder, zipped, streamed to `destFile`. Returns the bytes written. */
  content(run: RunRef, destFile: string, opts?: OpOptions): Promise<{ path: string; bytes: number }>;

  /** The text of one output stream of a run (stdout / stderr), streamed to `destFile`. */
  output?(run: RunRef, stream: OutputStream, destFile: string, opts?: OpOptions): Promise<{ path: string; bytes: number }>;

  /** A result kept for later (ws `download/?key=`), streamed to `destFile`. */
  download?(downloadKey: string, destFile: string, opts?: OpOptions): Promise<{ path: string; bytes: number }>;

  /** Cancels a run that has not ended. */
  cancel?(run: RunRef, opts?: OpOptions): Promise<void>;

  /**
   * Submits the tasks of a sweep in the backend's own way (one Slurm array; the local runner's
   * slots), calling `sweep.onSubmitted` the moment each task's key exists. Without it, a sweep
   * is N plain submits (submitSweep.ts). Rejects when it stops; tasks not reported by then were
   * not submitted when the error is a clear refusal (`isClearRefusal`).
   */
  submitSweep?(req: SubmitRequest, sweep: SweepSubmit, opts?: OpOptions): Promise<void>;

  /** Cancels all the tasks of a sweep at once (one `scancel` of the array). */
  cancelSweep?(tasks: RunRef[], opts?: OpOptions): Promise<void>;

  /** The software this backend can run. */
  listSoftware?(opts?: OpOptions): Promise<SoftwareInfo[]>;

  /** Runs synchronously and returns the result (ws `software/run/{name}/`). */
  runSync?(req: SubmitRequest, destFile: string, opts?: OpOptions): Promise<ResultOutcome>;

  /** The last `maxBytes` of a running job's output. */
  tail?(run: RunRef, stream: OutputStream, maxBytes: number, opts?: OpOptions): Promise<string>;

  /**
   * Follows output by byte offset: for each asked stream, the bytes appended since its offsets,
   * the new offsets, and whether the run has ended (states are read before the bytes, so the
   * read that reports the end holds the last bytes). All the reads of one call form one batch
   * (one state call, pipelined reads). Runs of another backend must not be passed.
   */
  follow?(reads: FollowRead[], opts?: FollowOptions): Promise<FollowAnswer[]>;

  /**
   * Calls `onChange` when a run's output may have grown (a file watcher, where the platform has
   * one): followers then read at once instead of waiting for their timer. Returns the stop function.
   */
  watchOutput?(run: RunRef, onChange: () => void): () => void;

  /** Releases connections and timers. */
  dispose?(): Promise<void> | void;
}

/** The tasks of a sweep handed to `Backend.submitSweep`. */
export interface SweepSubmit {
  /** The sweep's id (shared by its tasks). */
  id: string;
  /** The tasks to submit (all of them, or the failed ones rerun), each with its own command. */
  tasks: SweepTask[];
  /** How many tasks the whole sweep has (Slurm array indexes stay the sweep's own). */
  count: number;
  /** At most this many tasks running at once. */
  throttle?: number;
  /** Called once per task, the moment its key exists. */
  onSubmitted(index: number, result: SubmitResult): void;
}

/**
 * Where a followed stream stands: bytes already read, per output file (`__WS__stdout.txt`, or
 * one file per array task). A file absent from the map is read from 0.
 */
export type FollowOffsets = Record<string, number>;

/** Options of a `follow` batch. */
export interface FollowOptions extends OpOptions {
  /**
   * For a backend that cannot read a file from an offset (the web API fetches the whole run
   * folder): the least time between two fetches of one run's folder while it runs (default 30 s).
   */
  folderEveryMs?: number;
}

/** One stream to follow in a `follow` batch. */
export interface FollowRead {
  run: RunRef;
  stream: OutputStream;
  offsets: FollowOffsets;
  /**
   * At most this many new bytes per file in one answer: when more is there, only the last
   * `maxBytes` are read and the skipped count is reported (a 2 GB log keeps memory flat).
   */
  maxBytes?: number;
}

/** The bytes one file gained. */
export interface FollowPart {
  /** The output file's name in the run folder. */
  file: string;
  /** The array task index, for a job array. */
  task?: string;
  /** The offset of the first byte of `data`. */
  from: number;
  data: Buffer;
  /** The file shrank (truncated, rewritten): `data` starts again at 0. */
  restarted?: boolean;
  /** Bytes left unread before `from` (more than `maxBytes` had been appended). */
  skipped?: number;
}

/** The answer for one `FollowRead`, in the order asked. */
export interface FollowAnswer {
  parts: FollowPart[];
  /** The offsets to ask from next time. */
  offsets: FollowOffsets;
  /** No output file exists yet (the job has not started): not an error. */
  missing: boolean;
  /** The run has ended: these were its last bytes. */
  ended: boolean;
  /** The state read in this batch, when the backend read one. */
  state?: StateReport;
  /** A note to show above the output (the web API's refresh rate). */
  note?: string;
  /** This stream could not be read this time (the others were). */
  error?: Error;
}

/** The abilities a backend may lack: each is one of the optional methods of `Backend`. */
export type Ability = 'output' | 'download' | 'cancel' | 'listSoftware' | 'runSync' | 'tail' | 'follow' | 'watchOutput' | 'submitSweep' | 'cancelSweep';

/** True when the backend has the ability (implements its method); narrows the type. */
export function can<A extends Ability>(backend: Backend, ability: A): backend is Backend & Required<Pick<Backend, A>> {
  return typeof backend[ability] === 'function';
}

const BACKEND_NAMES: Record<BackendKind, string> = { ws: 'The Muse web API', ssh: 'Slurm over SSH', local: 'The local runner' };

const WHAT: Record<Ability, string> = {
  output: "show a run's output streams",
  download: 'fetch results by a download key: it keeps no results for later',
  cancel: 'cancel a run: it goes on until it ends',
  listSoftware: 'list its software',
  runSync: 'run a job synchronously',
  tail: "show the end of a running job's output",
  follow: "follow a run's output as it grows",
  watchOutput: 'watch output files for changes',
  submitSweep: 'submit a sweep as one job',
  cancelSweep: 'cancel a sweep at once',
};

/**
 * The one refusal for a missing ability: `The Muse web API (profile "muse") cannot cancel a
 * run: it goes on until it ends.` and, when given, what to do instead.
 */
export function cannot(kind: BackendKind, ability: Ability, opts: { profile?: string; hint?: string } = {}): MuseError {
  const who = `${BACKEND_NAMES[kind]}${opts.profile ? ` (profile "${opts.profile}")` : ''}`;
  return new MuseError('unsupported', `${who} cannot ${WHAT[ability]}.${opts.hint ? ` ${opts.hint}` : ''}`);
}
