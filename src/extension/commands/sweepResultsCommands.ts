import * as vscode from 'vscode';
import { MuseError } from '../../core/errors';
import { groupSweeps, sweepCountsText } from '../../core/sweep/sweepGroups';
import type { SweepTable } from '../../core/sweep/sweepTable';
import type { Services } from '../services';
import { SweepResults } from '../sweepResults';
import { command } from './register';

/**
 * The sweep id a command was given: a string, a tree node carrying one (`{ type: 'sweep', id }`,
 * `{ sweepId }`), or a task's run node; undefined when none.
 */
export function sweepIdOf(s: Services, arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (!arg || typeof arg !== 'object') return undefined;
  const node = arg as { type?: unknown; id?: unknown; sweepId?: unknown };
  if (typeof node.sweepId === 'string') return node.sweepId;
  if (node.type === 'sweep' && typeof node.id === 'string') return node.id;
  if (node.type === 'run' && typeof node.id === 'string') return s.store.get(node.id)?.sweep?.id;
  return undefined;
}

/** A quick pick of the sweeps in the store, newest first. */
async function pickSweep(s: Services): Promise<string | undefined> {
  const sweeps = groupSweeps(s.store.list());
  if (sweeps.length === 0) throw new MuseError('notFound', 'There is no sweep in the Runs list: run one with Run as Sweep... first.');
  const picked = await vscode.window.showQuickPick(
    sweeps.map((g) => ({ label: g.label, description: `${sweepCountsText(g.counts)} · ${g.profile}`, detail: g.tasks[0]?.sweep?.template, id: g.id })),
    { placeHolder: 'Sweep whose results to show', matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.id;
}

/** Show Sweep Results (tree, palette); resolves with the table shown. `opts.extract` fills the field. */
export function registerSweepResultsCommands(s: Services): vscode.Disposable[] {
  const tables = new SweepResults(s.store, s.backends, s.results, s.log('sweepResults'));
  return [
    tables,
    vscode.window.registerWebviewPanelSerializer(SweepResults.viewType, {
      deserializeWebviewPanel: async (panel, state) => {
        await s.ready;
        await tables.restore(panel, state);
      },
    }),
    command(s, 'muse.sweepResults', async (arg?: unknown, opts?: { extract?: string }): Promise<SweepTable | undefined> => {
      const id = sweepIdOf(s, arg) ?? (arg === undefined ? await pickSweep(s) : undefined);
      if (!id) {
        if (arg !== undefined) throw new MuseError('usage', 'This run is not a task of a sweep.');
        return undefined;
      }
      if (!s.store.list().some((r) => r.sweep?.id === id)) throw new MuseError('notFound', `No sweep ${id} in the Runs list.`);
      return tables.show(id, opts?.extract);
    }),
    command(s, 'muse.saveSweepResults', async (arg?: unknown): Promise<string | undefined> => {
      const id = sweepIdOf(s, arg) ?? (await pickSweep(s));
      if (!id) return undefined;
      await tables.show(id);
      return tables.saveCsv(id);
    }),
  ];
}
