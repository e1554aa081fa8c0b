import type { Backend } from '../core/backend';
import { isMuseError } from '../core/errors';
import type { MuseError } from '../core/errors';
import type { Run } from '../core/model';
import { applyStates, runRef } from '../core/runs';
import type { RunStore } from '../core/store';

/** The first answer that is a login the poll was not allowed to ask for (see `MuseError.details.needsSignIn`). */
function signInNeeded(answers: Map<string, unknown>): MuseError | undefined {
  for (const a of answers.values()) if (isMuseError(a, 'auth') && a.details.needsSignIn) return a;
  return undefined;
}

/**
 * One poll of one profile for the window: `refreshRuns`, except that a login the poll may not
 * ask for fails the poll. A backend answers a failed query as every run's error (each run keeps
 * it as `lastError`); left at that, the poller took the poll for a success, logged nothing and
 * cleared the tree's "needs a sign-in" at once. Thrown, it reaches the poller's `onError`: the
 * profile's node offers Sign In and the poll backs off like any failed one.
 */
export async function pollProfileRuns(backend: Backend, store: RunStore, runs: Run[], signal: AbortSignal): Promise<Run[]> {
  const withKey = runs.filter((r) => r.key !== undefined);
  if (withKey.length === 0) return runs;
  // No `background` flag here: whether the poll is the user's is decided by userGesture.ts.
  const answers = await backend.states(withKey.map(runRef), { signal });
  const after = await applyStates(store, runs, answers);
  const signIn = signInNeeded(answers);
  if (signIn) throw signIn;
  return after;
}
