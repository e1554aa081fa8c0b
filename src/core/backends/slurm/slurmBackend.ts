/**
 * The Slurm backend: runs go straight to the cluster over SSH. A run is a folder
 * `<remoteRoot>/<key>` holding the inputs, a batch script and the job's output; Slurm is asked
 * with sbatch / sacct (squeue when accounting is off) / scancel, files move by SFTP.
 */
import { randomUUID } from 'crypto';
import { createWriteStream, promises as fs } from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import type { SFTPWrapper, Stats } from 'ssh2';
import { ZipFile } from 'yazl';
import type { Backend, OpOptions, OutputStream, RunRef, SubmitResult } from '../../backend';
import { MuseError, cancelledError, errorMessage, throwIfAborted } from '../../errors';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../../model';
import { isFinal, normalizeRequest } from '../../model';
import type { SshProfile } from '../../profiles';
import { streamToFile } from '../../transfer/httpFile';
import { BATCH_FILE, STDERR_FILE, STDOUT_FILE, buildBatchScript, isArrayJob, normalizeSbatchOption } from './batchScript';
import type { SshPrompts } from '../../sshPrompts';
import { FIELD_DELIMITER, SACCT_FIELDS, SQUEUE_FORMAT, coveredTasks, groupByJob, mapSlurmState, parseArraySpec, parseSacct, parseSqueue, realJobName, stateFromRows } from './slurmParse';
import type { SlurmRow } from './slurmParse';
import { SshConnection, isConnectionLoss } from './sshConnection';
import type { SshConnectionOptions } from './sshConnection';
import { resolveTarget, targetKey } from './sshTarget';
import type { ResolveOptions } from './sshTarget';

export interface SlurmBackendOptions {
  connection?: SshConnectionOptions;
  resolve?: ResolveOptions;
  /** Files uploaded at once (default 8). */
  uploadConcurrency?: number;
}

/** Folder of staged inputs while zips are unzipped in order. */
const STAGING = '.muse-inputs';
const SUBMIT_LOCK = '.muse-sbatch';
const JOBID_FILE = '.muse-jobid';
/** The backend's own files in a run folder, left out of its content zip (the batch script stays: users read it). */
const BOOKKEEPING = new Set([SUBMIT_LOCK, JOBID_FILE]);

/** Connections shared by every backend of the same target, with how many backends use each. */
const pool = new Map<string, { conn: SshConnection; users: number }>();
const promptIds = new WeakMap<SshPrompts, number>();
let nextPromptId = 1;
function promptsId(p: SshPrompts): number {
  let id = promptIds.get(p);
  if (id === undefined) promptIds.set(p, (id = nextPromptId++));
  return id;
}

/**
 * Checks the name a file gets in the run folder: a relative path with `/`, no `.`/`..`
 * segments, no control characters (they would break the remote shell lines and the listings),
 * not one of the names the backend writes itself.
 */
export function checkRunFileName(name: string): string {
  const bad = (why: string): never => {
    // The user's own input: a usage error (exit 2), not a safety refusal.
    throw new MuseError('usage', `The file name ${JSON.stringify(name)} is refused: ${why}.`);
  };
  if (typeof name !== 'string' || name === '') bad('it is empty');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) bad('it contains a line break or a control character');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('it is an absolute path');
  if (name.includes('\\')) bad('it contains a backslash (use / between folders)');
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad('it has an empty, "." or ".." segment');
  if (/^(__WS__|__MUSE__|\.muse-)/.test(parts[0])) bad('names starting with __WS__, __MUSE__ or .muse- are kept for the run\'s own files');
  if (Buffer.byteLength(name) > 1024) bad('it is too long');
  return name;
}

function isZipName(name: string): boolean {
  return /\.zip$/i.test(name);
}

/** The task ids a run asked for with `--array`, when its spec can be read. */
function arrayTasksOf(run: RunRef): number[] | undefined {
  for (const o of run.request?.sbatchList ?? []) {
    let opt: string;
    try {
      opt = normalizeSbatchOption(o);
    } catch {
      continue;
    }
    const m = /^(?:--array[= ]|-a ?)(.+)$/.exec(opt);
    if (m) return parseArraySpec(m[1]);
  }
  return undefined;
}

/** The job name submit gave the run's job (`muse-<software>-<key>`), when the run shows it. */
function submittedJobName(run: RunRef): string | undefined {
  if (run.key && /^[A-Za-z0-9-]+$/.test(run.key) && /^[A-Za-z0-9._+-]+$/.test(run.software ?? '')) return `muse-${run.software}-${run.key}`;
  return realJobName(run.raw?.jobName);
}

