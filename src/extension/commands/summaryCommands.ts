import * as vscode from 'vscode';
import { RunSummaries } from '../runSummary';
import type { RunSummaryModel } from '../runSummaryModel';
import type { Services } from '../services';
import { command } from './register';
import { runFromArgs } from './runArgs';

/** Show Run Summary (tree, palette, the end notification); resolves with what the summary shows. */
export function registerSummaryCommands(s: Services): vscode.Disposable[] {
  const summaries = new RunSummaries(s.store, s.backends, s.log('summary'));
  return [
    summaries,
    vscode.window.registerWebviewPanelSerializer(RunSummaries.viewType, {
      deserializeWebviewPanel: async (panel, state) => {
        await s.ready;
        await summaries.restore(panel, state);
      },
    }),
    command(s, 'muse.showSummary', async (arg?: unknown): Promise<RunSummaryModel | undefined> => {
      const r = await runFromArgs(s, arg, { placeHolder: 'Run whose summary to show' });
      return r ? summaries.show(r) : undefined;
    }),
  ];
}
