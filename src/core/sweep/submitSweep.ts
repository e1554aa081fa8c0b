/**
 * Submitting a sweep: one run record per task, all recorded in one store write, then the tasks
 * sent (one Slurm array where the backend can, else N submits a few at a time), each key stored
 * the moment it exists (keys that arrive together share one store write).
 */
import { randomUUID } from 'crypto';
import { can } from '../backend';
import type { OpOptions, SubmitResult } from '../backend';
import { MuseError, errorMessage, isMuseError } from '../errors';
import { fileHashesField } from '../fileHashes';
import { normalizeRequest } from '../model';
import type { RawFacts, Run, SubmitRequest, SweepTag } from '../model';
import { processTag } from '../processAlive';
import { isClearRefusal, submitErrorText } from '../runs';
import type { SubmitRunArgs } from '../runs';
import type { RunStore } from '../store';
import { expandSweep } from './sweepSpec';
import type { SweepSpec, SweepTask } from './sweepSpec';

/** Plain submits in flight at once for a backend without sweeps of its own (the web API). */
export const SWEEP_SUBMIT_CONCURRENCY = 4;

export interface SubmitSweepArgs extends Omit<SubmitRunArgs, 'request' | 'onRecorded'> {
  /** The request of every task; its `cmd` is the template (with `{name}` placeholders). */
  request: SubmitRequest;
  spec: SweepSpec;
  /** At most this many tasks running at once. */
  throttle?: number;
  /** Submit only these task indexes (Rerun Failed Tasks). */
  only?: number[];
  /** Reuse this sweep id (the tasks rerun join their sweep). */
  sweepId?: string;
  /** A label for the sweep (and each task). */
  label?: string;
  /** Called once the `submitting` records are on disk, before anything is sent. */
  onRecorded?: (runs: Run[]) => void;
}

/** The tasks `only` selects, checked against the sweep. */
function selectTasks(all: SweepTask[], only: number[] | undefined): SweepTask[] {
  if (!only) return all;
  const want = new Set(only);
  const bad = [...want].filter((i) => !Number.isInteger(i) || i < 0 || i >= all.length);
  if (bad.length > 0) throw new MuseError('usage', `The sweep has tasks 0 to ${all.length - 1}: there is no task ${bad.join(', ')}.`);
  const tasks = all.filter((t) => want.has(t.index));
  if (tasks.length === 0) throw new MuseError('usage', 'No task to submit.');
  return tasks;
}

/** The patch that records a task's key. */
function keyPatch(run: Run, result: SubmitResult): Partial<Run> {
  const raw: RawFacts = { ...run.raw };
  if (result.jobId !== undefined) raw.jobId = result.jobId;
  if (result.message !== undefined) raw.message = result.message;
  const patch: Partial<Run> = { key: result.key, state: 'waiting', raw, submittedAt: new Date().toISOString() };
  if (result.location !== undefined) patch.location = result.location;
  if (result.noContainer) patch.noContainer = true;
  return patch;
}

/**
 * Batches store writes: patches queued while a write is under way go together in the next one.
 * A write that fails is tried again (with the patches queued meanwhile); a run removed meanwhile
 * is added back whole, so that no key is ever lost.
 */
class PatchWriter {
  private pending: Array<{ run: Run; patch: Partial<Run> }> = [];
  private running?: Promise<void>;
  private failure?: unknown;
  readonly written = new Map<string, Run>();
  writes = 0;

  constructor(private readonly store: RunStore) {}

