/**
 * The Slurm backend: runs go straight to the cluster over SSH. A run is a folder
 * `<remoteRoot>/<key>` holding the inputs, a batch script and the job's output; Slurm is asked
 * with sbatch / sacct (squeue when accounting is off) / scancel, files move by SFTP.
 * This class implements `Backend` by delegating to one file per concern: runInputs.ts (the
 * inputs sent), submitOnce.ts (sbatch at most once), slurmStates.ts, slurmOutput.ts,
 * slurmContent.ts (the run folder as a zip), sftp.ts; its connection comes from the
 * SshConnectionPool it is given.
 */
import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { Backend, FollowAnswer, FollowRead, OpOptions, OutputStream, RunRef, SubmitResult, SweepSubmit } from '../../backend';
import { MuseError, errorMessage, throwIfAborted } from '../../errors';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../../model';
import { isFinal, normalizeRequest } from '../../model';
import type { SshProfile } from '../../profiles';
import { resolveSentScript } from '../../sentScript';
import type { SshPrompts } from '../../sshPrompts';
import { BATCH_FILE, TASKS_FILE, buildBatchScript, isArrayJob } from './batchScript';
import { maxArraySize } from './maxArraySize';
import { arraySpecOf, checkArraySize, splitTaskJobId, taskKey, taskTable } from './slurmSweep';
import { gatherInputs, makeRunFolders, noUnzip, placeStagedInputs, uploadDir, uploadInputs } from './runInputs';
import { isZipName } from './runFileNames';
import { downloadToFile, sftpCall } from './sftp';
import { downloadRunZip } from './slurmContent';
import { followSlurmFiles } from './slurmFollow';
import { listOutputFiles, readTail } from './slurmOutput';
import type { OutputFile } from './slurmOutput';
import { slurmStates } from './slurmStates';
import { SshConnection, isConnectionLoss } from './sshConnection';
import type { SshConnectionOptions } from './sshConnection';
import type { SshConnectionLease, SshConnectionPool } from './sshConnectionPool';
import { isNotSubmitted, sbatchOnce } from './submitOnce';
import { submitByTar } from './tarSubmit';
import { remoteFacts } from './remoteFacts';
import { resolveTarget, targetKey } from './sshTarget';
import type { ResolveOptions } from './sshTarget';

export interface SlurmBackendOptions {
  connection?: SshConnectionOptions;
  resolve?: ResolveOptions;
  /** Files uploaded at once (default 8). */
  uploadConcurrency?: number;
}

export class SlurmBackend implements Backend {
  readonly kind = 'ssh' as const;

  private connP?: Promise<SshConnection>;
  private lease?: SshConnectionLease;
  private rootP?: Promise<string>;

  /**
   * @param pool the process's shared SSH connections: backends of the same target and prompts
   *   use one connection, which `dispose` lets go of.
   */
  constructor(
    private readonly profile: SshProfile,
    private readonly prompts: SshPrompts,
    private readonly pool: SshConnectionPool,
    private readonly options: SlurmBackendOptions = {},
  ) {}

