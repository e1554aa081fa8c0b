/**
 * Following output through the web API, which has no streaming endpoint: while a run has not
 * ended, its folder (`content`, a zip) is fetched at a slow rate, and only while someone follows
 * it; `__WS__stdout.txt` / `__WS__stderr.txt` are taken from it and read from the offsets like
 * local files. Once the run has ended, the folder is fetched once more: the final output.
 */
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { FollowAnswer, FollowOptions, FollowRead, OutputStream } from '../../backend';
import { errorMessage, throwIfAborted } from '../../errors';
import { isFinal } from '../../model';
import type { StateReport } from '../../model';
import { streamToFile } from '../../transfer/streamToFile';
import { readFollowed } from '../local/followFile';

/** Default least time between two fetches of one run folder. */
export const WS_FOLDER_EVERY_MS = 30_000;

const ENTRY: Record<OutputStream, string> = { stdout: '__WS__stdout.txt', stderr: '__WS__stderr.txt' };

/** What the ws follower needs of the backend. */
export interface WsFollowDeps {
  state(run: FollowRead['run'], opts: FollowOptions): Promise<StateReport>;
  content(run: FollowRead['run'], destFile: string, opts: FollowOptions): Promise<unknown>;
}

interface Fetched {
  /** When the folder was last fetched (ms), and whether the run had ended by then. */
  at: number;
  final: boolean;
  dir: string;
  pending?: Promise<void>;
}

/** Keeps the folders fetched for following, one per run, in a temporary folder of this process. */
export class WsFollow {
  private readonly fetched = new Map<string, Fetched>();
  private readonly root = path.join(os.tmpdir(), `muse-follow-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);

  constructor(private readonly deps: WsFollowDeps) {}

  /** One state request per run, then a folder fetch for the runs due one, then the reads. */
  async follow(reads: FollowRead[], opts: FollowOptions = {}): Promise<FollowAnswer[]> {
    const every = opts.folderEveryMs ?? WS_FOLDER_EVERY_MS;
    const runs = [...new Map(reads.map((r) => [r.run.id, r.run])).values()];
    const states = new Map<string, StateReport | Error>();
    await Promise.all(
      runs.map(async (run) => {
        try {
          const st = await this.deps.state(run, opts);
          states.set(run.id, st);
          await this.refresh(run, isFinal(st.state), every, opts);
        } catch (e) {
          states.set(run.id, e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
    const note = `The web API has no live output: the run folder is fetched every ${Math.round(every / 1000)} s while it runs.`;
    return Promise.all(
      reads.map(async (r): Promise<FollowAnswer> => {
        const st = states.get(r.run.id);
        const f = this.fetched.get(r.run.id);
        if (st instanceof Error || !st) return { parts: [], offsets: r.offsets, missing: false, ended: false, note, error: st };
        if (!f) return { parts: [], offsets: r.offsets, missing: true, ended: false, state: st, note };
        try {
          const got = await readFollowed(path.join(f.dir, ENTRY[r.stream]), ENTRY[r.stream], r.offsets, r.maxBytes);
          // The end is told only once the folder fetched after it has been read.
          return { ...got, ended: f.final, state: st, note };
        } catch (e) {
          return { parts: [], offsets: r.offsets, missing: false, ended: false, state: st, note, error: e instanceof Error ? e : new Error(errorMessage(e)) };
        }
      }),
    );
  }

  /** Fetches the run's folder when due (the first time, `every` ms after the last, once after the end). */
  private async refresh(run: FollowRead['run'], ended: boolean, every: number, opts: FollowOptions): Promise<void> {
    const f = this.fetched.get(run.id);
    if (f?.pending) return f.pending;
    if (f && (f.final || (!ended && Date.now() - f.at < every))) return;
    const dir = path.join(this.root, run.id.replace(/[^A-Za-z0-9-]/g, '_'));
    const entry: Fetched = f ?? { at: 0, final: false, dir };
    const pending = (async () => {
      const zip = path.join(dir, 'content.zip');
      await fsp.mkdir(dir, { recursive: true });
      await this.deps.content(run, zip, { signal: opts.signal });
      throwIfAborted(opts.signal, 'Following the output');
      // Required here: the zip libraries are not loaded by commands that never read a zip.
      const { openZipEntry } = require('../../transfer/zip') as typeof import('../../transfer/zip');
      for (const name of Object.values(ENTRY)) {
        const src = await openZipEntry(zip, name).catch(() => undefined);
        if (src) await streamToFile(src as NodeJS.ReadableStream & import('stream').Readable, path.join(dir, name), { signal: opts.signal, what: name });
      }
      await fsp.rm(zip, { force: true });
      entry.at = Date.now();
      entry.final = ended;
    })();
    entry.pending = pending;
    this.fetched.set(run.id, entry);
    try {
      await pending;
    } finally {
      entry.pending = undefined;
      if (entry.at === 0) this.fetched.delete(run.id);
    }
  }

  /** Removes the fetched folders. */
  async dispose(): Promise<void> {
    this.fetched.clear();
    await fsp.rm(this.root, { recursive: true, force: true }).catch(() => undefined);
  }
}
