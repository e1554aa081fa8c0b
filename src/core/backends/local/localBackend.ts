/**
 * The local runner, the embedded default backend: each run is a folder `<root>/<key>` holding
 * the staged input files, the output (`__WS__stdout.txt`, `__WS__stderr.txt`, like the ws
 * server) and small state files, and a detached process that outlives the CLI or VS Code.
 * Any `LocalBackend` on the same root (another process, after a restart) follows the same runs.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { replaceAtomically } from '../../atomicFile';
import { mapLimit } from '../../concurrency';
import type {
  Backend,
  FollowAnswer,
  FollowRead,
  OpOptions,
  OutputStream,
  RunRef,
  SubmitResult,
  SweepSubmit,
} from '../../backend';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../../model';
import { isFinal, normalizeRequest } from '../../model';
import { MuseError, cancelledError, errorMessage } from '../../errors';
import { stageInputs } from '../../transfer/stage';
import { zipDirectory } from '../../transfer/zipFolder';
import { resolveSentScript } from '../../sentScript';
import { tailOfFile } from '../../outputTail';
import { readFollowed } from './followFile';
import { checkLocalRunnerPlatform, commandLine, findContainerRuntime, launchDetached } from './launcher';
import { localSlots, slotWaitLines } from './slots';
import { groupAlive, groupIsOurs, signalGroup } from './procInfo';
import {
  CANCEL_FILE,
  DOWNLOAD_FILE,
  LAUNCH_FILE,
  REQUEST_FILE,
  STDERR_FILE,
  STDOUT_FILE,
  isInternalFile,
  readJson,
  readRunState,
  writeJsonAtomic,
  type CancelRecord,
  type LaunchRecord,
  type RequestRecord,
} from './runFiles';

export interface LocalBackendOptions {
  /** Folder holding the run folders (created when needed). */
  root: string;
  /** Container image per software name (a `.sif` file or a directory image). */
  images?: Record<string, string>;
  /** The singularity/apptainer command; default: `apptainer`, then `singularity`, on PATH. */
  singularityCommand?: string;
  /** How long `cancel` waits after SIGTERM before SIGKILL (default 5 s). */
  cancelGraceMs?: number;
}

const RUN_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DOWNLOAD_KEY = /^\d{8}_\d{6}_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DOWNLOADS_DIR = '.downloads';

/** `YYYYMMDD_HHMMSS` of now, in UTC, as ws download keys start. */
function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Copies a file to `dest` (made atomically through a temporary name), with cancellation. */
async function copyTo(src: string, dest: string, opts: OpOptions, phase: string): Promise<{ path: string; bytes: number }> {
  let bytes = 0;
  await replaceAtomically(dest, async (tmp) => {
    try {
      const input = fs.createReadStream(src);
      input.on('data', (c) => {
        bytes += c.length;
        opts.onProgress?.({ phase, done: bytes });
      });
      await pipeline(input, fs.createWriteStream(tmp), opts.signal ? { signal: opts.signal } : {});
    } catch (e) {
      if (opts.signal?.aborted) throw cancelledError();
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MuseError('notFound', `Not found: ${src}`, { cause: e });
      throw new MuseError('io', `Cannot copy ${src} to ${dest}: ${errorMessage(e)}`, { cause: e });
    }
  });
  return { path: dest, bytes };
}