  /** The shared connection of this profile's target (tests read its counters and events). */
  connection(): Promise<SshConnection> {
    this.connP ??= (async () => {
      const target = await resolveTarget(this.profile, this.options.resolve);
      this.lease = this.pool.acquire(targetKey(target), this.prompts, () => new SshConnection(target, this.prompts, this.options.connection));
      return this.lease.connection;
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
      // The probe a submit needs anyway (tar, unzip): one exec, where SFTP's realpath costs a session.
      const { home } = await remoteFacts(conn, signal);
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
    const { key, runDir, jobId } = await this.submitJob(req, opts);
    return { key, location: runDir, jobId, message: `Submitted as Slurm job ${jobId} in ${runDir} on ${this.profile.host}.` };
  }

  /**
   * A sweep as ONE job array: one run folder, the inputs and the task table sent once in the
   * same stream, one sbatch `--array=<indexes>%<throttle>`. Each task is reported with its own
   * key (`<folderKey>_<i>`) and job id (`<arrayId>_<i>`), all sharing the folder. A sweep whose
   * highest index passes the cluster's MaxArraySize is refused before anything is sent.
   */
  async submitSweep(req: SubmitRequest, sweep: SweepSubmit, opts: OpOptions = {}): Promise<void> {
    const indexes = sweep.tasks.map((t) => t.index).sort((a, b) => a - b);
    if (indexes.length === 0) return;
    const { key, runDir, jobId } = await this.submitJob(req, opts, {
      arraySpec: arraySpecOf(indexes, sweep.throttle),
      highest: indexes[indexes.length - 1],
      table: (sent) => taskTable(sweep.tasks, sweep.count, sent),
    });
    const message = `Submitted as task of Slurm job array ${jobId} in ${runDir} on ${this.profile.host}.`;
    for (const i of indexes) sweep.onSubmitted(i, { key: taskKey(key, i), location: runDir, jobId: `${jobId}_${i}`, message });
  }

  /** Submits one job (or one job array, for a sweep): the run folder made, its inputs sent, sbatch once. */
  private async submitJob(
    req: SubmitRequest,
    opts: OpOptions,
    sweep?: { arraySpec: string; highest: number; table: (sent?: { names: string[]; shebang: boolean }) => string },
  ): Promise<{ key: string; runDir: string; jobId: string }> {
    const { signal, onProgress } = opts;
    throwIfAborted(signal, 'Submit');
    const request = normalizeRequest(req);
    if (!/^[A-Za-z0-9._+-]+$/.test(req.software ?? '')) {
      throw new MuseError('usage', `The software name ${JSON.stringify(req.software)} is not valid (letters, digits, . _ + -).`);
    }
    const inputs = await gatherInputs(req, request);
    const key = randomUUID();
    const jobName = `muse-${req.software}-${key}`;
    const image = this.profile.images?.[req.software];
    const sentFiles = [...inputs.files].map(([name, p]) => ({ name, path: p }));
    const sentScript = await resolveSentScript(request.cmd, sentFiles);
    // A sweep's template names the script as its first word: every task runs it the same way.
    const table = sweep?.table(sentScript ? { names: sentFiles.map((f) => f.name), shebang: !sentScript.command.startsWith('sh ') } : undefined);
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
        sentScript,
        sweep: sweep && { arraySpec: sweep.arraySpec },
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
    if (sweep) checkArraySize(sweep.highest, await maxArraySize(conn, signal).catch(() => undefined), this.profile.host);
    const extra = table !== undefined ? [{ name: TASKS_FILE, data: Buffer.from(table, 'utf8') }] : [];
    const runDir = `${root}/${key}`;
    const script = buildScript(runDir);
    const withConnection = <T>(fn: (c: SshConnection) => Promise<T>) => this.retrying(fn, signal);
    onProgress?.({ phase: 'prepare', done: 0 });
    let sbatchStarted = false;
    try {
      const facts = await remoteFacts(conn, signal);
      if (facts.tar) {
        if (inputs.order.some(isZipName) && !facts.unzip) throw new MuseError('unsupported', noUnzip(this.profile.host));
        sbatchStarted = true; // from here the remote command decides: its errors say whether a job can exist
        const jobId = await submitByTar(conn, runDir, inputs, script, jobName, opts, extra);
        onProgress?.({ phase: 'submit', done: 1, total: 1 });
        return { key, runDir, jobId };
      }
      // No tar on the cluster: SFTP, file by file.
      await makeRunFolders(withConnection, runDir, inputs, this.profile.host, signal);
      await conn.sftp((s) => sftpCall<void>((cb) => s.writeFile(`${runDir}/${BATCH_FILE}`, script, { mode: 0o644 }, cb), 'Writing the batch script'), signal);
      for (const x of extra) await conn.sftp((s) => sftpCall<void>((cb) => s.writeFile(`${runDir}/${x.name}`, x.data, { mode: 0o644 }, cb), 'Writing the task table'), signal);
      await uploadInputs(withConnection, inputs, uploadDir(runDir, inputs), this.options.uploadConcurrency ?? 8, opts);
      throwIfAborted(signal, 'Submit');
      if (inputs.order.some(isZipName)) await placeStagedInputs(conn, runDir, inputs, signal);

      throwIfAborted(signal, 'Submit');
      onProgress?.({ phase: 'submit', done: 0 });
      sbatchStarted = true;
      const jobId = await sbatchOnce(conn, runDir, jobName);
      onProgress?.({ phase: 'submit', done: 1, total: 1 });
      return { key, runDir, jobId };
    } catch (e) {
      if (!sbatchStarted) {
        // Nothing was submitted: leave no half-made run folder behind (best effort).
        if (e instanceof MuseError) e.details.notSent = true;
        conn.exec(['rm', '-rf', '--', runDir]).catch(() => undefined);
      } else if (isNotSubmitted(e)) {
        if (e instanceof MuseError) e.details.notSent = true;
        // sbatch refused: no job will ever use the folder. Awaited: the connection just worked,
        // and a CLI closes it right after the error.
        await conn.exec(['rm', '-rf', '--', runDir]).catch(() => undefined);
      }
      throw e;
    }
  }

  /** ONE sacct for all the jobs, then squeue only for those sacct does not show (see slurmStates.ts). */
  states(runs: RunRef[], opts: OpOptions = {}): Promise<Map<string, StateReport | Error>> {
    return slurmStates(runs, this.profile.host, (ask) => this.retrying(ask, opts.signal), opts.signal);
  }

  /** Cancels the run's job, or one task of a sweep's array (`scancel 123_4`). */
  async cancel(run: RunRef, opts: OpOptions = {}): Promise<void> {
    const id = splitTaskJobId(run.raw?.jobId);
    if (!id) throw new MuseError('notFound', 'No Slurm job id is recorded for this run: nothing to cancel.');
    const jobId = id.task !== undefined ? `${id.base}_${id.task}` : id.base;
    await this.retrying((conn) => conn.execOk(['scancel', jobId], { signal: opts.signal }), opts.signal);
  }

  /** ONE scancel of the sweep's array job(s) (a rerun of failed tasks is an array of its own). */
  async cancelSweep(tasks: RunRef[], opts: OpOptions = {}): Promise<void> {
    const bases = [...new Set(tasks.map((t) => splitTaskJobId(t.raw?.jobId)?.base).filter((b): b is string => b !== undefined))];
    if (bases.length === 0) throw new MuseError('notFound', 'No Slurm job id is recorded for this sweep: nothing to cancel.');
    await this.retrying((conn) => conn.execOk(['scancel', ...bases], { signal: opts.signal }), opts.signal);
  }

  /** The remote output files of a run: one, or one per array task (in task order). */
  private async outputFiles(run: RunRef, stream: OutputStream, signal?: AbortSignal): Promise<OutputFile[]> {
    const dir = await this.runDir(run, signal);
    const array = isArrayJob(run.request?.sbatchList ?? []);
    const task = splitTaskJobId(run.raw?.jobId)?.task;
    return this.retrying((conn) => listOutputFiles(conn, dir, stream, array, signal, task), signal);
  }

  async output(run: RunRef, stream: OutputStream, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const files = await this.outputFiles(run, stream, opts.signal);
    if (files.length === 0) throw new MuseError('notFound', `The run has no ${stream} yet (the job may still be pending).`);
    const bytes = await this.retrying(
      (conn) => downloadToFile(conn, files.map((f) => f.path), destFile, { ...opts, what: stream === 'stdout' ? 'the standard output' : 'the standard error' }),
      opts.signal,
    );
    return { path: destFile, bytes };
  }

  async tail(run: RunRef, stream: OutputStream, maxBytes: number, opts: OpOptions = {}): Promise<string> {
    const files = await this.outputFiles(run, stream, opts.signal);
    if (files.length === 0) return '';
    return this.retrying((conn) => readTail(conn, files, maxBytes, stream, opts.signal), opts.signal);
  }

  /** One sacct for the runs, then one SFTP batch for every followed file (slurmFollow.ts). */
  async follow(reads: FollowRead[], opts: OpOptions = {}): Promise<FollowAnswer[]> {
    const unique = [...new Map(reads.map((r) => [r.run.id, r.run])).values()];
    const states = await this.states(unique, opts);
    const dirs = await Promise.all(reads.map((r) => this.runDir(r.run, opts.signal).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
    const items = reads.map((r, i) => ({
      dir: typeof dirs[i] === 'string' ? (dirs[i] as string) : '',
      stream: r.stream,
      array: isArrayJob(r.run.request?.sbatchList ?? []),
      task: splitTaskJobId(r.run.raw?.jobId)?.task,
      offsets: r.offsets,
      maxBytes: r.maxBytes ?? Number.MAX_SAFE_INTEGER,
    }));
    const readable = items.filter((_, i) => typeof dirs[i] === 'string');
    const got = await this.retrying((conn) => followSlurmFiles(conn, readable, opts.signal), opts.signal);
    let k = 0;
    return reads.map((r, i) => {
      const st = states.get(r.run.id);
      const state = st instanceof Error ? undefined : st;
      if (typeof dirs[i] !== 'string') return { parts: [], offsets: r.offsets, missing: false, ended: false, error: dirs[i] as Error };
      const g = got[k++];
      return { ...g, ended: !!state && isFinal(state.state), state, error: g.error ?? (st instanceof Error ? st : undefined) };
    });
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
    // Made before connecting: a folder that cannot be made here fails without a remote round trip.
    await fs.mkdir(path.dirname(destFile), { recursive: true }).catch((e: unknown) => {
      throw new MuseError('io', `Cannot make the folder of ${destFile}: ${errorMessage(e)}`, { cause: e });
    });
    const bytes = await this.retrying((conn) => downloadRunZip(conn, dir, destFile, opts), opts.signal);
    return { path: destFile, bytes };
  }

  async listSoftware(): Promise<SoftwareInfo[]> {
    return Object.entries(this.profile.images ?? {}).map(([name, image]) => ({ name, description: `Singularity image ${image} on ${this.profile.host}` }));
  }

  /** Releases this backend's use of the shared connection (closed when no backend uses it). */
  async dispose(): Promise<void> {
    const lease = this.lease;
    this.connP = undefined;
    this.lease = undefined;
    lease?.release();
  }
}
