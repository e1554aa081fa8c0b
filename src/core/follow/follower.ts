/**
 * The core's follower of run outputs, shared by `muse logs -f` and the extension's Follow
 * Output: it keeps each followed stream's offsets, asks each backend once per cycle for all the
 * streams it follows there (one `follow` batch per profile), turns the bytes into text to append
 * (outputText.ts), and stops following a stream once its run's end has been read. A failed cycle
 * changes no offset: the next one (after a reconnect) resumes where the last good read ended.
 * Each stream has its own pace (`start`): a stream is read when its time has come, and streams
 * nearly due join a cycle that runs anyway, so that streams of one pace stay in one batch. New
 * bytes are made into text a slice at a time, the event loop free between slices.
 */
import type { Backend, FollowAnswer, FollowOffsets, FollowRead, OutputStream } from '../backend';
import { can } from '../backend';
import { errorMessage } from '../errors';
import type { Run, StateReport } from '../model';
import { runRef } from '../runs';
import { DEFAULT_KEEP_BYTES } from './keptText';
import { OutputText, fromCharacterStart } from './outputText';

/** What one cycle brought to one followed stream. */
export interface FollowEvent {
  /** Text to append (may be empty). */
  text: string;
  /** No output file yet (the job has not started). */
  missing: boolean;
  /** The run has ended and its last bytes are in `text`: the stream is no longer followed. */
  ended: boolean;
  state?: StateReport;
  /** A note from the backend (the web API's refresh rate). */
  note?: string;
  /** This cycle could not read the stream; nothing was lost (the next cycle reads from the same offset). */
  error?: Error;
}

/** A followed stream; `dispose` stops following it. */
export interface FollowHandle {
  readonly run: Run;
  readonly stream: OutputStream;
  /** Bytes read so far, per output file. */
  readonly offsets: FollowOffsets;
  dispose(): void;
}

export interface FollowerOptions {
  /** The backend of a run: the same object for every run of one profile (runs are batched by it). */
  backendOf(run: Run): Backend;
  /** At most this many new bytes read per file per cycle: the rest is skipped (default 8 MB). */
  maxBytes?: number;
  /** The least time between two fetches of a run folder on the web API (read at each cycle). */
  folderEveryMs?: () => number | undefined;
}

interface Followed extends FollowHandle {
  unwatch?: () => void;
  /** When it was last read (0: never, or asked to be read now). */
  readAt: number;
  offsets: FollowOffsets;
  texts: Map<string, OutputText>;
  lastTask?: string;
  listener: (e: FollowEvent) => void;
  done: boolean;
}

/** Where the whole output file of a run is, for "the whole file is ..." lines. */
export function wholeFileWhere(run: Run, stream: OutputStream): string {
  // A sweep's task over SSH writes its own file of the shared run folder.
  const name = run.backend === 'ssh' && run.sweep ? `__WS__${stream}_${run.sweep.index}.txt` : stream === 'stdout' ? '__WS__stdout.txt' : '__WS__stderr.txt';
  if (run.backend === 'ws') return `${name} in the run folder on the server (Open Run Folder / muse content)`;
  const where = run.location ? `${run.location.replace(/[\\/]+$/, '')}/${name}` : `${name} in the run folder`;
  return run.backend === 'ssh' ? `${where} on the cluster` : where;
}

/** Bytes made into text in one go: the event loop turns between two slices (about 5 ms each). */
const SLICE_BYTES = 1 << 20;

