/**
 * The poller: one for all profiles, a `setTimeout` chain (never `setInterval`), one batched
 * refresh per profile per cycle. It backs off while nothing changes, polls less while the window
 * is not focused, stops when no run is active, and never polls one profile twice at once.
 * No vscode import: the extension feeds it focus changes and store events.
 */
import type { Run } from './model';
import { isFinal } from './model';

/** The timers the poller uses, injectable so tests drive time by hand. */
export interface PollerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: PollerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending poll must never keep a CLI process alive.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PollerOptions {
  /** The runs to follow right now (typically the store's list); the poller keeps the active ones. */
  runs: () => Run[];
  /**
   * Refreshes the active runs of one profile with one batched backend call and returns them as
   * they are afterwards (the extension wires `refreshRuns` from `runs.ts` here).
   */
  refresh: (profile: string, runs: Run[], signal: AbortSignal) => Promise<Run[]>;
  /** First interval, and the interval after any change (default 5 s). */
  baseIntervalMs?: number;
  /** Longest interval while nothing changes (default 60 s). */
  maxIntervalMs?: number;
  /** Growth of the interval per unchanged poll (default 1.5). */
  backoffFactor?: number;
  /** Intervals are multiplied by this while the window is not focused (default 3). */
  unfocusedFactor?: number;
  clock?: PollerClock;
  /** Told of a failed refresh; the profile backs off, the others go on. */
  onError?: (profile: string, error: unknown, consecutiveErrors: number) => void;
  /** Told after each poll of a profile (tests, logs). */
  onPolled?: (profile: string, changed: boolean, nextIntervalMs: number) => void;
}

/** What the poller keeps per profile. */
interface ProfileState {
  /** Current interval (before the unfocused factor). */
  intervalMs: number;
  /** When the profile is next due (before the unfocused factor is applied). */
  lastPollAt?: number;
  /** Explicit due time (new run, manual refresh), wins over lastPollAt + interval when earlier. */
  dueAt?: number;
  inFlight?: AbortController;
  /** Settles when the poll in flight ends (whatever its outcome). */
  settled?: Promise<void>;
  errors: number;
  /** Polls in a row that changed nothing. */
  quiet: number;
  /** Active run ids seen at the last schedule, to notice new runs. */
  ids: Set<string>;
}

/** A run the poller should ask about: it has a key and has not ended. */
export function isPollable(run: Run): boolean {
  return run.key !== undefined && run.key !== '' && !isFinal(run.state);
}

/** Groups the pollable runs by profile name. */
export function activeByProfile(runs: Run[]): Map<string, Run[]> {
  const out = new Map<string, Run[]>();
  for (const r of runs) {
    if (!isPollable(r)) continue;
    const list = out.get(r.profile);
    if (list) list.push(r);
    else out.set(r.profile, [r]);
  }
  return out;
}

/** What a user would notice changing: the state and the Slurm facts shown in the tree. */
function signature(runs: Run[]): string {
  return runs
    .map((r) => `${r.id}:${r.state}:${r.raw.slurmState ?? ''}:${r.raw.jobId ?? ''}:${r.raw.node ?? ''}`)
    .sort()
    .join('|');
}

export class Poller {
  private readonly opts: Required<Omit<PollerOptions, 'onError' | 'onPolled'>> & Pick<PollerOptions, 'onError' | 'onPolled'>;
  private readonly profiles = new Map<string, ProfileState>();
  private timer: unknown;
  private timerAt: number | undefined;
  private focused = true;
  private disposed = false;
  /** False while another window polls for this user (see pollLease.ts): no timer runs. */
  private enabled = true;

  constructor(options: PollerOptions) {
    this.opts = {
      baseIntervalMs: 5_000,
      maxIntervalMs: 60_000,
      backoffFactor: 1.5,
      unfocusedFactor: 3,
      clock: systemClock,
      ...options,
    };
  }

  /** True while a timer is pending (some run is active). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** The current interval of a profile, for display and tests. */
  intervalOf(profile: string): number | undefined {
    return this.profiles.get(profile)?.intervalMs;
  }

  /** Consecutive failed polls of a profile. */
  errorsOf(profile: string): number {
    return this.profiles.get(profile)?.errors ?? 0;
  }

  /**
   * Re-reads the runs and reschedules: call it when the store changed (a new run, a run that
   * ended, another process's write). New runs reset their profile's backoff.
   */
  wake(): void {
    if (this.disposed) return;
    const now = this.opts.clock.now();
    const active = activeByProfile(this.opts.runs());
    for (const [name, st] of this.profiles) {
      if (!active.has(name) && !st.inFlight) this.profiles.delete(name);
    }
    for (const [name, runs] of active) {
      let st = this.profiles.get(name);
      if (!st) {
        // First sight (activation, or the first run of the profile): ask at once.
        st = { intervalMs: this.opts.baseIntervalMs, errors: 0, quiet: 0, ids: new Set(), dueAt: now };
        this.profiles.set(name, st);
      }
      const isNew = runs.some((r) => !st!.ids.has(r.id));
      if (isNew && st.ids.size > 0) {
        st.intervalMs = this.opts.baseIntervalMs;
        st.quiet = 0; // due at most one base interval after the last poll
      }
      st.ids = new Set(runs.map((r) => r.id));
    }
    this.schedule();
  }

