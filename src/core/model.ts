/**
 * The run model shared by every backend, the store, the poller, the CLI and the extension.
 * One normalized state, with the raw facts each backend reported kept beside it.
 */

/** What the server returns once a run ends (the ws `returned_type`). */
export type ReturnedType = 'stdout' | 'stdout.txt' | 'run.zip';
export const RETURNED_TYPES: readonly ReturnedType[] = ['stdout', 'stdout.txt', 'run.zip'];

/** Which way a profile reaches a cluster (or this machine). */
export type BackendKind = 'ws' | 'ssh' | 'local';

/**
 * The normalized state of a run.
 * - `submitting`: recorded locally, the backend has not answered with a key yet.
 * - `waiting`: accepted, pending or running.
 * - `ok` / `failed` / `cancelled`: ended.
 * - `unknown`: the backend answered something we could not map, or the run was lost.
 */
export type RunState = 'submitting' | 'waiting' | 'ok' | 'failed' | 'cancelled' | 'unknown';

export const FINAL_STATES: ReadonlySet<RunState> = new Set<RunState>(['ok', 'failed', 'cancelled']);

/** True when the run will not change any more (polling can stop for it). */
export function isFinal(state: RunState): boolean {
  return FINAL_STATES.has(state);
}

/** The raw facts a backend reported, kept so that nothing is lost by normalizing. */
export interface RawFacts {
  /** ws `report.cr`: WAIT, OK, NOK (or anything else the server says). */
  cr?: string;
  /** ws `process.latest_cr`: IN_PROGRESS, ENDED_OK, ENDED_NOK, ... */
  latestCr?: string;
  /** Slurm state as reported (ws `process.latest_state`, sacct `State`). */
  slurmState?: string;
  /** Slurm job id (ws `process.job_id`, `sbatch --parsable`). */
  jobId?: string;
  /** Slurm job name (ws `process.jobname`). */
  jobName?: string;
  /** Process / job exit code, when known. */
  exitCode?: number;
  /** Signal that ended the process (local runner), when known. */
  signal?: string;
  /** Slurm extras: node list, elapsed, pending reason. */
  node?: string;
  elapsed?: string;
  reason?: string;
  /** Free text from the server (`msg`). */
  message?: string;
  /** What the run used against what it asked, once known (Slurm accounting, the local runner). */
  usage?: RunUsage;
  /** Why a waiting run waits, while Slurm says (the pending reason and expected start). */
  wait?: RunWait;
}

/**
 * What a run (or one array task) used against what it asked. Every figure is optional: unknown
 * stays absent, never 0 (a job cancelled before it started used nothing measurable). Times are
 * epoch milliseconds, durations seconds, sizes bytes. JSON-serializable (kept in the run store).
 */
export interface RunUsage {
  /** Where the figures come from. */
  source: 'slurm' | 'local';
  /** The Slurm state word of this job or task (`COMPLETED`, `OUT_OF_MEMORY`, `TIMEOUT`...). */
  state?: string;
  /** True once the job started. */
  started?: boolean;
  allocCpus?: number;
  gpus?: number;
  nodeList?: string;
  elapsedSeconds?: number;
  /** `'unlimited'` for UNLIMITED. */
  timeLimit?: number | 'unlimited';
  /** User + system CPU time. */
  cpuSeconds?: number;
  /** cpuSeconds / (elapsed x allocCpus). */
  cpuEfficiency?: number;
  memoryPeakBytes?: number;
  memoryRequestBytes?: number;
  memoryRequestPer?: 'node' | 'cpu' | 'job';
  submittedAt?: number;
  startedAt?: number;
  endedAt?: number;
  /** Start - submit. */
  waitSeconds?: number;
  /** A job array: each task's figures (`task` is its index). */
  tasks?: Array<RunUsage & { task: string }>;
}

/** Why a waiting run waits (Slurm's pending reason and backfill's expected start). */
export interface RunWait {
  /** `Priority`, `Resources`, `Dependency`, `BeginTime`, `QOSMaxJobsPerUserLimit`... */
  reason?: string;
  /** Epoch milliseconds, when Slurm gives an estimate. */
  expectedStart?: number;
}

/** A state as read from a backend at one moment. */
export interface StateReport {
  state: RunState;
  raw: RawFacts;
  /** The whole answer, for "show the state report" (JSON-serializable). */
  report?: unknown;
  /** When the backend says the run started/ended, ISO strings. */
  startedAt?: string;
  endedAt?: string;
}

