/**
 * The one interface every backend (ws API, Slurm over SSH, local runner) implements.
 * Optional abilities are declared in `capabilities` and as optional methods, so that callers
 * ask `backend.cancel` rather than `backend.kind === ...`.
 */
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

export interface BackendCapabilities {
  cancel: boolean;
  /** Live tail of a running job's output. */
  tail: boolean;
  /** `listSoftware` is available. */
  softwareList: boolean;
  /** `download(downloadKey)` is available. */
  download: boolean;
  /** `runSync` (ws `software/run/{name}/`) is available. */
  syncRun: boolean;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly capabilities: BackendCapabilities;

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
