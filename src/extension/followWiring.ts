/**
 * Wires following output and explained failures into the extension: the followed documents,
 * the failure diagnostics and links, their commands, and the store events they react to
 * (a run that ended failed is explained; a run removed from the list stops being followed).
 */
import * as vscode from 'vscode';
import { isFinal } from '../core/model';
import type { Run } from '../core/model';
import { registerFollowCommands } from './commands/followCommands';
import { RunFailures } from './failureDiagnostics';
import { FollowDocuments } from './followDocuments';
import { RunNotifier } from './runNotifier';
import type { Services } from './services';

/** Registers Follow Output and the failure diagnostics; returns their disposables. */
export function wireFollow(s: Services): vscode.Disposable[] {
  // The followed documents are files in the extension's storage (followDocuments.ts).
  const folder = vscode.Uri.joinPath(s.context.globalStorageUri, 'follow').fsPath;
  const follow = new FollowDocuments(s.store, s.backends, { keepBytes: () => s.settings.followMaxBytes, webApiSeconds: () => s.settings.followWebApiSeconds }, s.log('follow'), folder);
  const failures = new RunFailures(s.store, s.backends, s.log('failure'), follow);
  RunNotifier.explain = (run) => failures.notificationLine(run);
  const seen = new Map<string, Run['state']>();
  const onRuns = (runs: readonly Run[]): void => {
    follow.runsChanged(runs);
    failures.runsChanged(runs);
    for (const r of runs) {
      const before = seen.get(r.id);
      seen.set(r.id, r.state);
      // Runs that end failed while this window watches are explained (diagnostics, tooltip).
      if (before !== undefined && !isFinal(before) && (r.state === 'failed' || r.state === 'cancelled')) void failures.explain(r);
    }
  };
  void s.ready.then(() => onRuns(s.store.list()));
  const off = s.store.onDidChange(onRuns);
  return [
    follow,
    failures,
    follow.onEnded((run) => void failures.explain(run)),
    ...registerFollowCommands(s, follow),
    { dispose: () => { off(); RunNotifier.explain = undefined; } },
  ];
}
