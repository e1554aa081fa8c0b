import * as vscode from 'vscode';
import { MuseError } from '../../core/errors';
import type { Run } from '../../core/model';
import { isFinal } from '../../core/model';
import { runLabel, runDescription } from '../runTreeModel';
import type { RunsNode } from '../runsView';
import type { Services } from '../services';

/**
 * The runs a tree command acts on: the clicked item, or the tree's selection when the clicked
 * item is part of it; with no item, the tree's selection when it fits `accept`, else a quick
 * pick (filtered by `accept`).
 */
export async function runsFromArgs(
  s: Services,
  arg: unknown,
  selected: unknown,
  opts: { accept?: (r: Run) => boolean; placeHolder: string; many?: boolean },
): Promise<Run[]> {
  const ids = new Set<string>();
  const asNode = (x: unknown): string | undefined => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object' && (x as RunsNode).type === 'run') return (x as { id: string }).id;
    return undefined;
  };
  const first = asNode(arg);
  if (first) {
    ids.add(first);
    if (opts.many && Array.isArray(selected) && selected.some((x) => asNode(x) === first)) {
      for (const x of selected) {
        const id = asNode(x);
        if (id) ids.add(id);
      }
    }
    const runs = [...ids].map((id) => s.store.get(id)).filter((r): r is Run => !!r);
    if (runs.length === 0) throw new MuseError('notFound', 'This run is no longer in the Runs list.');
    return runs;
  }
  // No argument: an inline action can reach us without its node (a click while the tree
  // redraws), so the tree's selection, when it fits, wins over asking.
  const view = s.runsView.treeView;
  if (view.visible) {
    const fit = view.selection
      .map((x) => asNode(x))
      .map((id) => (id ? s.store.get(id) : undefined))
      .filter((r): r is Run => !!r && (!opts.accept || opts.accept(r)));
    if (fit.length > 0) return opts.many ? fit : [fit[0]];
  }
  const candidates = s.store.list().filter((r) => !opts.accept || opts.accept(r));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage('No run fits this command.');
    return [];
  }
  const now = Date.now();
  const picked = await vscode.window.showQuickPick(
    candidates.map((r) => ({ label: runLabel(r), description: runDescription(r, now), detail: `${r.profile}${r.key ? ` · ${r.key}` : ''}`, run: r })),
    { placeHolder: opts.placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked ? [picked.run] : [];
}

/** One run (the first) or nothing. */
export async function runFromArgs(
  s: Services,
  arg: unknown,
  opts: { accept?: (r: Run) => boolean; placeHolder: string },
): Promise<Run | undefined> {
  return (await runsFromArgs(s, arg, undefined, opts))[0];
}

export const hasKey = (r: Run): boolean => !!r.key;
export const isDone = (r: Run): boolean => r.state === 'ok';
export const isActive = (r: Run): boolean => !!r.key && !isFinal(r.state);
