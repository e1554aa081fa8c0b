import * as vscode from 'vscode';
import type { OutputStream } from '../../core/backend';
import { MuseError } from '../../core/errors';
import type { Run } from '../../core/model';
import { COMPARE_SCHEME, CompareDocuments, compareName, compareUri, fromCompareUri } from '../compareDocuments';
import { runDescription, runLabel } from '../runTreeModel';
import type { Services } from '../services';
import { command } from './register';
import { hasKey, runsFromArgs } from './runArgs';

/** What a Compare opened (tests read it). */
export interface CompareOpened {
  a: string;
  b: string;
  stream: OutputStream;
  left: string;
  right: string;
}

/** Opens VS Code's diff editor on the two runs' output, the request differences above it. */
async function openCompare(a: Run, b: Run, stream: OutputStream): Promise<CompareOpened> {
  const left = compareUri(a, b, 'a', stream);
  const right = compareUri(a, b, 'b', stream);
  const title = `${stream}: ${compareName(a)} ↔ ${compareName(b)}`;
  await vscode.commands.executeCommand('vscode.diff', left, right, title, { preview: false });
  return { a: a.id, b: b.id, stream, left: left.toString(), right: right.toString() };
}

/** A quick pick of the other runs with a key, newest first. */
async function pickOther(s: Services, run: Run): Promise<Run | undefined> {
  const others = s.store.list().filter((r) => r.id !== run.id && hasKey(r));
  if (others.length === 0) throw new MuseError('usage', 'There is no other run to compare with.');
  const now = Date.now();
  const picked = await vscode.window.showQuickPick(
    others.map((r) => ({ label: runLabel(r), description: runDescription(r, now), detail: `${r.profile}${r.key ? ` · ${r.key}` : ''} · ${r.request.cmd}`, run: r })),
    { placeHolder: `Compare ${runLabel(run)} with...`, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.run;
}

/** Compare Runs (two selected rows), Compare with... (one row and a pick), Compare Standard Error. */
export function registerCompareCommands(s: Services): vscode.Disposable[] {
  const provider = new CompareDocuments(s.store, s.documents);
  return [
    vscode.workspace.registerTextDocumentContentProvider(COMPARE_SCHEME, provider),
    command(s, 'muse.compareRuns', async (arg?: unknown, selected?: unknown): Promise<CompareOpened | undefined> => {
      const runs = await runsFromArgs(s, arg, selected, { accept: hasKey, placeHolder: 'Run to compare', many: true });
      if (runs.length > 2) throw new MuseError('usage', `Select two runs to compare (${runs.length} are selected).`);
      if (runs.length === 0) return undefined;
      // Older on the left: the diff reads as "what changed since".
      const [a, b] = runs.length === 2 ? [...runs].sort((x, y) => (x.createdAt < y.createdAt ? -1 : 1)) : [runs[0]!, await pickOther(s, runs[0]!)];
      return b ? openCompare(a!, b, 'stdout') : undefined;
    }),
    command(s, 'muse.compareWith', async (arg?: unknown, other?: unknown): Promise<CompareOpened | undefined> => {
      const [run] = await runsFromArgs(s, arg, undefined, { accept: hasKey, placeHolder: 'Run to compare' });
      if (!run) return undefined;
      // A second run id as argument (tests, other commands) skips the pick.
      const b = typeof other === 'string' ? s.store.get(other) : await pickOther(s, run);
      return b ? openCompare(run, b, 'stdout') : undefined;
    }),
    command(s, 'muse.compareStderr', async (uri?: unknown): Promise<CompareOpened | undefined> => {
      const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
      const ref = target && fromCompareUri(target);
      if (!ref) throw new MuseError('usage', 'Open a Compare of two runs first.');
      const a = s.store.get(ref.a);
      const b = s.store.get(ref.b);
      if (!a || !b) throw new MuseError('notFound', 'One of the compared runs is no longer in the Runs list.');
      return openCompare(a, b, ref.stream === 'stdout' ? 'stderr' : 'stdout');
    }),
  ];
}