  /** Changes the base interval (the `muse.pollInterval` setting); the cap is at least the base. */
  setBaseInterval(ms: number): void {
    this.opts.baseIntervalMs = Math.max(1, ms);
    this.opts.maxIntervalMs = Math.max(this.opts.maxIntervalMs, this.opts.baseIntervalMs);
    for (const st of this.profiles.values()) {
      st.intervalMs = this.opts.baseIntervalMs;
      st.quiet = 0;
    }
    this.schedule();
  }

  /**
   * Lets the timer run (this window holds the poll lease) or stops it (another window polls and
   * the store brings its results). A user's `refreshNow` polls either way.
   */
  setEnabled(enabled: boolean): void {
    if (this.enabled === enabled) return;
    this.enabled = enabled;
    if (enabled) this.wake();
    else this.clearTimer();
  }

  /** Tells the poller whether the window is focused; polls at once when a poll is overdue. */
  setFocused(focused: boolean): void {
    if (this.focused === focused) return;
    this.focused = focused;
    this.schedule();
  }

  /**
   * Polls every profile with active runs now (a user's "Refresh", "Sign In"), resetting the
   * backoff. Resolves when those polls are done. A profile being polled already is polled again
   * once that poll ends, never twice at once: the poll in flight may be a background one that
   * could not ask for a sign-in, and this one is the user's.
   */
  async refreshNow(): Promise<void> {
    if (this.disposed) return;
    const active = activeByProfile(this.opts.runs());
    const polls: Promise<void>[] = [];
    for (const [name, runs] of active) {
      let st = this.profiles.get(name);
      if (!st) {
        st = { intervalMs: this.opts.baseIntervalMs, errors: 0, quiet: 0, ids: new Set(runs.map((r) => r.id)) };
        this.profiles.set(name, st);
      }
      st.intervalMs = this.opts.baseIntervalMs;
      st.quiet = 0;
      if (!st.inFlight) polls.push(this.pollProfile(name, runs));
      else {
        polls.push(
          (st.settled ?? Promise.resolve()).then(() => {
            const still = activeByProfile(this.opts.runs()).get(name);
            return still && !this.disposed ? this.pollProfile(name, still) : undefined;
          }),
        );
      }
    }
    await Promise.all(polls);
  }

  /** Stops the timer and aborts polls in flight. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    for (const st of this.profiles.values()) st.inFlight?.abort();
    this.profiles.clear();
  }

  private dueTime(st: ProfileState): number {
    const factor = this.focused ? 1 : this.opts.unfocusedFactor;
    const fromLast = st.lastPollAt === undefined ? -Infinity : st.lastPollAt + st.intervalMs * factor;
    const due = Math.min(st.dueAt ?? Infinity, fromLast);
    return due === -Infinity ? this.opts.clock.now() : due;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  /** Arms one timer for the earliest due profile (none when nothing is active). */
  private schedule(): void {
    if (this.disposed) return;
    if (!this.enabled) {
      this.clearTimer();
      return;
    }
    let earliest = Infinity;
    for (const st of this.profiles.values()) {
      if (st.inFlight) continue; // rescheduled when the poll ends
      earliest = Math.min(earliest, this.dueTime(st));
    }
    if (earliest === Infinity) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined && this.timerAt === earliest) return;
    this.clearTimer();
    const delay = Math.max(0, earliest - this.opts.clock.now());
    this.timerAt = earliest;
    this.timer = this.opts.clock.setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    if (this.disposed) return;
    const now = this.opts.clock.now();
    const active = activeByProfile(this.opts.runs());
    for (const [name, st] of this.profiles) {
      if (st.inFlight || this.dueTime(st) > now) continue;
      const runs = active.get(name);
      if (!runs) {
        this.profiles.delete(name);
        continue;
      }
      void this.pollProfile(name, runs);
    }
    this.schedule();
  }

  private async pollProfile(name: string, runs: Run[]): Promise<void> {
    const st = this.profiles.get(name);
    if (!st || st.inFlight) return;
    const ctl = new AbortController();
    st.inFlight = ctl;
    let settle = (): void => undefined;
    st.settled = new Promise<void>((resolve) => (settle = resolve));
    st.dueAt = undefined;
    const before = signature(runs);
    let changed = false;
    try {
      const after = await this.opts.refresh(name, runs, ctl.signal);
      changed = signature(after) !== before;
      st.errors = 0;
      st.quiet = changed ? 0 : st.quiet + 1;
      // The first quiet gap is the base one; each further quiet poll stretches it.
      st.intervalMs = Math.min(
        this.opts.baseIntervalMs * this.opts.backoffFactor ** Math.max(0, st.quiet - 1),
        this.opts.maxIntervalMs,
      );
    } catch (e) {
      if (ctl.signal.aborted || this.disposed) return;
      st.errors++;
      // Errors back off faster than quiet polls: a down server is not hammered.
      st.intervalMs = Math.min(Math.max(st.intervalMs, this.opts.baseIntervalMs) * 2, this.opts.maxIntervalMs);
      this.opts.onError?.(name, e, st.errors);
    } finally {
      if (st.inFlight === ctl) st.inFlight = undefined;
      st.lastPollAt = this.opts.clock.now();
      settle();
    }
    if (this.disposed) return;
    this.opts.onPolled?.(name, changed, st.intervalMs);
    // The store event of the refresh also wakes us; this covers refreshes that changed nothing.
    this.wake();
  }
}