const stream2file = (stream: OutputStream): string => (stream === 'stdout' ? STDOUT_FILE : STDERR_FILE);

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  private readonly root: string;
  private readonly images: Record<string, string>;
  private readonly singularityCommand?: string;
  private readonly cancelGraceMs: number;

  constructor(opts: LocalBackendOptions) {
    this.root = path.resolve(opts.root);
    this.images = { ...(opts.images ?? {}) };
    this.singularityCommand = opts.singularityCommand;
    this.cancelGraceMs = opts.cancelGraceMs ?? 5000;
  }

  /** The folder of a run with this key, checked so that a bad key cannot point elsewhere. */
  runDir(key: string): string {
    if (!RUN_KEY.test(key)) throw new MuseError('notFound', `"${key}" is not a local run key.`);
    return path.join(this.root, key);
  }

  /** The run folder of `run`, which must exist. */
  private async existingRunDir(run: RunRef): Promise<string> {
    if (!run.key) throw new MuseError('notReady', 'The run has no key yet: it is still being submitted.');
    const dir = this.runDir(run.key);
    const st = await fsp.stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new MuseError('notFound', `No local run ${run.key} in ${this.root} (its folder was removed, or it belongs to another root).`);
    }
    return dir;
  }

  async submit(req: SubmitRequest, opts: OpOptions = {}): Promise<SubmitResult> {
    return this.submitOne(req, opts);
  }

  /**
   * A sweep: one run per task, all started at once, at most `localSlots()` running at once (one
   * per core, or the throttle): each waits for a slot in its own detached shell (slots.ts), so the
   * queue needs no process of ours and survives the window closing.
   */
  async submitSweep(req: SubmitRequest, sweep: SweepSubmit, opts: OpOptions = {}): Promise<void> {
    const slots = { dir: path.join(this.root, `.slots-${sweep.id}`), count: localSlots(sweep.throttle) };
    await fsp.mkdir(slots.dir, { recursive: true });
    for (const t of sweep.tasks) {
      if (opts.signal?.aborted) throw cancelledError('Submit');
      sweep.onSubmitted(t.index, await this.submitOne({ ...req, cmd: t.command }, opts, slots));
    }
  }

  private async submitOne(req: SubmitRequest, opts: OpOptions, slots?: { dir: string; count: number }): Promise<SubmitResult> {
    if (opts.signal?.aborted) throw cancelledError('Submit');
    checkLocalRunnerPlatform();
    if (!req.software?.trim()) throw new MuseError('usage', 'No software given.');
    if (!req.cmd?.trim()) throw new MuseError('usage', 'No command given: the run would do nothing.');
    const request = normalizeRequest(req);
    const notes: string[] = [];

    // Decide how it runs before making anything, so that a configuration error costs nothing.
    let container: { runtime: string; image: string } | undefined;
    const image = this.images[req.software];
    if (image) {
      const imagePath = path.resolve(image);
      if (!fs.existsSync(imagePath)) {
        throw new MuseError('usage', `The image of ${req.software} was not found: ${imagePath} (check the profile's images).`);
      }
      const runtime = await findContainerRuntime(this.singularityCommand);
      if (runtime) container = { runtime, image: imagePath };
      else notes.push(`No apptainer or singularity command found: ${req.software} ran directly, without its image.`);
    } else {
      notes.push(`No container image configured for ${req.software}: the command ran directly on this machine.`);
    }
    if (!container && request.cmdOption) notes.push('cmd_option was ignored (it applies to singularity only).');
    if (request.sbatchList.length || request.moduleList.length) {
      notes.push('sbatch_list and module_list were ignored (no Slurm on the local runner).');
    }

    const key = crypto.randomUUID();
    await fsp.mkdir(this.root, { recursive: true });
    await this.removeStaleStaging();
    // Staged under a hidden name: the key never names a half-made run folder.
    const staging = path.join(this.root, `.staging-${key}`);
    const dir = this.runDir(key);
    await fsp.mkdir(staging);
    try {
      const line = commandLine(request.cmd, container && { ...container, cmdOption: request.cmdOption }, await resolveSentScript(request.cmd, req.files ?? []));
      const record: RequestRecord = { software: req.software, request, commandLine: line, createdAt: new Date().toISOString() };
      if (container) record.container = container;
      await writeJsonAtomic(path.join(staging, REQUEST_FILE), record);
      await stageInputs(req.files ?? [], req.filesOrder, staging, { signal: opts.signal, onProgress: opts.onProgress });
      if (opts.signal?.aborted) throw cancelledError('Submit');
      await fsp.rename(staging, dir);
      try {
        const launch = await launchDetached(dir, slots ? `${slotWaitLines(slots.dir, slots.count)}\n${line}` : line);
        await writeJsonAtomic(path.join(dir, LAUNCH_FILE), launch);
      } catch (e) {
        await fsp.rm(dir, { recursive: true, force: true });
        throw e;
      }
    } catch (e) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw e;
    }
    const result: SubmitResult = { key, location: dir };
    if (!container) result.noContainer = true;
    if (notes.length) result.message = notes.join(' ');
    return result;
  }

  async states(runs: RunRef[], opts: OpOptions = {}): Promise<Map<string, StateReport | Error>> {
    const out = new Map<string, StateReport | Error>();
    await mapLimit(runs, 16, async (run) => {
      if (opts.signal?.aborted) return;
      try {
        const dir = await this.existingRunDir(run);
        out.set(run.id, await readRunState(dir, run.software));
      } catch (e) {
        out.set(run.id, e instanceof Error ? e : new Error(String(e)));
      }
    });
    if (opts.signal?.aborted) throw cancelledError('State check');
    return out;
  }

  /** The state of one run, or its error thrown. */
  private async stateOf(run: RunRef): Promise<{ dir: string; state: StateReport }> {
    const dir = await this.existingRunDir(run);
    return { dir, state: await readRunState(dir, run.software) };
  }

  async results(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const { dir, state } = await this.stateOf(run);
    if (state.state === 'waiting') throw new MuseError('notReady', 'The run has not ended yet: results come once it is done.');
    if (state.state !== 'ok') {
      throw new MuseError(
        'runFailed',
        `The run ended ${state.state === 'cancelled' ? 'cancelled' : 'in failure'}${state.raw.message ? `: ${state.raw.message}` : '.'} Its output and folder can still be opened.`,
      );
    }
    const record = await readJson<RequestRecord>(path.join(dir, REQUEST_FILE));
    const req = record?.request ?? run.request;
    if (req.returnedType === 'stdout') {
      const text = await fsp.readFile(path.join(dir, STDOUT_FILE), 'utf8');
      // The server answers stdout without its final line break ("9.0").
      return { kind: 'stdout', text: text.replace(/\r?\n$/, '') };
    }
    if (req.toDownload) {
      const key = await this.makeDownload(dir, req.returnedType, opts);
      const file = await this.downloadFile(key);
      return {
        kind: 'downloadKey',
        key,
        url: `file://${file}`,
        message: `The ${req.returnedType} of this run is kept for later under the download key ${key}.`,
      };
    }
    const made = await this.produce(dir, req.returnedType, destFile, opts);
    return { kind: 'file', path: made.path, bytes: made.bytes };
  }

  /** Writes the `returnedType` result of a run to `dest`. */
  private async produce(dir: string, type: 'stdout.txt' | 'run.zip', dest: string, opts: OpOptions): Promise<{ path: string; bytes: number }> {
    if (type === 'stdout.txt') return copyTo(path.join(dir, STDOUT_FILE), dest, opts, 'results');
    const { bytes } = await zipDirectory(dir, dest, { ...opts, exclude: (rel) => isInternalFile(rel) });
    return { path: dest, bytes };
  }

  /** Keeps the result under a download key (the same key when asked again). */
  private async makeDownload(dir: string, type: 'stdout.txt' | 'run.zip', opts: OpOptions): Promise<string> {
    const recordFile = path.join(dir, DOWNLOAD_FILE);
    const existing = await readJson<{ key: string }>(recordFile);
    if (existing && DOWNLOAD_KEY.test(existing.key) && (await this.downloadFile(existing.key).catch(() => undefined))) {
      return existing.key;
    }
    const key = `${stamp()}_${crypto.randomUUID()}`;
    const folder = path.join(this.root, DOWNLOADS_DIR, key);
    await fsp.mkdir(folder, { recursive: true });
    try {
      await this.produce(dir, type, path.join(folder, type), opts);
    } catch (e) {
      await fsp.rm(folder, { recursive: true, force: true });
      throw e;
    }
    await writeJsonAtomic(recordFile, { key });
    return key;
  }

  /** The file kept under a download key. */
  private async downloadFile(key: string): Promise<string> {
    if (!DOWNLOAD_KEY.test(key)) throw new MuseError('notFound', `"${key}" is not a download key (YYYYMMDD_HHMMSS_<uuid>).`);
    const folder = path.join(this.root, DOWNLOADS_DIR, key);
    const names = await fsp.readdir(folder).catch(() => [] as string[]);
    const name = names.find((n) => n === 'run.zip' || n === 'stdout.txt');
    if (!name) throw new MuseError('notFound', `Nothing is kept under the download key ${key} (it may have been cleaned up).`);
    return path.join(folder, name);
  }

  async download(downloadKey: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    return copyTo(await this.downloadFile(downloadKey), destFile, opts, 'download');
  }

  async content(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const dir = await this.existingRunDir(run);
    const { bytes } = await zipDirectory(dir, destFile, { ...opts, exclude: (rel) => isInternalFile(rel) });
    return { path: destFile, bytes };
  }

  async output(run: RunRef, stream: OutputStream, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const dir = await this.existingRunDir(run);
    return copyTo(path.join(dir, stream === 'stdout' ? STDOUT_FILE : STDERR_FILE), destFile, opts, 'output');
  }

  async tail(run: RunRef, stream: OutputStream, maxBytes: number, _opts?: OpOptions): Promise<string> {
    const dir = await this.existingRunDir(run);
    const file = path.join(dir, stream === 'stdout' ? STDOUT_FILE : STDERR_FILE);
    try {
      return (await tailOfFile(file, maxBytes)).text;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).syscall === 'open') throw new MuseError('notFound', `No ${stream} for this run yet.`, { cause: e });
      throw e;
    }
  }

  /** The state first (from the run's files), then the bytes each output file gained. */
  async follow(reads: FollowRead[], opts: OpOptions = {}): Promise<FollowAnswer[]> {
    return mapLimit(reads, 8, async (r): Promise<FollowAnswer> => {
      if (opts.signal?.aborted) throw cancelledError('Follow');
      try {
        const { dir, state } = await this.stateOf(r.run);
        const file = stream2file(r.stream);
        const got = await readFollowed(path.join(dir, file), file, r.offsets, r.maxBytes);
        return { ...got, ended: isFinal(state.state), state };
      } catch (e) {
        return { parts: [], offsets: r.offsets, missing: false, ended: false, error: e instanceof Error ? e : new Error(String(e)) };
      }
    });
  }

  /** A watcher on the run folder (output files appear and grow there); a no-op where fs.watch fails. */
  watchOutput(run: RunRef, onChange: () => void): () => void {
    try {
      if (!run.key) return () => undefined;
      const w = fs.watch(this.runDir(run.key), { persistent: false }, () => onChange());
      w.on('error', () => w.close());
      return () => w.close();
    } catch {
      return () => undefined; // no watcher here: the follower's timer alone
    }
  }

  async cancel(run: RunRef, opts: OpOptions = {}): Promise<void> {
    const { dir, state } = await this.stateOf(run);
    if (state.state !== 'waiting') return; // already ended: nothing to stop
    const cancelRecord: CancelRecord = { requestedAt: new Date().toISOString(), by: process.pid };
    await writeJsonAtomic(path.join(dir, CANCEL_FILE), cancelRecord);
    const launch = await readJson<LaunchRecord>(path.join(dir, LAUNCH_FILE));
    if (!launch) return; // not started yet: the marker keeps it from counting as running
    if (!(await groupIsOurs(launch.pgid, launch.procStart))) return;
    signalGroup(launch.pgid, 'SIGTERM');
    const deadline = Date.now() + this.cancelGraceMs;
    while ((await groupAlive(launch.pgid)) && Date.now() < deadline) {
      if (opts.signal?.aborted) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if ((await groupAlive(launch.pgid)) && (await groupIsOurs(launch.pgid, launch.procStart))) signalGroup(launch.pgid, 'SIGKILL');
    // The wrapper records its exit after SIGTERM; after SIGKILL there is no exit record, and the
    // cancel marker says what happened.
  }

  async listSoftware(): Promise<SoftwareInfo[]> {
    return Object.entries(this.images).map(([name, image]) => ({ name, description: `Container image ${image}` }));
  }

  /** Removes staging folders a crashed submit left behind (older than a day: never a live one). */
  private async removeStaleStaging(): Promise<void> {
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    for (const n of names) {
      if (!n.startsWith('.staging-')) continue;
      const p = path.join(this.root, n);
      const st = await fsp.stat(p).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 24 * 3600_000) await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** The runs in this root (keys), for tools that clean up or list. */
  async listKeys(): Promise<string[]> {
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    return names.filter((n) => RUN_KEY.test(n));
  }

  dispose(): void {
    // Nothing held: runs are detached processes and files.
  }
}
