/**
 * The durable list of runs: `runs.json` = `{ "version": 1, "runs": [...] }`, shared by the CLI,
 * every VS Code window and the tests.
 *
 * A key once received is never lost: every mutation is a locked read-merge-write (the CLI and
 * VS Code may write at the same time), every write is atomic and durable (`writeFileAtomic`:
 * temp file in the same folder, fsync, rename, fsync the folder), and a file we cannot read is
 * moved aside, never emptied. Records are kept as they are on disk, unknown fields included (a
 * newer version may add some).
 */
import * as fs from 'fs';
import * as path from 'path';
import { removeDeadTempFiles, writeFileAtomic } from './atomicFile';
import { MuseError, errorMessage, isMuseError } from './errors';
import type { Run } from './model';
import { STORE_VERSION, checkDoc, isRunRecord, type Doc } from './storeDoc';

/** Test seams: called at precise points of a write, to simulate crashes. */
export interface RunStoreHooks {
  /** After the temp file is written and synced, before it replaces the store. */
  beforeRename?: (tempFile: string) => void | Promise<void>;
}

export interface RunStoreOptions {
  /** Lock is taken over when its holder has not refreshed it for this long (ms). */
  staleMs?: number;
  hooks?: RunStoreHooks;
}

function timestampForName(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-');
}

/**
 * proper-lockfile, required on the first write only: what only reads (most CLI commands, the
 * extension until a run changes) never loads it, nor graceful-fs, which patches `fs` when loaded.
 */
function properLockfile(): typeof import('proper-lockfile').lock {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('proper-lockfile') as typeof import('proper-lockfile')).lock;
}

/** The durable run store. See the file comment for its guarantees. */
export class RunStore {
  /** Problems met while reading (a corrupt file set aside, records we cannot show). */
  readonly warnings: string[] = [];

  private runs: Run[] = [];
  private snapshot = '';
  /**
   * The file's identity (inode, size, mtime) when this process last read or wrote it: the watch
   * event of our own write (or a stat poll with nothing new) reads and parses nothing. With
   * thousands of runs a read is tens of milliseconds of the extension host's time.
   */
  private seen?: string;
  private readonly listeners = new Set<(runs: Run[]) => void>();
  /** Mutations of this process run one after the other (the lock is per process anyway). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly staleMs: number;
  private readonly hooks: RunStoreHooks;

  /** @param file path of `runs.json` (see `runStorePath()`). */
  constructor(readonly file: string, opts: RunStoreOptions = {}) {
    this.staleMs = Math.max(opts.staleMs ?? 5000, 2000);
    this.hooks = opts.hooks ?? {};
  }

  /** Reads the file (a missing file is an empty store; a corrupt one is set aside, with a warning). */
  async load(): Promise<void> {
    const id = await this.identity();
    const doc = await this.readDoc({ setAsideCorrupt: false });
    if (!doc.corrupt) this.seen = id;
    if (doc.corrupt) {
      // Set it aside under the lock: another writer may be replacing it right now.
      await this.mutate(() => undefined);
      return;
    }
    this.setRuns(doc, false);
  }

