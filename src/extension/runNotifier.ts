import * as vscode from 'vscode';
import { isFinal } from '../core/model';
import type { Run } from '../core/model';
import { ask } from './prompts';
import { runLabel } from './runTreeModel';
import { announceSweep } from './sweepNotifier';
import type { AnnounceHere } from './sweepNotifier';
import { sweepsEndedBy } from './sweepTreeModel';

/**
 * A notification when a run this window saw active ends, with "Open Results" / "Open Content" / "Show Summary".
 * Runs already ended when first seen are not announced (no storm on activation); with several
 * windows, only the one `announceHere` picks does. A sweep is announced once, when its last task ends.
 */
export class RunNotifier {
  private readonly last = new Map<string, Run['state']>();
  /** Why a run failed, in a few words (set by followWiring.ts): shown in the end notification. */
  static explain: ((run: Run) => Promise<string | undefined>) | undefined;

  constructor(
    initial: Run[],
    private readonly announceHere: AnnounceHere = async () => true,
  ) {
    for (const r of initial) this.last.set(r.id, r.state);
  }

  /** Announces the runs that ended since the last call; returns those whose state changed (new ones included). */
  update(runs: Run[]): Run[] {
    const changed: Run[] = [];
    const sweepTasks: Run[] = [];
    for (const r of runs) {
      const before = this.last.get(r.id);
      if (before === r.state) continue;
      this.last.set(r.id, r.state);
      changed.push(r);
      if (before === undefined || isFinal(before) || !isFinal(r.state)) continue;
      // A sweep's tasks are announced together, once all have ended (sweepNotifier.ts).
      if (r.sweep) sweepTasks.push(r);
      else void this.maybeAnnounce(r);
    }
    for (const group of sweepsEndedBy(sweepTasks, runs)) void announceSweep(group, this.announceHere);
    return changed;
  }

  private async maybeAnnounce(run: Run): Promise<void> {
    if (await this.announceHere(run).catch(() => false)) await this.announce(run);
  }

  private async announce(run: Run): Promise<void> {
    const node = { type: 'run', id: run.id };
    const label = runLabel(run);
    const actions = run.state === 'ok' ? ['Open Results', 'Open Content', 'Show Summary'] : ['Open Content', 'Show Report', 'Show Summary'];
    const why = run.state === 'ok' ? undefined : await RunNotifier.explain?.(run).catch(() => undefined);
    const text = why
      ? `Muse run ${label} ${why}.`
      : run.state === 'ok'
        ? `Muse run ${label} finished.`
        : run.state === 'failed'
          ? `Muse run ${label} failed${run.raw.exitCode !== undefined ? ` (exit code ${run.raw.exitCode})` : ''}.`
          : `Muse run ${label} was cancelled.`;
    const pick = await ask({ kind: 'message', id: 'run.ended', severity: run.state === 'failed' ? 'warning' : 'info', message: text, choices: actions, subject: run.id });
    if (pick === 'Open Results') await vscode.commands.executeCommand('muse.openResults', node);
    else if (pick === 'Open Content') await vscode.commands.executeCommand('muse.openContent', node);
    else if (pick === 'Show Report') await vscode.commands.executeCommand('muse.showReport', node);
    else if (pick === 'Show Summary') await vscode.commands.executeCommand('muse.showSummary', node);
  }
}
