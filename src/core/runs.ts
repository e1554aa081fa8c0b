/**
 * Submitting and refreshing runs through a backend, with the store kept up to date so that a
 * key once received is never lost.
 */
import { randomUUID } from 'crypto';
import type { Backend, OpOptions, RunRef } from './backend';
import { MuseError, errorMessage, isMuseError } from './errors';
import { fileHashesField } from './fileHashes';
import { isFinal, normalizeRequest } from './model';
import type { RawFacts, Run, StateReport, SubmitRequest } from './model';
import { processTag } from './processAlive';
import type { Profile } from './profiles';
import type { RunStore } from './store';

export interface SubmitRunArgs {
  backend: Backend;
  store: RunStore;
  profile: Profile;
  request: SubmitRequest;
  label?: string;
  /** The id of the run this one reruns (recorded as `Run.rerunOf`). */
  rerunOf?: string;
  /** The window that submits (recorded as `Run.notifyIn`: it announces the end). */
  notifyIn?: string;
  /** Called once the `submitting` record is on disk, just before the request leaves. */
  onRecorded?: (run: Run) => void;
}

/**
 * True when a failed submit cannot have created a run: the server (or our own checks) refused
 * it plainly. Anything else (dropped connection, timeout, unreadable answer, 5xx, cancel while
 * sending) may have reached the server.
 */
export function isClearRefusal(e: unknown): boolean {
  if (!isMuseError(e)) return false;
  if (e.details.notSent) return true;
  switch (e.code) {
    case 'usage':
    case 'auth':
    case 'refused':
    case 'notFound':
    case 'unsupported':
    case 'io':
      return true;
    case 'server':
      return e.details.status === undefined || e.details.status < 500;
    default:
      return false;
  }
}

/** The text kept in `lastError` for a failed submit. */
export function submitErrorText(e: unknown): string {
  const msg = errorMessage(e);
  if (isClearRefusal(e)) return msg;
  return `${msg} The request may have reached the server: a run may have been created there; check before submitting again.`;
}

/**
 * Records a `submitting` run, submits it, and stores the key the moment it exists.
 * On failure the record becomes `failed` (clear refusal) or `unknown` (may have been created),
 * with `lastError` saying which, and the error is thrown again.
 */
export async function submitRun(args: SubmitRunArgs, opts: OpOptions = {}): Promise<Run> {
  const { backend, store, profile, request } = args;
  const now = new Date().toISOString();
  const run: Run = {
    id: randomUUID(),
    profile: profile.name,
    backend: profile.kind,
    software: request.software,
    request: normalizeRequest(request),
    state: 'submitting',
    raw: {},
    createdAt: now,
    updatedAt: now,
    sentBy: processTag(),
  };
  if (args.label !== undefined) run.label = args.label;
  if (args.rerunOf !== undefined) run.rerunOf = args.rerunOf;
  if (args.notifyIn !== undefined) run.notifyIn = args.notifyIn;
  Object.assign(run, await fileHashesField(request.files, opts.signal));
  await store.add(run);
  args.onRecorded?.(run);

  let result;
  try {
    result = await backend.submit(request, opts);
  } catch (e) {
    const refused = isClearRefusal(e);
    const patch: Partial<Run> = { state: refused ? 'failed' : 'unknown', lastError: submitErrorText(e) };
    if (refused) patch.endedAt = new Date().toISOString();
    await saveOrReAdd(store, run, patch).catch(() => undefined);
    throw e;
  }

  const raw: RawFacts = { ...run.raw };
  if (result.jobId !== undefined) raw.jobId = result.jobId;
  if (result.message !== undefined) raw.message = result.message;
  const patch: Partial<Run> = {
    key: result.key,
    state: 'waiting',
    raw,
    submittedAt: new Date().toISOString(),
  };
  if (result.location !== undefined) patch.location = result.location;
  if (result.noContainer) patch.noContainer = true;

  // The key exists only here now: try hard to get it on disk, and show it if we cannot.
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await saveOrReAdd(store, run, patch);
    } catch (e) {
      lastErr = e;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw new MuseError(
    'io',
    `The run was submitted (key ${result.key}${result.location ? `, ${result.location}` : ''}) but could not be saved in the run store: ${errorMessage(lastErr)}. Keep this key.`,
    { cause: lastErr },
  );
}

/** Updates the run; if someone removed it meanwhile, adds it back whole (never lose a key). */
async function saveOrReAdd(store: RunStore, run: Run, patch: Partial<Run>): Promise<Run> {
  try {
    return await store.update(run.id, patch);
  } catch (e) {
    if (!isMuseError(e, 'notFound')) throw e;
    const whole = { ...run, ...patch, updatedAt: new Date().toISOString() } as Run;
    await store.add(whole);
    return whole;
  }
}

/** What a backend needs to find a run again. */
export function runRef(run: Run): RunRef {
  return { id: run.id, key: run.key, software: run.software, request: run.request, raw: run.raw, location: run.location };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * Asks the backend for the states of these runs in one call, and stores those that changed
 * (state, raw facts, endedAt, lastError). Runs without a key yet are left alone; an Error for
 * one run only sets that run's `lastError`. Returns the runs as they are now.
 */
export async function refreshRuns(backend: Backend, store: RunStore, runs: Run[], opts: OpOptions = {}): Promise<Run[]> {
  const withKey = runs.filter((r) => r.key !== undefined);
  if (withKey.length === 0) return runs;
  const answers = await backend.states(withKey.map(runRef), opts);
  return applyStates(store, runs, answers);
}

/**
 * Stores what one `backend.states` call answered (for callers that also want to look at the
 * errors themselves): changed state, raw facts, endedAt, lastError. Returns the runs as now.
 */
export async function applyStates(store: RunStore, runs: Run[], answers: Map<string, StateReport | Error>): Promise<Run[]> {
  // One store write for the whole poll (one lock, one fsync, one change event), not one per run.
  const patches: Array<{ id: string; patch: Partial<Run> }> = [];
  for (const run of runs) {
    const a = answers.get(run.id);
    if (a === undefined) continue;
    const patch = a instanceof Error ? errorPatch(run, a) : statePatch(run, a);
    if (patch) patches.push({ id: run.id, patch });
  }
  if (patches.length === 0) return runs;
  const written = await store.updateMany(patches);
  const changed = new Set(patches.map((p) => p.id));
  const out: Run[] = [];
  for (const run of runs) {
    if (!changed.has(run.id)) out.push(run);
    else {
      // Removed meanwhile by the user: nothing to update, and no longer listed.
      const w = written.get(run.id);
      if (w) out.push(w);
    }
  }
  return out;
}

function errorPatch(run: Run, e: Error): Partial<Run> | undefined {
  const text = errorMessage(e);
  return run.lastError === text ? undefined : { lastError: text };
}

function statePatch(run: Run, s: StateReport): Partial<Run> | undefined {
  const patch: Partial<Run> = {};
  if (s.state !== run.state) patch.state = s.state;
  const raw = { ...run.raw, ...s.raw };
  if (!sameJson(raw, run.raw)) patch.raw = raw;
  const endedAt = s.endedAt ?? (isFinal(s.state) ? run.endedAt ?? new Date().toISOString() : undefined);
  if (endedAt !== run.endedAt && (endedAt !== undefined || !isFinal(s.state))) patch.endedAt = endedAt;
  if (run.lastError !== undefined) patch.lastError = undefined;
  return Object.keys(patch).length > 0 ? patch : undefined;
}
