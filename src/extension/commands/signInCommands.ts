import * as vscode from 'vscode';
import { MuseError } from '../../core/errors';
import type { Services } from '../services';
import { command } from './register';

/** The profile a Sign In click is about: the clicked profile node, else the active profile. */
function profileName(s: Services, arg: unknown): string {
  const named = arg && typeof arg === 'object' && (arg as { type?: string }).type === 'profile' ? (arg as { name: string }).name : undefined;
  return named ?? s.settings.activeProfile.name;
}

/**
 * Sign In on a profile whose polls need a login that asks (a two-factor code): a refresh made by
 * the user, so the login's questions are asked here, in this window; a ws profile signs in with
 * its token as usual.
 */
export function registerSignInCommands(s: Services): vscode.Disposable[] {
  return [
    command(s, 'muse.signInCluster', async (arg?: unknown) => {
      const name = profileName(s, arg);
      if (s.settings.profile(name)?.kind === 'ws') return vscode.commands.executeCommand('muse.signIn', { type: 'profile', name });
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Muse: signing in to ${name}...` }, () => s.refreshNow());
      const still = s.runsView.signInNeededFor(name);
      if (still !== undefined) throw new MuseError('auth', `Still not signed in to "${name}": ${still}`);
      return true;
    }),
  ];
}