/** An input file of a run: where it is here, and the name it gets in the run folder. */
export interface InputFile {
  /** Absolute path on this machine. */
  path: string;
  /** Name in the run folder (a relative path with `/`; the web API gets those with folders in one zip). */
  name: string;
}

/** Everything a user asks for when submitting (the ws run parameters). */
export interface SubmitRequest {
  software: string;
  cmd: string;
  cmdOption?: string;
  files?: InputFile[];
  /** File names in the order they are copied (and unzipped) into the run folder. */
  filesOrder?: string[];
  returnedType?: ReturnedType;
  toDownload?: boolean;
  sbatchList?: string[];
  moduleList?: string[];
}

/** The durable record of one run. */
export interface Run {
  /** Local id, created before submitting (a uuid). */
  id: string;
  /** Name of the profile the run was submitted through. */
  profile: string;
  backend: BackendKind;
  software: string;
  /** The backend's key (ws run key, ssh run folder key, local run key); absent while submitting. */
  key?: string;
  request: {
    cmd: string;
    cmdOption: string;
    files: string[];
    filesOrder: string[];
    returnedType: ReturnedType;
    toDownload: boolean;
    sbatchList: string[];
    moduleList: string[];
  };
  /** A label for humans: the script name, for instance. */
  label?: string;
  state: RunState;
  raw: RawFacts;
  /** Where the backend keeps the run (ws state URL, remote run folder, local run folder). */
  location?: string;
  /** A `download/?key=` key received for this run's results. */
  downloadKey?: string;
  /** Set when the local runner ran the command without a container. */
  noContainer?: boolean;
  createdAt: string;
  updatedAt: string;
  submittedAt?: string;
  endedAt?: string;
  /** Last error met while following the run (network, server), for display. */
  lastError?: string;
  /** The id of the run this one reruns (Rerun, Rerun with Changes). */
  rerunOf?: string;
  /** The VS Code window that submitted the run (`windowId()`): it announces the end. */
  notifyIn?: string;
  /**
   * The process sending the run (`processTag()`, `host:pid`), CLI or window: a `submitting`
   * record whose sender is gone before the cluster answered was abandoned (abandonedSubmits.ts).
   */
  sentBy?: string;
  /** The window that announced the run's end (set once: one notification per run end). */
  notifiedBy?: string;
  /** Set on each task of a sweep (one run record per task, grouped by `sweep.id`). */
  sweep?: SweepTag;
  /**
   * SHA-256 (hex) of each input file as sent, by its name in the run folder: what "Compare"
   * says differs between two runs' files. Absent on runs recorded before it existed.
   */
  fileHashes?: Record<string, string>;
}

/**
 * Which sweep a run belongs to, and which task of it it is. A sweep is not a record of its own:
 * its tasks are runs carrying the same `id`; everything about the sweep is on them.
 */
export interface SweepTag {
  /** The sweep's id (a uuid), shared by all its tasks (and by the reruns of its failed tasks). */
  id: string;
  /** The task's index in the sweep, from 0 (the Slurm array task id over SSH). */
  index: number;
  /** How many tasks the sweep has. */
  count: number;
  /** This task's value of each placeholder, by placeholder name (`{a}` -> `a`). */
  params: Record<string, string>;
  /** The command with its `{name}` placeholders, as the user wrote it. */
  template: string;
  /** A label for the whole sweep (the script name, for instance). */
  label?: string;
  /** At most this many tasks run at once (Slurm's `%T`), when the user asked. */
  throttle?: number;
}

/** What `results` produced. */
export type ResultOutcome =
  | { kind: 'stdout'; text: string }
  | { kind: 'file'; path: string; bytes: number }
  | { kind: 'downloadKey'; key: string; url: string; message?: string };

/** A software the backend can run. */
export interface SoftwareInfo {
  name: string;
  description?: string;
  shortName?: string;
  urls?: Record<string, string>;
  keywords?: string[];
}

/** Fill the defaults of a submit request, as the ws documents them. */
export function normalizeRequest(req: SubmitRequest): Run['request'] {
  const files = (req.files ?? []).map((f) => f.name);
  return {
    cmd: req.cmd ?? '',
    cmdOption: req.cmdOption ?? '',
    files,
    filesOrder: req.filesOrder ?? files,
    returnedType: req.returnedType ?? 'stdout',
    toDownload: req.toDownload ?? false,
    sbatchList: req.sbatchList ?? [],
    moduleList: req.moduleList ?? [],
  };
}