  /** All runs, newest first. */
  list(): Run[] {
    return [...this.runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }

  /** A run by id, backend key, or a unique prefix of either. */
  get(idOrKey: string): Run | undefined {
    const m = this.match(idOrKey);
    return m.length === 1 ? m[0] : undefined;
  }

  /**
   * Like `get`, but throws a `notFound` MuseError (or `usage` when the prefix is ambiguous)
   * with a message fit for the user.
   */
  resolve(idOrKey: string): Run {
    const m = this.match(idOrKey);
    if (m.length === 1) return m[0];
    if (m.length === 0) throw new MuseError('notFound', `No run matches "${idOrKey}" in ${this.file}.`);
    const names = m.slice(0, 5).map((r) => r.key ?? r.id).join(', ');
    throw new MuseError('usage', `"${idOrKey}" matches ${m.length} runs (${names}${m.length > 5 ? ', ...' : ''}): give more characters.`);
  }

  private match(idOrKey: string): Run[] {
    const q = idOrKey.trim();
    if (!q) return [];
    const exact = this.runs.filter((r) => r.id === q || r.key === q);
    if (exact.length > 0) return exact;
    return this.runs.filter((r) => r.id.startsWith(q) || (r.key !== undefined && r.key.startsWith(q)));
  }

  /** Adds (or replaces, same id) a run. Resolves once the record is on disk. */
  async add(run: Run): Promise<void> {
    await this.mutate((recs) => {
      const i = recs.findIndex((r) => isRunRecord(r) && r.id === run.id);
      if (i >= 0) recs[i] = run;
      else recs.push(run);
      return undefined;
    });
  }

  /**
   * Adds (or replaces, same id) many runs in one write (one lock, one rename, one change
   * event), as a sweep's tasks are recorded. Resolves once they are all on disk.
   */
  async addMany(runs: readonly Run[]): Promise<void> {
    if (runs.length === 0) return;
    await this.mutate((recs) => {
      const index = new Map<string, number>();
      recs.forEach((r, i) => {
        if (isRunRecord(r)) index.set(r.id, i);
      });
      for (const run of runs) {
        const i = index.get(run.id);
        if (i !== undefined) recs[i] = run;
        else index.set(run.id, recs.push(run) - 1);
      }
      return undefined;
    });
  }

  /**
   * Applies `patch` to the run as it is on disk now (so concurrent writers of other fields are
   * kept); a field set to `undefined` is removed. `updatedAt` is set. Throws `notFound` if the
   * run is not in the store.
   */
  async update(id: string, patch: Partial<Run>): Promise<Run> {
    return this.mutate((recs) => {
      const i = recs.findIndex((r) => isRunRecord(r) && r.id === id);
      if (i < 0) throw new MuseError('notFound', `Run ${id} is not in the run store (removed meanwhile?).`);
      const next: Record<string, unknown> = { ...(recs[i] as unknown as Record<string, unknown>), ...patch, id };
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
      next.updatedAt = new Date().toISOString();
      recs[i] = next;
      return next as unknown as Run;
    });
  }

  /**
   * Applies many patches in one write (one lock, one rename, one change event), as a poll that
   * changed many runs needs: each patch as `update` applies it, to the run as it is on disk now.
   * Runs no longer in the store are skipped. Resolves with the runs as written, by id.
   */
  async updateMany(patches: ReadonlyArray<{ id: string; patch: Partial<Run> }>): Promise<Map<string, Run>> {
    if (patches.length === 0) return new Map();
    return this.mutate((recs) => {
      const index = new Map<string, number>();
      recs.forEach((r, i) => {
        if (isRunRecord(r)) index.set(r.id, i);
      });
      const now = new Date().toISOString();
      const out = new Map<string, Run>();
      for (const { id, patch } of patches) {
        const i = index.get(id);
        if (i === undefined) continue;
        const next: Record<string, unknown> = { ...(recs[i] as unknown as Record<string, unknown>), ...patch, id };
        for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
        next.updatedAt = now;
        recs[i] = next;
        out.set(id, next as unknown as Run);
      }
      return out;
    });
  }

  /**
   * Sets `notifiedBy` of a run to `who` only if no one set it yet, under the lock: of several
   * windows that see a run end, exactly one gets true. False too when the run is gone.
   */
  async claimNotification(id: string, who: string): Promise<boolean> {
    return this.mutate((recs) => {
      const rec = recs.find((r) => isRunRecord(r) && r.id === id) as (Run & Record<string, unknown>) | undefined;
      if (!rec || rec.notifiedBy !== undefined) return false;
      rec.notifiedBy = who;
      return true;
    });
  }

  /** Removes these runs (ids); unknown ids are ignored. */
  async remove(ids: string[]): Promise<void> {
    const drop = new Set(ids);
    await this.mutate((recs) => {
      for (let i = recs.length - 1; i >= 0; i--) {
        const r = recs[i];
        if (isRunRecord(r) && drop.has(r.id)) recs.splice(i, 1);
      }
      return undefined;
    });
  }

  /** Re-reads the file; true when the runs changed (listeners are told). */
  async reload(): Promise<boolean> {
    // Taken before the read: a change landing in between is read now, and its event reads again.
    const id = await this.identity();
    if (id !== undefined && id === this.seen) return false;
    const doc = await this.readDoc({ setAsideCorrupt: false });
    if (!doc.corrupt) this.seen = id;
    return this.setRuns(doc, true);
  }

  /** Inode, size and modification time of the file, or undefined when it cannot be read. */
  private async identity(): Promise<string | undefined> {
    try {
      const s = await fs.promises.stat(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return undefined;
    }
  }

  /** Follows changes made by other processes (fs.watch on the folder, plus a slow stat poll). */
  watch(): { dispose(): void } {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    let timer: NodeJS.Timeout | undefined;
    let disposed = false;
    const kick = (): void => {
      if (disposed || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        this.reload().catch((e: unknown) => this.warn(`Could not re-read ${this.file}: ${errorMessage(e)}`));
      }, 50);
      timer.unref?.();
    };
    let watcher: fs.FSWatcher | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true });
      // The file is replaced by rename, so watch the folder, not the file's inode.
      watcher = fs.watch(dir, { persistent: false }, (_ev, name) => {
        if (!name || name.toString() === base) kick();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
    // fs.watch misses events on some file systems (network shares): poll as a backstop.
    const onStat = (): void => kick();
    fs.watchFile(this.file, { interval: 2000, persistent: false }, onStat);
    return {
      dispose: () => {
        disposed = true;
        if (timer) clearTimeout(timer);
        watcher?.close();
        fs.unwatchFile(this.file, onStat);
      },
    };
  }

  /** Called with the runs (newest first) each time they change. Returns the unsubscribe function. */
  onDidChange(listener: (runs: Run[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- internals ---------------------------------------------------------------------------

  private warn(msg: string): void {
    if (!this.warnings.includes(msg)) this.warnings.push(msg);
  }

  /** Sets the in-memory runs from a doc; true (and listeners told) when they changed. */
  private setRuns(doc: Doc, notify: boolean): boolean {
    const shown = doc.runs.filter(isRunRecord);
    const hidden = doc.runs.length - shown.length;
    if (hidden > 0) {
      this.warn(`${this.file}: ${hidden} record(s) without an "id" are kept in the file but not shown.`);
    }
    const snap = JSON.stringify(shown);
    if (snap === this.snapshot) return false;
    this.snapshot = snap;
    this.runs = shown;
    if (notify) this.emit();
    return true;
  }

  private emit(): void {
    const runs = this.list();
    for (const l of [...this.listeners]) {
      try {
        l(runs);
      } catch {
        // A listener's failure must not stop the others nor the write that triggered it.
      }
    }
  }

  /**
   * Reads and checks the file. Missing -> empty. Unreadable JSON or a wrong shape -> moved aside
   * (only when `setAsideCorrupt`, that is under the lock or at load), with a warning.
   */
  private async readDoc(o: { setAsideCorrupt: boolean }): Promise<Doc> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: STORE_VERSION, runs: [] };
      throw new MuseError('io', `Cannot read the run store ${this.file}: ${errorMessage(e)}`, { cause: e });
    }
    const problem = checkDoc(text);
    if (typeof problem !== 'string') {
      if (problem.version > STORE_VERSION) {
        this.warn(`${this.file} was written by a newer version (format ${problem.version}); runs are shown but not changed.`);
      }
      return problem;
    }
    if (!o.setAsideCorrupt) {
      // Someone else will set it aside under the lock; keep what we showed.
      return { version: STORE_VERSION, runs: JSON.parse(this.snapshot || '[]') as unknown[], corrupt: problem };
    }
    const aside = `${this.file}.corrupt-${timestampForName()}`;
    try {
      await fs.promises.rename(this.file, aside);
    } catch (e) {
      throw new MuseError('io', `The run store ${this.file} is unreadable (${problem}) and could not be moved aside: ${errorMessage(e)}`, { cause: e });
    }
    this.warn(`The run store ${this.file} was unreadable (${problem}); it was moved to ${aside} and a new, empty store was started. The old runs are in that file.`);
    return { version: STORE_VERSION, runs: [] };
  }

  /** Runs `fn` on the records as they are on disk now, under the lock, then writes them back. */
  private mutate<T>(fn: (recs: unknown[]) => T): Promise<T> {
    const job = this.queue.then(() => this.mutateLocked(fn));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async mutateLocked<T>(fn: (recs: unknown[]) => T): Promise<T> {
    const dir = path.dirname(this.file);
    await fs.promises.mkdir(dir, { recursive: true });
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await properLockfile()(this.file, {
        realpath: false,
        stale: this.staleMs,
        // Enough tries to outlast a stale lock left by a crashed writer.
        retries: { retries: 60, factor: 1.3, minTimeout: 10, maxTimeout: 500, randomize: true },
        onCompromised: (e) => {
          compromised = e;
        },
      });
    } catch (e) {
      throw new MuseError('io', `Could not lock the run store ${this.file} (${errorMessage(e)}). If no other muse process is running, remove ${this.file}.lock.`, { cause: e });
    }
    try {
      await removeDeadTempFiles(this.file);
      const doc = await this.readDoc({ setAsideCorrupt: true });
      if (doc.version > STORE_VERSION) {
        throw new MuseError('io', `The run store ${this.file} was written by a newer version of Muse Runner (format ${doc.version}); update this one to change it.`);
      }
      const out = fn(doc.runs);
      if (compromised) throw new MuseError('io', `Lost the lock on ${this.file} (${compromised.message}); nothing was written, try again.`);
      await this.writeAtomic(JSON.stringify({ version: STORE_VERSION, runs: doc.runs }, null, 1) + '\n');
      // Under the lock: no one else wrote since.
      this.seen = await this.identity();
      this.setRuns(doc, true);
      return out;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Durable (fsync of the file and its folder) and private (0600): the store holds job keys. */
  private async writeAtomic(text: string): Promise<void> {
    try {
      await writeFileAtomic(this.file, text, { mode: 0o600, durable: true, beforeRename: this.hooks.beforeRename });
    } catch (e) {
      const cause = isMuseError(e) && e.details.cause !== undefined ? e.details.cause : e;
      throw new MuseError('io', `Could not write the run store ${this.file}: ${errorMessage(cause)}`, { cause });
    }
  }
}
