/**
 * One poller per user across VS Code windows: the windows share the run store, so only one of
 * them needs to ask the clusters and the web API for states; the others follow the store's
 * changes. The window that polls holds a lease (`poller.lease` beside the run store): it renews
 * it while it lives, a focused window takes it over (its user is the one looking), and a lease
 * whose holder died (its process is gone) or stopped renewing (expired) is taken by the next
 * window that asks. Reads and writes of the lease happen under a lock, so two windows asking at
 * once end with one holder.
 *
 * It also answers "which window announces a run's end": the window that submitted it while it
 * lives, else the lease holder (see `notificationWindow`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from './atomicFile';
import { errorMessage } from './errors';
import { processTag, processTagAlive } from './processAlive';

/** What the lease file says. */
export interface LeaseRecord {
  /** The holder's window id (`windowId()`). */
  owner: string;
  /** Epoch milliseconds after which any window may take the lease. */
  expiresAt: number;
}

/** A window id: this host and the extension host's process, plus a random part (a reused pid is another window). */
export function windowId(): string {
  return `${processTag()}:${Math.random().toString(36).slice(2, 10)}`;
}

export interface PollLeaseOptions {
  /** How long a lease lasts without renewal (default 30 s): renew well within it. */
  ttlMs?: number;
  now?: () => number;
}

/** The lease of one window; `acquire` on a timer and on focus, `release` when the window closes. */
export class PollLease {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private heldUntil = 0;

  /**
   * @param file the lease file (`poller.lease` beside `runs.json`)
   * @param owner this window's id (`windowId()`)
   */
  constructor(
    readonly file: string,
    readonly owner: string,
    opts: PollLeaseOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** True while this window held the lease at its last acquire and it has not expired since. */
  get held(): boolean {
    return this.now() < this.heldUntil;
  }

  /**
   * Takes or renews the lease: it is ours when nobody holds it, when it expired, when its holder
   * is gone, when we held it already, or with `steal` (a focused window). Resolves with whether
   * this window holds it now. Never throws: a lease that cannot be read or written is not held
   * (the caller keeps its previous behaviour).
   */
  async acquire(opts: { steal?: boolean } = {}): Promise<boolean> {
    try {
      const held = await this.locked(async () => {
        const cur = await this.read();
        const now = this.now();
        const free = !cur || cur.owner === this.owner || cur.expiresAt <= now || !processTagAlive(cur.owner);
        if (!free && !opts.steal) return false;
        await writeFileAtomic(this.file, JSON.stringify({ owner: this.owner, expiresAt: now + this.ttlMs } satisfies LeaseRecord) + '\n', { mode: 0o600 });
        return true;
      });
      this.heldUntil = held ? this.now() + this.ttlMs : 0;
      return held;
    } catch {
      this.heldUntil = 0;
      return false;
    }
  }

  /** Gives the lease up (the window closes): the next window that asks takes it at once. */
  async release(): Promise<void> {
    this.heldUntil = 0;
    await this.locked(async () => {
      const cur = await this.read();
      if (cur?.owner === this.owner) await fs.promises.rm(this.file, { force: true });
    }).catch(() => undefined);
  }

  /** The current holder's id, when a live window holds an unexpired lease. */
  async holder(): Promise<string | undefined> {
    const cur = await this.read().catch(() => undefined);
    return cur && cur.expiresAt > this.now() && processTagAlive(cur.owner) ? cur.owner : undefined;
  }

  private async read(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const v = JSON.parse(text) as Partial<LeaseRecord>;
      return typeof v.owner === 'string' && typeof v.expiresAt === 'number' ? { owner: v.owner, expiresAt: v.expiresAt } : undefined;
    } catch {
      return undefined; // a torn or foreign file is no lease: it is replaced
    }
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    // proper-lockfile, required when first used (as the run store does).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { lock } = require('proper-lockfile') as typeof import('proper-lockfile');
    let release: () => Promise<void>;
    try {
      release = await lock(this.file, { realpath: false, stale: 5_000, retries: { retries: 20, minTimeout: 10, maxTimeout: 200, randomize: true } });
    } catch (e) {
      throw new Error(`cannot lock ${this.file}: ${errorMessage(e)}`);
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}

/**
 * Whether this window announces a run's end: the window that submitted it (`notifyIn`) while it
 * lives; else (submitted from the CLI, or its window closed) the lease holder, the window the
 * user last looked at.
 */
export function announcesHere(run: { notifyIn?: string }, me: string, iHoldLease: boolean): boolean {
  if (run.notifyIn && processTagAlive(run.notifyIn)) return run.notifyIn === me;
  return iHoldLease;
}
