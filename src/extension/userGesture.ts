/**
 * The one rule of the window for "may this work ask the user something?": only what the user
 * asked for right now (a command they ran, a document they opened, a Sign In they clicked) is
 * foreground; everything else (polls, follow timers, documents VS Code reads again, summaries
 * redrawing, failure explanations, results fetched ahead) is background and never prompts:
 * through the agent an SSH login it would need fails with `needsSignIn`, and the Runs tree offers
 * Sign In instead.
 *
 * Default-deny on purpose: work nobody marked is background, so a forgotten mark costs a "needs a
 * sign-in" in the tree, never a code question popping up out of nowhere.
 *
 * A gesture is an AsyncLocalStorage scope that ends when its handler settles: timers armed during
 * a command (a follow's refresh, a poll woken by the submit) inherit the scope but find it ended.
 */
import { AsyncLocalStorage } from 'async_hooks';

interface Gesture {
  /** What the user did (the command id), for whoever debugs a scope. */
  readonly what: string;
  /** Set once the handler settled: later work in the same async chain is background. */
  ended: boolean;
}

const gestures = new AsyncLocalStorage<Gesture>();

/**
 * Runs `fn` as the user's gesture `what`: backend calls it makes (awaited within it) may ask the
 * user. Nested gestures are fine; the scope ends when `fn` settles.
 */
export async function asUserGesture<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  const g: Gesture = { what, ended: false };
  try {
    return await gestures.run(g, fn);
  } finally {
    g.ended = true;
  }
}

/** True while the current work is a user's gesture that has not ended (see the file comment). */
export function isUserInitiated(): boolean {
  const g = gestures.getStore();
  return g !== undefined && !g.ended;
}

/**
 * Runs `fn` outside any gesture: for timers that must be background even when armed by a
 * command still in flight (the poller's).
 */
export function outsideGesture<T>(fn: () => T): T {
  return gestures.exit(fn);
}