/** `123` from `sbatch --parsable` output `123` or `123;cluster`. */
export function parseSbatchOutput(out: string): string | undefined {
  const line = out.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
  const id = line.split(';')[0];
  return /^\d+$/.test(id) ? id : undefined;
}

/** An SFTP failure as a MuseError: missing file, dropped session, or the server's refusal. */
function sftpError(err: Error, what: string): MuseError {
  const code = (err as { code?: number }).code;
  // SFTP status 2 = no such file.
  if (code === 2) return new MuseError('notFound', `${what}: no such file on the cluster.`, { cause: err });
  return new MuseError(/No response|not connected|closed/i.test(err.message) ? 'network' : 'server', `${what}: ${err.message}`, { cause: err });
}

function sftpCall<T>(fn: (cb: (err: Error | undefined | null, v: T) => void) => void, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, v) => {
      if (!err) return resolve(v);
      reject(sftpError(err, what));
    });
  });
}

/** Runs tasks with at most `limit` at once; the first failure stops new starts and is thrown. */
async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/** Errors meaning "sbatch ran and refused: no job exists", so the run folder can go. */
const notSubmitted = new WeakSet<Error>();

/**
 * sbatch's own refusal, its message as it wrote it (less the "Try sbatch --help" line: the user did
 * not type sbatch). An option sbatch cannot parse can only be one of the user's `sbatch_list`
 * items (ours are fixed): a usage error; anything else (partition, limits, controller) is the
 * cluster's answer.
 */
