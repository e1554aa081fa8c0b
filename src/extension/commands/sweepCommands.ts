import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { MuseError, errorMessage, isMuseError } from '../../core/errors';
import type { InputFile, Run } from '../../core/model';
import { isFinal } from '../../core/model';
import { submitSweep } from '../../core/sweep/submitSweep';
import { cancelSweep, failedTasks, groupSweeps, rerunFailedTasks } from '../../core/sweep/sweepGroups';
import type { SweepGroup } from '../../core/sweep/sweepGroups';
import { loadCore } from '../coreBundle';
import { ask } from '../prompts';
import type { Services } from '../services';
import { askSweep } from '../sweepFlow';
import { command } from './register';
import { isRunOptions, prepareRerun, prepareRun, scriptsFrom } from './runCommands';
import type { RunOptions } from './runCommands';

/** The sweep a tree command acts on: the clicked sweep row (`{ type: 'sweep', id }`) or a sweep id. */
function sweepFrom(s: Services, arg: unknown): SweepGroup {
  const id = typeof arg === 'string' ? arg : arg && typeof arg === 'object' && (arg as { type?: string }).type === 'sweep' ? (arg as { id: string }).id : undefined;
  if (!id) throw new MuseError('usage', 'Run this command on a sweep row of the Runs view.');
  const group = groupSweeps(s.store.list().filter((r) => r.sweep?.id === id))[0];
  if (!group) throw new MuseError('notFound', 'This sweep is no longer in the Runs list.');
  return group;
}

/** Workspace files a glob matches, named as the run folder will name them (flat for the web API). */
async function findWorkspaceFiles(root: vscode.WorkspaceFolder | undefined, glob: string, flatten: boolean): Promise<InputFile[]> {
  const pattern = root ? new vscode.RelativePattern(root, glob) : glob;
  const uris = (await vscode.workspace.findFiles(pattern, undefined, 100_001)).filter((u) => u.scheme === 'file');
  uris.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
  return uris.map((u) => {
    const rel = root ? path.relative(root.uri.fsPath, u.fsPath).split(path.sep).join('/') : path.basename(u.fsPath);
    return { path: u.fsPath, name: flatten ? path.basename(u.fsPath) : rel };
  });
}

/**
 * Run as Sweep: Run on Muse's first steps (profile, software, files, prefilled command), then the
 * sweep's questions (sweepFlow.ts), then the core's `submitSweep` under a cancellable progress
 * that counts the tasks sent. Returns the tasks as stored.
 */
