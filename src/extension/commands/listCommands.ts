import * as vscode from 'vscode';
import { can, cannot } from '../../core/backend';
import { isFinal } from '../../core/model';
import { runRef } from '../../core/runs';
import { ask } from '../prompts';
import type { Renewal } from '../renewal';
import { runLabel } from '../runTreeModel';
import type { Services } from '../services';
import { command } from './register';
import { hasKey, isActive, runFromArgs, runsFromArgs } from './runArgs';

/** Refresh, cancel, copy key, remove, clear finished. */
export function registerListCommands(s: Services): vscode.Disposable[] {
  const selection = (): readonly unknown[] => s.runsView.treeView.selection;
  return [
    command(s, 'muse.refresh', async () => {
      await s.store.reload();
      await vscode.window.withProgress({ location: { viewId: 'muse.runs' } }, () => s.refreshNow());
      s.runsView.refresh();
    }),
    command(s, 'muse.cancel', async (arg?: unknown) => {
      const runs = await runsFromArgs(s, arg, selection(), { accept: isActive, placeHolder: 'Run to cancel', many: true });
      // One token budget per profile for the whole gesture, however many of its runs are cancelled.
      const renewals = new Map<string, Renewal>();
      for (const run of runs) {
        const backend = await s.backends.get(run.profile);
        if (!can(backend, 'cancel')) throw cannot(backend.kind, 'cancel', { profile: run.profile });
        const cancel = backend.cancel.bind(backend);
        if (!run.key || isFinal(run.state)) continue;
        let renewal = renewals.get(run.profile);
        if (!renewal) renewals.set(run.profile, (renewal = s.auth.renewal(run.profile, true)));
        await renewal.run(() => cancel(runRef(run)));
        s.log('runs').info(`cancelled ${runLabel(run)} (${run.key})`);
      }
      await s.poller.refreshNow();
    }),
    command(s, 'muse.copyKey', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: 'Run whose key to copy' });
      if (!run?.key) return undefined;
      await vscode.env.clipboard.writeText(run.key);
      vscode.window.setStatusBarMessage(`Copied the key ${run.key}`, 3000);
      return run.key;
    }),
    command(s, 'muse.remove', async (arg?: unknown) => {
      const runs = await runsFromArgs(s, arg, selection(), { placeHolder: 'Run to remove from the list', many: true });
      if (runs.length === 0) return;
      const active = runs.filter((r) => !isFinal(r.state));
      if (active.length > 0) {
        const go = 'Remove';
        const answer = await ask({
          kind: 'message',
          id: 'runs.removeActive',
          severity: 'warning',
          modal: true,
          message: `${active.length} of these runs ${active.length === 1 ? 'has' : 'have'} not ended. Remove from the list anyway?`,
          detail: 'The runs go on where they run; only this list forgets them (keep their keys if you need them).',
          choices: [go],
        });
        if (answer !== go) return;
      }
      await s.store.remove(runs.map((r) => r.id));
    }),
    command(s, 'muse.clearFinished', async () => {
      const done = s.store.list().filter((r) => isFinal(r.state));
      if (done.length === 0) return;
      const go = 'Clear';
      const answer = await ask({
        kind: 'message',
        id: 'runs.clearFinished',
        severity: 'warning',
        modal: true,
        message: `Remove ${done.length} finished run${done.length === 1 ? '' : 's'} from the list?`,
        choices: [go],
      });
      if (answer === go) await s.store.remove(done.map((r) => r.id));
      return done.length;
    }),
  ];
}