/** A cycle that runs anyway takes streams due within this part of their wait (at most 500 ms). */
const slackOf = (ms: number): number => Math.min(500, ms / 2);

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Follower {
  private readonly followed = new Set<Followed>();
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private delay?: (h: FollowHandle) => number | undefined;
  private disposed = false;
  /** Cycles run and `follow` batches sent (benches and tests count them). */
  cycles = 0;
  batches = 0;

  constructor(private readonly opts: FollowerOptions) {}

  /** Follows a run's stream; `listener` gets each cycle's text. Throws `unsupported` when the backend cannot follow. */
  add(run: Run, stream: OutputStream, listener: (e: FollowEvent) => void): FollowHandle {
    const f: Followed = {
      run,
      stream,
      readAt: 0,
      offsets: {},
      texts: new Map(),
      listener,
      done: false,
      dispose: () => {
        f.done = true;
        f.unwatch?.();
        this.followed.delete(f);
      },
    };
    this.followed.add(f);
    try {
      const b = this.opts.backendOf(run);
      // A watcher, where the backend has one, wakes the follower early (at most every 100 ms).
      if (can(b, 'watchOutput')) f.unwatch = b.watchOutput(runRef(run), () => this.wake());
    } catch {
      // no backend now: the cycle reports it
    }
    return f;
  }

  /** The number of streams followed. */
  get size(): number {
    return this.followed.size;
  }

  /** Replaces the run record of followed streams (a refreshed state, a new location). */
  updateRun(run: Run): void {
    for (const f of this.followed) if (f.run.id === run.id) (f as { run: Run }).run = run;
  }

  /**
   * Runs cycles on a `setTimeout` chain: `delay(stream)` gives each stream's wait between two
   * reads (asked again at each cycle: visible, hidden, focused), undefined to leave it unread
   * until `poke`. Nothing runs while no stream is due; no timer while none is followed.
   */
  start(delay: (h: FollowHandle) => number | undefined): void {
    this.delay = delay;
    this.schedule();
  }

  /** Runs a cycle soon for the streams whose time has come (a new stream, a pace that changed). */
  poke(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  /** Reads these streams at the next cycle, whatever their pace (their run ended, they are shown again). */
  readSoon(handles: Iterable<FollowHandle>): void {
    let any = false;
    for (const h of handles) {
      if (!this.followed.has(h as Followed)) continue;
      (h as Followed).readAt = 0;
      any = true;
    }
    if (any) this.poke();
  }

  private wakeTimer?: NodeJS.Timeout;

  private wake(): void {
    if (this.wakeTimer || !this.delay) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.poke();
    }, 100);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.disposed || !this.delay) return;
    const now = Date.now();
    let next: number | undefined;
    for (const f of this.followed) {
      const ms = this.delay(f);
      if (ms === undefined) continue;
      const at = Math.max(0, f.readAt + ms - now);
      if (next === undefined || at < next) next = at;
    }
    if (next === undefined) return;
    this.timer = setTimeout(() => void this.tick(), next);
  }

  /** The streams whose time has come, and those due within their slack (they join this batch). */
  private due(): Followed[] {
    if (!this.delay) return [...this.followed];
    const now = Date.now();
    return [...this.followed].filter((f) => {
      const ms = this.delay!(f);
      return ms !== undefined && now >= f.readAt + ms - slackOf(ms);
    });
  }

  private async tick(): Promise<void> {
    if (this.running) await this.running.catch(() => undefined);
    const due = this.due();
    if (due.length > 0) await this.read(due).catch(() => undefined);
    this.schedule();
  }

  /** One cycle of every followed stream: one `follow` batch per backend. */
  cycle(signal?: AbortSignal): Promise<void> {
    return this.read([...this.followed], signal);
  }

  private read(streams: Followed[], signal?: AbortSignal): Promise<void> {
    this.running ??= this.runCycle(streams, signal).finally(() => (this.running = undefined));
    return this.running;
  }

  private async runCycle(streams: Followed[], signal?: AbortSignal): Promise<void> {
    this.cycles++;
    const groups = new Map<Backend, Followed[]>();
    const now = Date.now();
    for (const f of streams) {
      if (f.done) continue;
      f.readAt = now;
      let b: Backend;
      try {
        b = this.opts.backendOf(f.run);
      } catch (e) {
        f.listener({ text: '', missing: false, ended: false, error: e instanceof Error ? e : new Error(String(e)) });
        continue;
      }
      groups.set(b, [...(groups.get(b) ?? []), f]);
    }
    await Promise.all(
      [...groups].map(async ([backend, fs]) => {
        if (!can(backend, 'follow')) {
          const e = new Error(`${backend.kind} cannot follow output.`);
          for (const f of fs) f.listener({ text: '', missing: false, ended: false, error: e });
          return;
        }
        const reads: FollowRead[] = fs.map((f) => ({ run: runRef(f.run), stream: f.stream, offsets: { ...f.offsets }, maxBytes: this.opts.maxBytes ?? DEFAULT_KEEP_BYTES }));
        let answers: FollowAnswer[];
        try {
          this.batches++;
          answers = await backend.follow(reads, { signal, folderEveryMs: this.opts.folderEveryMs?.() });
        } catch (e) {
          const err = e instanceof Error ? e : new Error(errorMessage(e));
          for (const f of fs) if (!f.done) f.listener({ text: '', missing: false, ended: false, error: err });
          return;
        }
        for (let i = 0; i < fs.length; i++) {
          if (i > 0) await turn();
          await this.deliver(fs[i]!, answers[i]!);
        }
      }),
    );
  }

  private async deliver(f: Followed, a: FollowAnswer): Promise<void> {
    if (f.done) return;
    if (a.error) {
      f.listener({ text: '', missing: a.missing, ended: false, state: a.state, note: a.note, error: a.error });
      return;
    }
    let text = '';
    for (const p of a.parts) {
      let t = f.texts.get(p.file);
      if (!t) f.texts.set(p.file, (t = new OutputText()));
      if (p.task !== undefined && p.task !== f.lastTask) {
        text += `${text.endsWith('\n') || text === '' ? '' : '\n'}── array task ${p.task} ──\n`;
        f.lastTask = p.task;
      }
      let data = p.data;
      if (p.restarted || p.skipped) {
        text += t.reset();
        if (p.restarted) text += `[${p.file} was truncated or rewritten: shown again from its start]\n`;
        if (p.skipped) {
          text += `[${p.skipped} bytes not shown: the whole file is ${wholeFileWhere(f.run, f.stream)}]\n`;
          data = fromCharacterStart(data);
        }
      }
      // A big read (a catch-up, a hidden stream's turn) is decoded a slice at a time.
      for (let at = 0; at < data.length; at += SLICE_BYTES) {
        if (at > 0) await turn();
        if (f.done) return;
        text += t.push(at === 0 && data.length <= SLICE_BYTES ? data : data.subarray(at, at + SLICE_BYTES));
      }
    }
    Object.assign(f.offsets, a.offsets);
    if (a.ended) {
      for (const t of f.texts.values()) text += t.end();
      f.dispose();
    }
    f.listener({ text, missing: a.missing, ended: a.ended, state: a.state, note: a.note });
  }

  /** Stops every timer; the streams are no longer followed. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    clearTimeout(this.wakeTimer);
    for (const f of [...this.followed]) f.dispose();
  }
}
