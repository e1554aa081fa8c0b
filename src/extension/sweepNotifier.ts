import * as vscode from 'vscode';
import type { Run } from '../core/model';
import type { SweepGroup } from '../core/sweep/sweepGroups';
import { ask } from './prompts';
import { sweepClaimTask, sweepEndText } from './sweepTreeModel';

/**
 * Which window announces a run's end, decided once for the user: `true` when this window must
 * (see `announcesHere` in src/core/pollLease.ts) and won the claim on the run (one notification
 * across every window).
 */
export type AnnounceHere = (run: Run) => Promise<boolean>;

/** The results table's command (the compare work registers it); without it, Show Results shows the sweep's row. */
export const SWEEP_RESULTS_COMMAND = 'muse.sweepResults';

/**
 * One notification for a sweep whose tasks have all ended (`Sweep add.py: 5 ok · 1 failed`),
 * in the one window that wins the claim on the task that ended last (`sweepClaimTask`), as a
 * run's end is claimed.
 */
export async function announceSweep(group: SweepGroup, announceHere: AnnounceHere): Promise<void> {
  if (!(await announceHere(sweepClaimTask(group)).catch(() => false))) return;
  const failed = group.counts.failed + group.counts.unknown > 0;
  const show = 'Show Results';
  const rerun = 'Rerun Failed Tasks';
  const node = { type: 'sweep', id: group.id };
  const pick = await ask({ kind: 'message', id: 'sweep.ended', severity: failed ? 'warning' : 'info', message: sweepEndText(group), choices: failed ? [show, rerun] : [show], subject: group.id });
  if (pick === show) {
    const table = (await vscode.commands.getCommands(true)).includes(SWEEP_RESULTS_COMMAND);
    await vscode.commands.executeCommand(table ? SWEEP_RESULTS_COMMAND : 'muse.showSweep', node);
  } else if (pick === rerun) await vscode.commands.executeCommand('muse.rerunFailedTasks', node);
}
