import * as vscode from 'vscode';
import { MuseError } from '../../core/errors';
import type { WsProfile } from '../../core/profiles';
import type { Services } from '../services';
import type { ActiveProfileTarget } from '../settings';
import { describeTarget } from '../settings';
import { ask } from '../prompts';
import { command } from './register';

/** The ws profile a sign-in command is about: the clicked profile node, the active one, or a pick. */
async function wsProfile(s: Services, arg: unknown): Promise<WsProfile | undefined> {
  const ws = s.settings.profiles.filter((p): p is WsProfile => p.kind === 'ws');
  if (ws.length === 0) throw new MuseError('usage', 'No ws profile is configured: add one to the muse.profiles setting (kind "ws", url ".../api/").');
  const named = arg && typeof arg === 'object' && (arg as { type?: string }).type === 'profile' ? (arg as { name: string }).name : undefined;
  const direct = ws.find((p) => p.name === (named ?? s.settings.activeProfile.name));
  if (direct) return direct;
  if (ws.length === 1) return ws[0];
  const picked = await ask({ kind: 'pick', id: 'profile.pickWs', title: 'Muse: ws profile', placeHolder: 'Profile', items: ws.map((p) => ({ label: p.name, description: p.url })) });
  return ws.find((p) => p.name === picked);
}

/** Sign in / out, select profile, show log. */
export function registerAccountCommands(s: Services, onAuthChanged: () => void): vscode.Disposable[] {
  return [
    // (profile node?, { username, password, remember }?): credentials passed by code skip the prompts.
    command(s, 'muse.signIn', async (arg?: unknown, creds?: { username: string; password: string; remember?: boolean }) => {
      // An SSH profile's node that "needs a sign-in": a poll that may ask, here (through the agent, the question comes to this window).
      const node = arg as { type?: unknown; name?: unknown } | undefined;
      if (node?.type === 'profile' && typeof node.name === 'string' && s.settings.profile(node.name)?.kind === 'ssh') {
        await vscode.window.withProgress({ location: { viewId: 'muse.runs' } }, () => s.refreshNow());
        return true;
      }
      const p = await wsProfile(s, arg);
      const given = creds && typeof creds.username === 'string' && typeof creds.password === 'string' ? creds : undefined;
      if (p && (await s.auth.signIn(p, given))) {
        onAuthChanged();
        s.poller.wake();
        return true;
      }
      return false;
    }),
    command(s, 'muse.signOut', async (arg?: unknown) => {
      const p = await wsProfile(s, arg);
      if (!p) return;
      await s.auth.signOut(p);
      onAuthChanged();
      void vscode.window.showInformationMessage(`Signed out of ${p.name}.`);
    }),
    command(s, 'muse.selectProfile', async (name?: unknown) => {
      const select = async (profile: string): Promise<ActiveProfileTarget> => {
        const where = await s.settings.setActiveProfile(profile);
        // Outside the user settings the choice holds for this workspace only: say so.
        const text = `New runs go to the profile "${profile}" (saved in ${describeTarget(where)}).`;
        if (where.target === 'user') vscode.window.setStatusBarMessage(text, 5000);
        else void vscode.window.showInformationMessage(text);
        return where;
      };
      if (typeof name === 'string') return select(name);
      const active = s.settings.activeProfile.name;
      const picked = await ask({
        kind: 'pick',
        id: 'profile.select',
        title: 'Muse: Select Profile',
        placeHolder: 'Profile new runs go to',
        items: s.settings.profiles.map((p) => ({
          label: p.name,
          description: `${p.kind}${p.name === active ? ' · active' : ''}`,
          detail: p.kind === 'ws' ? p.url : p.kind === 'ssh' ? p.host : 'this machine',
        })),
      });
      // The answer is a label: only a configured profile is selected.
      return picked && s.settings.profile(picked) ? select(picked) : undefined;
    }),
    command(s, 'muse.showLog', () => s.channel.show()),
  ];
}