async function runAsSweep(s: Services, scripts: vscode.Uri[], opts: RunOptions): Promise<Run[]> {
  const { profile, backend, software, main, selection, cmd } = await prepareRun(s, scripts, opts, false);
  const script = path.basename(main.fsPath);
  const folder = vscode.workspace.getWorkspaceFolder(main);
  const { summarizeSelection } = loadCore();
  const known = new Set(selection.files.map((f) => f.name));
  const extraOf = (extra: InputFile[]): InputFile[] => extra.filter((f) => !known.has(f.name));
  const answers = await askSweep({
    ask,
    findFiles: (glob) => findWorkspaceFiles(folder, glob, profile.kind === 'ws'),
    prefill: cmd,
    script,
    profile: profile.name,
    software,
    filesSummary: async (extra) => {
      const added = extraOf(extra);
      let bytes = selection.totalBytes;
      for (const f of added) bytes += (await fs.promises.stat(f.path)).size;
      return summarizeSelection({ files: [...selection.files, ...added], totalBytes: bytes });
    },
  });
  const files = [...selection.files, ...extraOf(answers.files)];
  const request = { software, cmd: answers.spec.template, files, filesOrder: files.map((f) => f.name), ...(profile.sbatchList ? { sbatchList: profile.sbatchList } : {}), ...(profile.moduleList ? { moduleList: profile.moduleList } : {}) };
  const log = s.log('sweep');
  const n = answers.tasks.length;
  log.info(`submitting ${script} as a sweep of ${n} tasks (${answers.spec.template}) to "${profile.name}"`);
  const runs = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Muse: sending the sweep of ${script} to ${profile.name}`, cancellable: true },
    async (progress, token) => {
      const ctl = new AbortController();
      const offCancel = token.onCancellationRequested(() => ctl.abort());
      let sweepId: string | undefined;
      let sent = 0;
      // The keys arrive in the store as each task is sent: count them there.
      const offStore = s.store.onDidChange((all) => {
        if (!sweepId) return;
        const now = all.filter((r) => r.sweep?.id === sweepId && r.key).length;
        if (now > sent) progress.report({ message: `${now} of ${n} tasks sent`, increment: (100 * (now - sent)) / n });
        sent = Math.max(sent, now);
      });
      try {
        return await submitSweep(
          {
            backend,
            store: s.store,
            profile,
            request,
            spec: answers.spec,
            throttle: answers.throttle,
            label: script,
            notifyIn: s.windowId,
            onRecorded: (recorded) => {
              sweepId = recorded[0]?.sweep?.id;
              if (sweepId) void s.runsView.revealSweep(sweepId);
            },
          },
          { signal: ctl.signal },
        );
      } catch (e) {
        // Cancelled while sending: the tasks already sent stay listed (and cancellable); say how many.
        if (isMuseError(e, 'cancelled')) void vscode.window.showInformationMessage(`Muse: ${errorMessage(e)}`);
        throw e;
      } finally {
        offCancel.dispose();
        offStore();
      }
    },
  );
  s.poller.wake();
  log.info(`submitted the sweep of ${script}: ${runs.length} tasks`);
  void vscode.window.showInformationMessage(`Muse: sweep of ${script} submitted to ${profile.name} (${runs.length} task${runs.length === 1 ? '' : 's'}).`);
  return runs;
}

/** Run as Sweep, Cancel Sweep, Rerun Failed Tasks, Show Sweep (in the tree), Remove Sweep from the list. */
export function registerSweepCommands(s: Services): vscode.Disposable[] {
  return [
    // Arguments: (uri, uris) from menus, or (undefined, undefined, RunOptions) from code.
    command(s, 'muse.runAsSweep', async (uri?: unknown, uris?: unknown, opts?: unknown) => {
      const o = isRunOptions(opts) ? opts : isRunOptions(uri) ? uri : {};
      return runAsSweep(s, await scriptsFrom(isRunOptions(uri) ? undefined : uri, uris), o);
    }),
    command(s, 'muse.cancelSweep', async (arg?: unknown) => {
      const group = sweepFrom(s, arg);
      const backend = await s.backends.get(group.profile);
      // One scancel of the whole array over SSH; one cancel per task elsewhere (the core decides).
      const n = await s.auth.renewal(group.profile, true).run(() => cancelSweep(backend, s.store, group));
      s.log('sweep').info(`cancelled the sweep ${group.label} (${n} task${n === 1 ? '' : 's'} asked to stop)`);
      await s.poller.refreshNow();
      return n;
    }),
    command(s, 'muse.rerunFailedTasks', async (arg?: unknown) => {
      const group = sweepFrom(s, arg);
      const failed = failedTasks(group);
      if (failed.length === 0) throw new MuseError('usage', 'No task of this sweep failed: nothing to rerun.');
      // The files of the sweep found again under the workspace folder, as Rerun finds a run's.
      const { profile, request } = await prepareRerun(s, failed[0]);
      const backend = await s.backends.get(profile);
      const runs = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Muse: rerunning ${failed.length} failed task${failed.length === 1 ? '' : 's'} of ${group.label}`, cancellable: true },
        async (_progress, token) => {
          const ctl = new AbortController();
          const off = token.onCancellationRequested(() => ctl.abort());
          try {
            return await rerunFailedTasks({ backend, store: s.store, profile, request, group, notifyIn: s.windowId }, { signal: ctl.signal });
          } finally {
            off.dispose();
          }
        },
      );
      s.log('sweep').info(`reran ${runs.length} failed task(s) of the sweep ${group.label}`);
      s.poller.wake();
      return runs;
    }),
    command(s, 'muse.showSweep', async (arg?: unknown) => {
      const group = sweepFrom(s, arg);
      await vscode.commands.executeCommand('muse.runs.focus');
      await s.runsView.revealSweep(group.id, true);
    }),
    command(s, 'muse.removeSweep', async (arg?: unknown) => {
      const group = sweepFrom(s, arg);
      // Every run of the sweep, the tasks a rerun replaced included.
      const tasks = s.store.list().filter((r) => r.sweep?.id === group.id);
      const active = tasks.filter((r) => !isFinal(r.state));
      if (active.length > 0) {
        const go = 'Remove';
        const answer = await ask({
          kind: 'message',
          id: 'sweep.removeActive',
          severity: 'warning',
          modal: true,
          message: `${active.length} of the ${tasks.length} tasks of this sweep have not ended. Remove the sweep from the list anyway?`,
          detail: 'The tasks go on where they run; only this list forgets them.',
          choices: [go],
        });
        if (answer !== go) return;
      }
      await s.store.remove(tasks.map((r) => r.id));
    }),
  ];
}
