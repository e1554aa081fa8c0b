/**
 * The one interface every backend (ws API, Slurm over SSH, local runner) implements.
 * What a backend can do beyond the required methods is declared once, by implementing the
 * optional method: callers ask `can(backend, 'cancel')` (never `backend.kind === ...`), and
 * refuse with `cannot(...)`, so that every "cannot" reads the same.
 */
import { MuseError } from './errors';
import type { BackendKind, ResultOutcome, Run, SoftwareInfo, StateReport, SubmitRequest } from './model';

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

  /** The software this backend can run. */
  listSoftware?(opts?: OpOptions): Promise<SoftwareInfo[]>;

  /** Runs synchronously and returns the result (ws `software/run/{name}/`). */
  runSync?(req: SubmitRequest, destFile: string, opts?: OpOptions): Promise<ResultOutcome>;

  /** The last `maxBytes` of a running job's output. */
  tail?(run: RunRef, stream: OutputStream, maxBytes: number, opts?: OpOptions): Promise<string>;

  /** Releases connections and timers. */
  dispose?(): Promise<void> | void;
}

/** The abilities a backend may lack: each is one of the optional methods of `Backend`. */
export type Ability = 'output' | 'download' | 'cancel' | 'listSoftware' | 'runSync' | 'tail';

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
  tail: "follow a running job's output",
};

/**
 * The one refusal for a missing ability: `The Muse web API (profile "muse") cannot cancel a
 * run: it goes on until it ends.` and, when given, what to do instead.
 */
export function cannot(kind: BackendKind, ability: Ability, opts: { profile?: string; hint?: string } = {}): MuseError {
  const who = `${BACKEND_NAMES[kind]}${opts.profile ? ` (profile "${opts.profile}")` : ''}`;
  return new MuseError('unsupported', `${who} cannot ${WHAT[ability]}.${opts.hint ? ` ${opts.hint}` : ''}`);
}