export function sbatchRefusal(stderr: string): MuseError {
  const text = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Try "?sbatch --help/.test(l))
    .join('\n');
  const optionError = /^sbatch: (unrecognized option|invalid option|option .* requires an argument|option .* doesn't allow an argument|option .* is ambiguous)/m.test(text);
  const e = new MuseError(optionError ? 'usage' : 'server', `sbatch refused the job: ${text || 'no message'}`);
  notSubmitted.add(e);
  return e;
}

/**
 * Submits the batch script at most once. The remote side takes a lock (mkdir is atomic) before
 * sbatch and records the job id; after a dropped connection the same guarded command is run
 * again, and it only reads the recorded id. If the lock exists without an id (the connection
 * died while sbatch ran), the job is looked for by its unique name; it is never submitted twice.
 */
export async function sbatchOnce(conn: SshConnection, runDir: string, jobName: string): Promise<string> {
  const guard =
    'cd -- "$1" || exit 98; ' +
    `if mkdir ${SUBMIT_LOCK} 2>/dev/null; then id=$(sbatch --parsable "$2") || exit 96; printf '%s\\n' "$id" > ${JOBID_FILE}; printf '%s\\n' "$id"; ` +
    `else cat ${JOBID_FILE} 2>/dev/null || exit 99; fi`;
  const args = ['sh', '-c', guard, 'sh', runDir, BATCH_FILE];
  let r;
  try {
    r = await conn.exec(args);
  } catch (e) {
    if (!isConnectionLoss(e)) throw e;
    r = await conn.exec(args); // guarded: reads the id if sbatch ran
  }
  if (r.code === 0) {
    const id = parseSbatchOutput(r.stdout.toString());
    if (id) return id;
    throw new MuseError('malformed', `sbatch answered something that is not a job id: ${JSON.stringify(r.stdout.toString().slice(0, 200))}`);
  }
  if (r.code === 96) throw sbatchRefusal(r.stderr.toString());
  if (r.code === 99) {
    const found = await findJobByName(conn, jobName);
    if (found) {
      await conn.exec(['sh', '-c', `printf '%s\\n' "$2" > "$1/${JOBID_FILE}"`, 'sh', runDir, found]).catch(() => undefined);
      return found;
    }
    throw new MuseError(
      'network',
      `The connection dropped while sbatch was running for ${runDir}, and no job named ${jobName} can be found. ` +
        'It was not submitted again, so that it cannot run twice: check with squeue, and submit again if needed.',
    );
  }
  throw new MuseError('server', `Cannot submit in ${runDir}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
}

async function findJobByName(conn: SshConnection, jobName: string): Promise<string | undefined> {
  const q = await conn.exec(['squeue', '-h', '-t', 'all', '-n', jobName, '-o', '%A']);
  const fromQueue = q.stdout.toString().split('\n').map((l) => l.trim()).find((l) => /^\d+$/.test(l));
  if (fromQueue) return fromQueue;
  const a = await conn.exec(['sacct', '-X', '-n', '-P', '-S', 'now-7days', '--name', jobName, '--format=JobID']);
  return a.stdout.toString().split('\n').map((l) => l.trim().split('_')[0]).find((l) => /^\d+$/.test(l));
}

/**
 * The remote `files`, one after the other, as one stream. Destroying it destroys the file being
 * read (its handle is closed); a failed read destroys it with an SFTP error naming the file.
 * Every read stream keeps an error listener: a handle close failing later (the connection gone)
 * must not crash the process.
 */
function sftpConcat(s: SFTPWrapper, files: string[]): Readable {
  const out = new PassThrough();
  let current: Readable | undefined;
  let i = 0;
  const next = (): void => {
    if (out.destroyed) return;
    if (i >= files.length) {
      out.end();
      return;
    }
    const file = files[i++];
    const rs = s.createReadStream(file);
    current = rs;
    rs.on('error', (e: Error) => out.destroy(sftpError(e, `Reading ${path.posix.basename(file)}`)));
    rs.once('end', next);
    rs.pipe(out, { end: false });
  };
  out.once('close', () => {
    if (current && !current.readableEnded) current.destroy();
  });
  next();
  return out;
}

/**
 * Downloads the remote `files`, joined, to `destFile` through `destFile.part` (renamed once
 * complete: a dropped connection, a cancel or a local write failure leaves no partial file and
 * the older `destFile` as it was). Fails with `io` (local file), `network`, `notFound` or
 * `cancelled`. Resolves with the bytes written.
 */
async function downloadToFile(conn: SshConnection, files: string[], destFile: string, opts: OpOptions & { what: string }): Promise<number> {
  // Held, not run inside conn.sftp: that returns at once on a drop or a cancel, while the
  // .part is still being closed and removed (a retry would then race the removal).
  const release = conn.hold();
  try {
    const s = await conn.sftp(async (sftp) => sftp, opts.signal);
    return await streamToFile(sftpConcat(s, files), destFile, { signal: opts.signal, onProgress: opts.onProgress, what: opts.what });
  } finally {
    release();
  }
}

export class SlurmBackend implements Backend {
  readonly kind = 'ssh' as const;

  private connP?: Promise<SshConnection>;
  private poolKey?: string;
  private rootP?: Promise<string>;

  constructor(
    private readonly profile: SshProfile,
    private readonly prompts: SshPrompts,
    private readonly options: SlurmBackendOptions = {},
  ) {}

  /** The shared connection of this profile's target (tests read its counters and events). */
  connection(): Promise<SshConnection> {
    this.connP ??= (async () => {
      const target = await resolveTarget(this.profile, this.options.resolve);
      // Same target and same prompts: one connection (prompts differ: the user's answers would not be theirs).
      const key = `${targetKey(target)}#${promptsId(this.prompts)}`;
      let entry = pool.get(key);
      if (!entry) {
        entry = { conn: new SshConnection(target, this.prompts, this.options.connection), users: 0 };
        pool.set(key, entry);
      }
      entry.users++;
      this.poolKey = key;
      return entry.conn;
    })();
    this.connP.catch(() => {
      this.connP = undefined;
    });
    return this.connP;
  }

  /** Runs an operation that is safe to repeat, once more after a dropped connection. */
  private async retrying<T>(fn: (conn: SshConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const conn = await this.connection();
    try {
      return await fn(conn);
    } catch (e) {
      if (!isConnectionLoss(e) || signal?.aborted) throw e;
      return await fn(conn);
    }
  }

  /** The absolute remote root (`~` expanded on the cluster). */
  private remoteRoot(signal?: AbortSignal): Promise<string> {
    this.rootP ??= this.retrying(async (conn) => {
      const root = (this.profile.remoteRoot ?? '~/muse-runs').trim() || '~/muse-runs';
      if (root.startsWith('/')) return root.replace(/\/+$/, '') || '/';
      const home = await conn.sftp((s) => sftpCall<string>((cb) => s.realpath('.', cb), 'Finding the home folder'), signal);
      const rel = root === '~' ? '' : root.replace(/^~\//, '');
      return path.posix.join(home, rel).replace(/\/+$/, '');
    }, signal);
    this.rootP.catch(() => {
      this.rootP = undefined;
    });
    return this.rootP;
  }

  private async runDir(run: RunRef, signal?: AbortSignal): Promise<string> {
    if (run.location?.startsWith('/')) return run.location;
    if (!run.key || !/^[A-Za-z0-9-]+$/.test(run.key)) throw new MuseError('notFound', `This run has no run folder key on the cluster.`);
    return `${await this.remoteRoot(signal)}/${run.key}`;
  }

  async submit(req: SubmitRequest, opts: OpOptions = {}): Promise<SubmitResult> {
    const { signal, onProgress } = opts;
    throwIfAborted(signal, 'Submit');
    const request = normalizeRequest(req);
    if (!/^[A-Za-z0-9._+-]+$/.test(req.software ?? '')) {
      throw new MuseError('usage', `The software name ${JSON.stringify(req.software)} is not valid (letters, digits, . _ + -).`);
    }
    // Inputs: each name checked; the last file given for a name wins, as "copy (overwrite)" does.
    const byName = new Map<string, string>();
    for (const f of req.files ?? []) byName.set(checkRunFileName(f.name), f.path);
    const order = [...request.filesOrder];
    for (const n of order) {
      if (!byName.has(n)) throw new MuseError('usage', `files_order names "${n}", which is not among the files sent.`);
    }
    for (const n of byName.keys()) if (!order.includes(n)) order.push(n);
    const sizes = new Map<string, number>();
    for (const [name, local] of byName) {
      try {
        const st = await fs.stat(local);
        if (!st.isFile()) throw new Error('not a regular file');
        sizes.set(name, st.size);
      } catch (e) {
        throw new MuseError('io', `Cannot read the input file ${local}: ${errorMessage(e)}.`, { cause: e });
      }
    }
    const hasZip = order.some(isZipName);
    const key = randomUUID();
    const jobName = `muse-${req.software}-${key}`;
    const image = this.profile.images?.[req.software];
    const buildScript = (runDir: string) =>
      buildBatchScript({
        jobName,
        runDir,
        cmd: request.cmd,
        cmdOption: request.cmdOption,
        sbatchList: request.sbatchList,
        moduleList: request.moduleList,
        image,
        noContainer: this.profile.noContainer,
        singularityCommand: this.profile.singularityCommand,
      });
    // Everything the user gave is checked before anything is made on the cluster.
    buildScript('/check');
    if (!this.profile.noContainer && !image) {
      throw new MuseError('usage', `No container image is set for software "${req.software}" in profile "${this.profile.name}": add it to "images", or set "noContainer".`);
    }

    const conn = await this.connection();
    const root = await this.remoteRoot(signal).catch((e: unknown) => {
      // Connecting or logging in failed: no job can have been submitted.
      if (e instanceof MuseError) e.details.notSent = true;
      throw e;
    });
    const runDir = `${root}/${key}`;
    const script = buildScript(runDir);
    const upDir = hasZip ? `${runDir}/${STAGING}` : runDir;
    const dirs = new Set<string>([runDir, upDir]);
    for (const n of byName.keys()) {
      const d = path.posix.dirname(n);
      if (d !== '.') {
        dirs.add(`${upDir}/${d}`);
        if (hasZip) dirs.add(`${runDir}/${d}`);
      }
    }
    onProgress?.({ phase: 'prepare', done: 0 });
    let sbatchStarted = false;
    try {
      // One round trip: the folders, and the check that unzip exists when a zip must be opened.
      const mk = await this.retrying(
        (c) =>
          c.exec(
            ['sh', '-c', 'need=$1; shift; mkdir -p -- "$@" || exit 1; if [ "$need" = 1 ] && ! command -v unzip >/dev/null 2>&1; then exit 97; fi', 'sh', hasZip ? '1' : '0', ...dirs],
            { signal },
          ),
        signal,
      );
      if (mk.code === 97) {
        throw new MuseError('unsupported', `The inputs hold a zip, and \`unzip\` is not installed on ${this.profile.host}: unzip it locally and send the files, or ask the cluster's administrators for unzip.`);
      }
      if (mk.code !== 0) throw new MuseError('server', `Cannot create the run folder ${runDir} on ${this.profile.host}: ${mk.stderr.toString().trim()}`);

      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      const doneBy = new Map<string, number>();
      const report = (file?: string) => onProgress?.({ phase: 'upload', done: [...doneBy.values()].reduce((a, b) => a + b, 0), total, file });
      await conn.sftp((s) => sftpCall<void>((cb) => s.writeFile(`${runDir}/${BATCH_FILE}`, script, { mode: 0o644 }, cb), 'Writing the batch script'), signal);
      await runLimited([...byName.keys()], this.options.uploadConcurrency ?? 8, async (name) => {
        const local = byName.get(name)!;
        const remote = `${upDir}/${name}`;
        const put = (c: SshConnection) =>
          c.sftp(
            (s) =>
              sftpCall<void>(
                (cb) =>
                  s.fastPut(local, remote, {
                    step: (done: number) => {
                      doneBy.set(name, done);
                      report(name);
                    },
                  }, cb),
                `Uploading ${name}`,
              ),
            signal,
          );
        doneBy.set(name, 0);
        // A re-upload overwrites: safe to repeat after a dropped connection.
        await this.retrying(put, signal);
        doneBy.set(name, sizes.get(name)!);
        report(name);
      });
      throwIfAborted(signal, 'Submit');

      if (hasZip) {
        // In files_order: move each staged file in place (overwrite), then unzip it if it is a zip.
        const args: string[] = [];
        for (const n of order) args.push(n, isZipName(n) ? '1' : '0');
        const st = await conn.exec(
          [
            'sh', '-c',
            'cd -- "$1" || exit 98; shift; while [ $# -gt 0 ]; do n=$1; z=$2; shift 2; ' +
              'mv -f -- "' + STAGING + '/$n" "./$n" || exit 1; ' +
              'if [ "$z" = 1 ]; then unzip -o -q "./$n" || { echo "unzip failed for $n" >&2; exit 2; }; fi; done; rm -rf -- "' + STAGING + '"',
            'sh', runDir, ...args,
          ],
          { signal },
        );
        if (st.code !== 0) throw new MuseError('server', `Cannot place the inputs in ${runDir}: ${st.stderr.toString().trim() || `exit ${st.code}`}`);
      }

      throwIfAborted(signal, 'Submit');
      onProgress?.({ phase: 'submit', done: 0 });
      sbatchStarted = true;
      const jobId = await sbatchOnce(conn, runDir, jobName);
      onProgress?.({ phase: 'submit', done: 1, total: 1 });
      return { key, location: runDir, jobId, message: `Submitted as Slurm job ${jobId} in ${runDir} on ${this.profile.host}.` };
    } catch (e) {
      if (!sbatchStarted) {
        // Nothing was submitted: leave no half-made run folder behind (best effort).
        if (e instanceof MuseError) e.details.notSent = true;
        conn.exec(['rm', '-rf', '--', runDir]).catch(() => undefined);
      } else if (e instanceof Error && notSubmitted.has(e)) {
        if (e instanceof MuseError) e.details.notSent = true;
        // sbatch refused: no job will ever use the folder. Awaited: the connection just worked,
        // and a CLI closes it right after the error.
        await conn.exec(['rm', '-rf', '--', runDir]).catch(() => undefined);
      }
      throw e;
    }
  }

  async states(runs: RunRef[], opts: OpOptions = {}): Promise<Map<string, StateReport | Error>> {
    const out = new Map<string, StateReport | Error>();
    const ids = new Map<string, string[]>(); // job id -> run ids
    const expected = new Map<string, number[]>(); // job id -> array task ids asked for
    const names = new Map<string, string>(); // job id -> the name given at submit
    for (const r of runs) {
      const jobId = r.raw?.jobId?.split(';')[0];
      if (!jobId || !/^\d+$/.test(jobId)) {
        out.set(r.id, new MuseError('notFound', 'No Slurm job id is recorded for this run.'));
        continue;
      }
      ids.set(jobId, [...(ids.get(jobId) ?? []), r.id]);
      const tasks = arrayTasksOf(r);
      if (tasks) expected.set(jobId, tasks);
      const name = submittedJobName(r);
      if (name) names.set(jobId, name);
    }
    if (ids.size === 0) return out;
    try {
      const found = await this.retrying((conn) => this.queryJobs(conn, [...ids.keys()], expected, names, opts.signal), opts.signal);
      for (const [jobId, runIds] of ids) {
        const st: StateReport | Error =
          found.get(jobId) ??
          ({ state: 'unknown', raw: { jobId, message: `Slurm does not know job ${jobId} (neither sacct nor squeue lists it).` } } as StateReport);
        for (const id of runIds) out.set(id, st);
      }
    } catch (e) {
      if (opts.signal?.aborted) throw cancelledError('Polling');
      for (const runIds of ids.values()) for (const id of runIds) out.set(id, e instanceof Error ? e : new Error(String(e)));
    }
    return out;
  }

  /**
   * ONE sacct for all the jobs, then squeue only for those sacct does not show (accounting off,
   * its lag behind squeue, array tasks not listed yet).
   */
  private async queryJobs(
    conn: SshConnection,
    jobIds: string[],
    expected: Map<string, number[]>,
    names: Map<string, string>,
    signal?: AbortSignal,
  ): Promise<Map<string, StateReport>> {
    const rowsOf = new Map<string, { rows: SlurmRow[]; source: 'sacct' | 'squeue' }>();
    const sacct = await conn.exec(
      ['sacct', '-X', '-P', '-n', '-j', jobIds.join(','), `--format=${SACCT_FIELDS.join(',')}`, `--delimiter=${FIELD_DELIMITER}`],
      { signal },
    );
    const sacctErr = sacct.stderr.toString().trim();
    if (sacct.code === 0) {
      for (const [id, rows] of groupByJob(parseSacct(sacct.stdout.toString()))) {
        if (jobIds.includes(id)) rowsOf.set(id, { rows, source: 'sacct' });
      }
    }
    const incomplete = (id: string) => {
      const want = expected.get(id);
      const got = rowsOf.get(id);
      if (!got) return true;
      if (!want) return false;
      const covered = coveredTasks(got.rows);
      return want.some((t) => !covered.has(t));
    };
    const missing = jobIds.filter(incomplete);
    if (missing.length > 0) {
      const sq = await conn.exec(['squeue', '-h', '-t', 'all', '-j', missing.join(','), '-o', SQUEUE_FORMAT.join(FIELD_DELIMITER)], { signal });
      if (sq.code !== 0 && sacct.code !== 0 && !/invalid job id/i.test(sq.stderr.toString())) {
        throw new MuseError('server', `Cannot read job states on ${this.profile.host}: sacct: ${sacctErr || `exit ${sacct.code}`}; squeue: ${sq.stderr.toString().trim() || `exit ${sq.code}`}`);
      }
      // With accounting on, an ended job's outcome (its exit code) comes from sacct, which lists
      // it a second or so after squeue does: until then the run is still waiting. Otherwise a run
      // could read ended from squeue, then PENDING from accounting's first, stale row.
      const settle = (rows: SlurmRow[]): SlurmRow[] =>
        sacct.code !== 0 ? rows : rows.map((r) => (isFinal(mapSlurmState(r.state)) ? { ...r, state: 'COMPLETING', rawState: `${r.rawState} (waiting for accounting)` } : r));
      for (const [id, listed] of groupByJob(parseSqueue(sq.stdout.toString()))) {
        if (!missing.includes(id)) continue;
        const rows = settle(listed);
        const have = rowsOf.get(id);
        if (!have) {
          rowsOf.set(id, { rows, source: 'squeue' });
          continue;
        }
        // Array tasks: sacct's rows first, squeue's for the tasks sacct does not list yet.
        const covered = coveredTasks(have.rows);
        have.rows.push(...rows.filter((r) => r.task !== undefined && !(parseArraySpec(r.task) ?? []).some((t) => covered.has(t))));
      }
    }
    const result = new Map<string, StateReport>();
    for (const [id, { rows, source }] of rowsOf) result.set(id, stateFromRows(id, rows, source, expected.get(id), names.get(id)));
    return result;
  }

  async cancel(run: RunRef, opts: OpOptions = {}): Promise<void> {
    const jobId = run.raw?.jobId?.split(';')[0];
    if (!jobId || !/^\d+$/.test(jobId)) throw new MuseError('notFound', 'No Slurm job id is recorded for this run: nothing to cancel.');
    await this.retrying((conn) => conn.execOk(['scancel', jobId], { signal: opts.signal }), opts.signal);
  }

  /** The remote output files of a run: one, or one per array task (in task order). */
  private async outputFiles(run: RunRef, stream: OutputStream, signal?: AbortSignal): Promise<{ dir: string; files: { path: string; size: number }[] }> {
    const dir = await this.runDir(run, signal);
    const single = stream === 'stdout' ? STDOUT_FILE : STDERR_FILE;
    const array = isArrayJob(run.request?.sbatchList ?? []);
    return this.retrying(
      (conn) =>
        conn.sftp(async (s) => {
          if (!array) {
            const st = await sftpCall<Stats>((cb) => s.stat(`${dir}/${single}`, cb), `Reading ${stream}`).catch((e) => {
              if (e instanceof MuseError && e.code === 'notFound') return undefined;
              throw e;
            });
            return { dir, files: st ? [{ path: `${dir}/${single}`, size: st.size }] : [] };
          }
          const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => s.readdir(dir, cb), 'Listing the run folder');
          const re = new RegExp(`^__WS__${stream}_(\\d+)\\.txt$`);
          const files = list
            .map((e) => ({ e, m: re.exec(e.filename) }))
            .filter((x) => x.m && x.e.attrs.isFile())
            .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
            .map((x) => ({ path: `${dir}/${x.e.filename}`, size: x.e.attrs.size }));
          return { dir, files };
        }, signal),
      signal,
    );
  }

  async output(run: RunRef, stream: OutputStream, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const { files } = await this.outputFiles(run, stream, opts.signal);
    if (files.length === 0) throw new MuseError('notFound', `The run has no ${stream} yet (the job may still be pending).`);
    const bytes = await this.retrying(
      (conn) => downloadToFile(conn, files.map((f) => f.path), destFile, { ...opts, what: stream === 'stdout' ? 'the standard output' : 'the standard error' }),
      opts.signal,
    );
    return { path: destFile, bytes };
  }

  async tail(run: RunRef, stream: OutputStream, maxBytes: number, opts: OpOptions = {}): Promise<string> {
    const { files } = await this.outputFiles(run, stream, opts.signal);
    if (files.length === 0) return '';
    const parts: Buffer[] = [];
    let want = Math.max(0, Math.floor(maxBytes));
    await this.retrying(
      (conn) =>
        conn.sftp(async (s) => {
          parts.length = 0;
          want = Math.max(0, Math.floor(maxBytes));
          for (let i = files.length - 1; i >= 0 && want > 0; i--) {
            const handle = await sftpCall<Buffer>((cb) => s.open(files[i].path, 'r', cb), `Opening ${stream}`);
            try {
              const st = await sftpCall<Stats>((cb) => s.fstat(handle, cb), `Reading ${stream}`);
              const len = Math.min(want, st.size);
              const buf = Buffer.alloc(len);
              let got = 0;
              while (got < len) {
                const n = await sftpCall<number>((cb) => s.read(handle, buf, got, len - got, st.size - len + got, (err, bytesRead) => cb(err, bytesRead)), `Reading ${stream}`);
                if (n <= 0) break;
                got += n;
              }
              parts.unshift(buf.subarray(0, got));
              want -= got;
            } finally {
              s.close(handle, () => undefined);
            }
          }
        }, opts.signal),
      opts.signal,
    );
    return Buffer.concat(parts).toString('utf8');
  }

  async results(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const st = (await this.states([run], opts)).get(run.id);
    if (st instanceof Error) throw st;
    if (st && st.state === 'waiting') throw new MuseError('notReady', `The job has not ended yet (${st.raw.slurmState ?? 'pending'}): results come once it ends.`);
    const type = run.request?.returnedType ?? 'stdout';
    if (type === 'run.zip') {
      const r = await this.content(run, destFile, opts);
      return { kind: 'file', path: r.path, bytes: r.bytes };
    }
    if (type === 'stdout.txt') {
      const r = await this.output(run, 'stdout', destFile, opts);
      return { kind: 'file', path: r.path, bytes: r.bytes };
    }
    const r = await this.output(run, 'stdout', destFile, opts);
    return { kind: 'stdout', text: await fs.readFile(r.path, 'utf8') };
  }

  async content(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const dir = await this.runDir(run, opts.signal);
    await fs.mkdir(path.dirname(destFile), { recursive: true }).catch((e: unknown) => {
      throw new MuseError('io', `Cannot make the folder of ${destFile}: ${errorMessage(e)}`, { cause: e });
    });
    return this.retrying(async (conn) => {
      const tmp = `${destFile}.part`;
      const out = createWriteStream(tmp);
      let outError: Error | undefined;
      const counting = new PassThrough();
      // Closes the remote zip's channel when the file here fails: left alone, its unread data
      // fills the SSH window and the command never ends. The caller's cancel does the same.
      const stopRemote = new AbortController();
      const onCancel = () => stopRemote.abort();
      opts.signal?.addEventListener('abort', onCancel, { once: true });
      if (opts.signal?.aborted) stopRemote.abort();
      // Listened to from the start: a failed write (disk full) must fail this call, not the process.
      out.on('error', (e) => {
        outError ??= e;
        stopRemote.abort();
        counting.destroy();
      });
      counting.on('error', () => undefined); // its failures are outError's, told below
      let bytes = 0;
      counting.on('data', (c: Buffer) => {
        bytes += c.length;
        opts.onProgress?.({ phase: 'download', done: bytes });
      });
      counting.pipe(out);
      try {
        // zip on the cluster, streamed back. Info-ZIP zip does not flag UTF-8 names, so readers
        // would show non-ASCII names garbled: those folders (95), and clusters without zip (97),
        // are zipped here instead, from files streamed over SFTP.
        const script =
          'cd -- "$1" || exit 98; command -v zip >/dev/null 2>&1 || exit 97; ' +
          "if LC_ALL=C find . -name '*[! -~]*' -print | head -n 1 | grep -q .; then exit 95; fi; " +
          `exec zip -q -r - . -x '${SUBMIT_LOCK}' '${SUBMIT_LOCK}/*' '${JOBID_FILE}'`;
        const r = await conn.exec(['sh', '-c', script, 'sh', dir], {
          signal: stopRemote.signal,
          stdoutTo: counting,
        });
        if (r.code === 97 || r.code === 95) {
          await this.zipLocally(conn, dir, counting, opts);
        } else if (r.code === 98) {
          throw new MuseError('notFound', `The run folder ${dir} is not on the cluster any more.`);
        } else if (r.code !== 0) {
          throw new MuseError('server', `zip failed in ${dir}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
        } else {
          counting.end();
        }
        await new Promise<void>((res, rej) => {
          if (outError) return rej(outError);
          if (out.writableFinished) return res();
          out.once('finish', () => res());
          out.once('error', rej);
        });
        await fs.rename(tmp, destFile);
        return { path: destFile, bytes };
      } catch (e) {
        counting.destroy();
        // Closed before the removal: a file still being opened would come back after it.
        if (!out.closed) await new Promise<void>((res) => out.once('close', () => res()).destroy());
        await fs.rm(tmp, { force: true });
        if (outError) throw new MuseError('io', `Cannot write ${tmp}: ${outError.message}`, { cause: outError });
        throw e;
      } finally {
        opts.signal?.removeEventListener('abort', onCancel);
      }
    }, opts.signal);
  }

  /** The run folder's files streamed over SFTP into a zip made here (yazl), when the cluster has no zip. */
  private async zipLocally(conn: SshConnection, dir: string, dest: PassThrough, opts: OpOptions): Promise<void> {
    return conn.sftp(async (s) => {
      const files: { rel: string; size: number; mtime: number }[] = [];
      const walk = async (rel: string, depth: number): Promise<void> => {
        if (depth > 32) return;
        const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => s.readdir(rel ? `${dir}/${rel}` : dir, cb), 'Listing the run folder');
        for (const e of list) {
          if (!rel && BOOKKEEPING.has(e.filename)) continue;
          const r = rel ? `${rel}/${e.filename}` : e.filename;
          if (e.attrs.isDirectory()) await walk(r, depth + 1);
          else if (e.attrs.isFile()) files.push({ rel: r, size: e.attrs.size, mtime: e.attrs.mtime });
        }
      };
      await walk('', 0);
      const zip = new ZipFile();
      let failure: Error | undefined;
      const fail = (e: Error) => {
        failure ??= e;
        // yazl stalls when a source stops: ending its output fails the pipeline below.
        (zip.outputStream as Readable).destroy(failure);
      };
      zip.on('error', (e: Error) => fail(e));
      const streams: Readable[] = [];
      const settled: Promise<void>[] = [];
      for (const f of files) {
        // No size given: a file that grows meanwhile (a running job's output) is zipped as read.
        zip.addReadStreamLazy(f.rel, { mtime: new Date(f.mtime * 1000) }, (cb) => {
          const rs = s.createReadStream(`${dir}/${f.rel}`);
          streams.push(rs);
          // ssh2's read streams close their remote handle after 'end' and say 'close' once that is
          // answered, or 'error' (an error emitted after destroy is the last word). Every error is
          // listened to: one left alone would crash the process, e.g. when the caller then closes
          // the connection and the pending close fails with "No response from server".
          settled.push(
            new Promise<void>((res) => {
              rs.once('close', () => res());
              rs.on('error', (e: Error) => {
                if (!rs.readableEnded) fail(sftpError(e, `Reading ${f.rel}`));
                if (rs.destroyed) res();
              });
            }),
          );
          cb(null, rs);
        });
      }
      zip.end();
      try {
        await pipeline(zip.outputStream, dest, { signal: opts.signal });
      } catch (e) {
        for (const rs of streams) if (!rs.readableEnded) rs.destroy();
        await Promise.all(settled);
        throw failure ?? e;
      }
      // Resolve only once every remote handle is closed: nothing of this zip is left in flight.
      await Promise.all(settled);
    }, opts.signal);
  }

  async listSoftware(): Promise<SoftwareInfo[]> {
    return Object.entries(this.profile.images ?? {}).map(([name, image]) => ({ name, description: `Singularity image ${image} on ${this.profile.host}` }));
  }

  /** Releases this backend's use of the shared connection (closed when no backend uses it). */
  async dispose(): Promise<void> {
    const key = this.poolKey;
    this.connP = undefined;
    this.poolKey = undefined;
    if (!key) return;
    const entry = pool.get(key);
    if (!entry) return;
    entry.users--;
    if (entry.users <= 0) {
      pool.delete(key);
      entry.conn.close();
    }
  }
}

