/**
 * A profile whose background work (a poll) stopped because logging in to its cluster asks the
 * user something (a two-factor code, a key passphrase), and background work never asks: the Runs
 * tree says so on the profile's node and offers Sign In, which logs in in the foreground, in
 * the window the user clicked. No vscode import: unit-tested without VS Code.
 */
import { isMuseError } from '../core/errors';

/**
 * True for the error of a background call that needed a login that asks (the agent's
 * `MuseError('auth', ..., { needsSignIn: true })`), not for a refused login or a down network.
 */
export function needsSignIn(e: unknown): boolean {
  return isMuseError(e, 'auth') && (e.details as { needsSignIn?: boolean }).needsSignIn === true;
}

/** How a profile node looks while its cluster needs a sign-in. */
export interface SignInLook {
  /** Appended to the node's description. */
  description: string;
  /** Codicon id. */
  icon: string;
  tooltip: string;
}

/** The profile node's look while `reason` (the background call's error) stands. */
export function signInLook(profile: string, reason: string): SignInLook {
  return {
    description: 'needs sign-in',
    icon: 'warning',
    tooltip: `${reason}\n\nRuns of "${profile}" are not followed until you sign in: click Sign In (the key icon) to log in here.`,
  };
}
