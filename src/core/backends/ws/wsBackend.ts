/**
 * The Muse web API behind the `Backend` interface: submit on the cluster, follow the state,
 * fetch results, content and downloads. The API has no cancel endpoint and no live tail.
 */
import * as fs from 'fs';
import type { Readable } from 'stream';
import { mapLimit } from '../../concurrency';
import type { Backend, FollowAnswer, FollowOptions, FollowRead, OpOptions, OutputStream, RunRef, SubmitResult } from '../../backend';
import { MuseError, throwIfAborted } from '../../errors';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../../model';
import { streamToFile } from '../../transfer/streamToFile';
import { WsClient } from './wsClient';
import { WsFollow } from './wsFollow';
import type { WsRunParams } from './wsRequestBody';

/** Options of a `WsBackend`. */
export interface WsBackendOptions {
  /** Base URL of the API (`http://host/api/`). */
  baseUrl: string;
  /** The current token (undefined when not signed in). Asked before each authenticated call. */
  getToken: () => Promise<string | undefined>;
  /** Connect / headers / idle-body timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** How many state requests run at once in `states` (default 4). */
  stateConcurrency?: number;
  /** Attempts and first delay of GET retries (tests make them short). */
  attempts?: number;
  retryDelayMs?: number;
  /** See `WsClientOptions.asyncFileWrites` (the extension sets it). */
  asyncFileWrites?: boolean;
}

/** Names of the output files inside a ws run folder (and so in its content zip). */
const OUTPUT_ENTRIES: Record<OutputStream, string> = { stdout: '__WS__stdout.txt', stderr: '__WS__stderr.txt' };

/** The Muse web API backend. */
export class WsBackend implements Backend {
  readonly kind = 'ws' as const;
  /** The HTTP client (also used for sign-in: `obtainToken`, `verifyToken`). */
  readonly client: WsClient;
  private readonly getToken: () => Promise<string | undefined>;
  private readonly concurrency: number;
  private followP?: WsFollow;

  constructor(opts: WsBackendOptions) {
    this.client = new WsClient({ baseUrl: opts.baseUrl, timeoutMs: opts.timeoutMs, attempts: opts.attempts, retryDelayMs: opts.retryDelayMs, asyncFileWrites: opts.asyncFileWrites });
    this.getToken = opts.getToken;
    this.concurrency = Math.max(1, opts.stateConcurrency ?? 4);
  }

  private async token(): Promise<string> {
    const t = await this.getToken();
    if (!t) throw new MuseError('auth', `Not signed in to the Muse API at ${this.client.baseUrl}: sign in first.`);
    return t;
  }

  async submit(req: SubmitRequest, opts: OpOptions = {}): Promise<SubmitResult> {
    const token = await this.token();
    const a = await this.client.submit(req.software, toParams(req), token, opts);
    return { key: a.key, location: a.stateUrl, message: a.message };
  }

  async states(runs: RunRef[], opts: OpOptions = {}): Promise<Map<string, StateReport | Error>> {
    const out = new Map<string, StateReport | Error>();
    // One request per run (the API has no batch state call), a few at once.
    await mapLimit(runs, this.concurrency, async (run) => {
      if (opts.signal?.aborted) {
        out.set(run.id, new MuseError('cancelled', 'Cancelled.'));
        return;
      }
      try {
        out.set(run.id, await this.client.state(run.software, requireKey(run), opts));
      } catch (e) {
        out.set(run.id, e instanceof Error ? e : new Error(String(e)));
      }
    });
    return out;
  }

  async results(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const out = await this.client.results(run.software, requireKey(run), destFile, opts);
    // The server answers as the run asked; a run.zip that is no zip is not silently kept as one.
    if (out.kind === 'file' && run.request.returnedType === 'run.zip' && !run.request.toDownload && out.bytes > 0) {
      const head = Buffer.alloc(2);
      const fh = await fs.promises.open(out.path, 'r');
      try {
        await fh.read(head, 0, 2, 0);
      } finally {
        await fh.close();
      }
      if (head.toString('latin1') !== 'PK') {
        throw new MuseError('malformed', `The results of run ${run.key} should be a zip (returned_type run.zip) but are not; the bytes received are in ${out.path}.`);
      }
    }
    return out;
  }

  async content(run: RunRef, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    return this.client.content(run.software, requireKey(run), destFile, opts);
  }

  /** Built from the content zip (`__WS__stdout.txt` / `__WS__stderr.txt`). */
  async output(run: RunRef, stream: OutputStream, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const zipFile = `${destFile}.content.zip`;
    try {
      await this.client.content(run.software, requireKey(run), zipFile, {
        signal: opts.signal,
        onProgress: opts.onProgress && ((p) => opts.onProgress?.({ ...p, phase: 'download' })),
      });
      throwIfAborted(opts.signal, `Reading ${stream}`);
      let entry: Readable;
      try {
        // Required here: the zip libraries are not loaded by commands that never read a zip.
        const { openZipEntry } = require('../../transfer/zip') as typeof import('../../transfer/zip');
        entry = (await openZipEntry(zipFile, OUTPUT_ENTRIES[stream])) as Readable;
      } catch (e) {
        if (e instanceof MuseError && e.code === 'notFound') {
          throw new MuseError('notFound', `The run folder of ${run.key} holds no ${stream} (${OUTPUT_ENTRIES[stream]}).`, { cause: e });
        }
        throw e;
      }
      const bytes = await streamToFile(entry, destFile, { signal: opts.signal, what: `${stream} of run ${run.key}`, phase: 'extract' });
      return { path: destFile, bytes };
    } finally {
      await fs.promises.rm(zipFile, { force: true }).catch(() => undefined);
    }
  }

  /** From the run folder fetched at a slow rate while followed (wsFollow.ts): no streaming endpoint. */
  async follow(reads: FollowRead[], opts: FollowOptions = {}): Promise<FollowAnswer[]> {
    this.followP ??= new WsFollow({
      state: (run, o) => this.client.state(run.software, requireKey(run), o),
      content: (run, dest, o) => this.client.content(run.software, requireKey(run), dest, o),
    });
    return this.followP.follow(reads, opts);
  }

  async download(downloadKey: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    return this.client.download(downloadKey, destFile, opts);
  }

  async listSoftware(opts: OpOptions = {}): Promise<SoftwareInfo[]> {
    return this.client.listSoftware(opts);
  }

  async runSync(req: SubmitRequest, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const token = await this.token();
    return this.client.runSync(req.software, toParams(req), token, destFile, opts);
  }

  async dispose(): Promise<void> {
    await this.followP?.dispose();
    await this.client.close();
  }
}

function requireKey(run: RunRef): string {
  if (!run.key) throw new MuseError('notFound', `Run ${run.id} has no key yet (its submission did not complete).`);
  return run.key;
}

function toParams(req: SubmitRequest): WsRunParams {
  return {
    cmd: req.cmd,
    cmdOption: req.cmdOption,
    files: req.files,
    filesOrder: req.filesOrder,
    returnedType: req.returnedType,
    toDownload: req.toDownload,
    sbatchList: req.sbatchList,
    moduleList: req.moduleList,
  };
}