  push(run: Run, patch: Partial<Run>): void {
    this.pending.push({ run, patch });
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  /** Resolves once everything queued is on disk; throws when it could not be written. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  private async loop(): Promise<void> {
    // Keys reported in the same turn (an array's tasks, all at once) go in the same write.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      let lastErr: unknown;
      let ok = false;
      for (let attempt = 0; attempt < 3 && !ok; attempt++) {
        try {
          await this.write(batch);
          ok = true;
        } catch (e) {
          lastErr = e;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
      if (!ok) {
        const keys = batch.map((b) => b.patch.key).filter(Boolean);
        this.failure ??= new MuseError(
          'io',
          `Tasks were submitted (keys ${keys.join(', ')}) but could not be saved in the run store: ${errorMessage(lastErr)}. Keep these keys.`,
          { cause: lastErr },
        );
      }
    }
  }

  private async write(batch: Array<{ run: Run; patch: Partial<Run> }>): Promise<void> {
    this.writes++;
    const got = await this.store.updateMany(batch.map((b) => ({ id: b.run.id, patch: b.patch })));
    const gone = batch.filter((b) => !got.has(b.run.id));
    for (const [id, run] of got) this.written.set(id, run);
    if (gone.length > 0) {
      const now = new Date().toISOString();
      const whole = gone.map((b) => ({ ...b.run, ...b.patch, updatedAt: now }) as Run);
      await this.store.addMany(whole);
      for (const r of whole) this.written.set(r.id, r);
    }
  }
}

/**
 * Submits a sweep: expands the template (a `usage` error before anything is recorded when the
 * spec does not fit it), records every task as `submitting` in one store write, then sends them
 * through `backend.submitSweep` where the backend has it (one Slurm array), else as plain
 * submits, `SWEEP_SUBMIT_CONCURRENCY` at a time, each key stored the moment it arrives.
 * A task whose submit failed becomes `failed` (clear refusal) or `unknown` (may exist); a sweep
 * refused as a whole for bad input before anything was sent leaves no record. A cancel
 * while submitting stops sending more: the tasks sent stay listed, those never sent are removed,
 * and a `cancelled` MuseError says how many were sent. Resolves with the tasks as stored.
 */
export async function submitSweep(args: SubmitSweepArgs, opts: OpOptions = {}): Promise<Run[]> {
  const { backend, store, profile, request, spec } = args;
  const all = expandSweep({ ...spec, template: spec.template || request.cmd });
  const tasks = selectTasks(all, args.only);
  const throttle = args.throttle !== undefined && args.throttle > 0 ? Math.floor(args.throttle) : undefined;
  const sweepId = args.sweepId ?? randomUUID();
  const now = new Date().toISOString();
  const hashes = await fileHashesField(request.files, opts.signal); // one pass: every task sends the same files
  const sentBy = processTag();
  const runs: Run[] = tasks.map((t) => {
    const tag: SweepTag = { id: sweepId, index: t.index, count: all.length, params: t.params, template: spec.template || request.cmd };
    if (args.label !== undefined) tag.label = args.label;
    if (throttle !== undefined) tag.throttle = throttle;
    const run: Run = {
      id: randomUUID(),
      profile: profile.name,
      backend: profile.kind,
      software: request.software,
      request: normalizeRequest({ ...request, cmd: t.command }),
      state: 'submitting',
      raw: {},
      createdAt: now,
      updatedAt: now,
      sentBy,
      sweep: tag,
      ...hashes,
    };
    if (args.label !== undefined) run.label = args.label;
    if (args.rerunOf !== undefined) run.rerunOf = args.rerunOf;
    if (args.notifyIn !== undefined) run.notifyIn = args.notifyIn;
    return run;
  });
  await store.addMany(runs);
  args.onRecorded?.(runs);

  const byIndex = new Map(runs.map((r) => [r.sweep!.index, r]));
  const writer = new PatchWriter(store);
  const reported = new Set<number>();
  const onSubmitted = (index: number, result: SubmitResult): void => {
    const run = byIndex.get(index);
    if (!run || reported.has(index)) return;
    reported.add(index);
    writer.push(run, keyPatch(run, result));
  };

  // Why each task that got no key has none: its own submit's error, or (absent) never sent.
  const errors = new Map<number, unknown>();
  let failure: unknown;
  try {
    if (can(backend, 'submitSweep')) {
      await backend.submitSweep(request, { id: sweepId, tasks, count: all.length, throttle, onSubmitted }, opts);
    } else {
      await sendEach(tasks, opts, async (t) => {
        try {
          onSubmitted(t.index, await backend.submit({ ...request, cmd: t.command }, opts));
        } catch (e) {
          errors.set(t.index, e);
          throw e;
        }
      });
    }
  } catch (e) {
    failure = e;
  }
  await writer.flush();
  if (failure === undefined) return runs.map((r) => writer.written.get(r.id) ?? r);

  const left = runs.filter((r) => !reported.has(r.sweep!.index));
  if (reported.size === 0 && isMuseError(failure, 'usage') && [...errors.values()].every((e) => isMuseError(e, 'usage'))) {
    // Refused before anything was sent (bad input, more tasks than the cluster's MaxArraySize):
    // nothing exists anywhere, and a thousand failed records would only hide the message.
    await store.remove(runs.map((r) => r.id)).catch(() => undefined);
    throw failure;
  }
  const cancelled = opts.signal?.aborted === true;
  // An array submit is one request: every task shares its outcome. N submits: each its own.
  const own = (r: Run): unknown => (can(backend, 'submitSweep') ? failure : errors.get(r.sweep!.index));
  const neverSent = left.filter((r) => own(r) === undefined || (cancelled && isClearRefusal(own(r))));
  const tried = left.filter((r) => !neverSent.includes(r));
  if (cancelled) {
    // Never sent: not runs at all. The ones sent stay listed (and cancellable).
    await store.remove(neverSent.map((r) => r.id)).catch(() => undefined);
  }
  const at = new Date().toISOString();
  const patches = tried.map((r) => {
    const e = own(r);
    const refused = isClearRefusal(e);
    const patch: Partial<Run> = { state: refused ? 'failed' : 'unknown', lastError: submitErrorText(e) };
    if (refused) patch.endedAt = at;
    return { id: r.id, patch };
  });
  if (!cancelled) {
    for (const r of neverSent) patches.push({ id: r.id, patch: { state: 'failed', endedAt: at, lastError: `Not sent: the sweep stopped when another task failed (${errorMessage(failure)}).` } });
  }
  await store.updateMany(patches).catch(() => undefined);
  if (cancelled) {
    throw new MuseError('cancelled', `Submitting the sweep was cancelled after ${reported.size} of ${tasks.length} tasks were sent; those stay listed.`, { cause: failure });
  }
  throw failure;
}

/**
 * Plain submits, `SWEEP_SUBMIT_CONCURRENCY` at a time, none started once the signal is aborted.
 * The first failure stops new sends; those already under way finish (their keys are stored).
 */
async function sendEach(tasks: SweepTask[], opts: OpOptions, send: (t: SweepTask) => Promise<void>): Promise<void> {
  let next = 0;
  let first: unknown;
  const worker = async (): Promise<void> => {
    while (first === undefined && next < tasks.length) {
      if (opts.signal?.aborted) {
        first ??= new MuseError('cancelled', 'Submitting the sweep was cancelled.', { notSent: true });
        return;
      }
      const t = tasks[next++];
      try {
        await send(t);
      } catch (e) {
        first ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_SUBMIT_CONCURRENCY, tasks.length) }, worker));
  if (first !== undefined) throw first;
}
