/** Follow Output / Follow Standard Error: a run's output as a document that grows (followDocuments.ts). */
import type * as vscode from 'vscode';
import type { FollowDocuments } from '../followDocuments';
import type { Services } from '../services';
import { command } from './register';
import { hasKey, runFromArgs } from './runArgs';

/** `muse.followOutput` (stdout) and `muse.followStderr`; the editor is returned (tests). */
export function registerFollowCommands(s: Services, follow: FollowDocuments): vscode.Disposable[] {
  const open = (stream: 'stdout' | 'stderr') => async (arg?: unknown) => {
    const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: `Follow the ${stream === 'stdout' ? 'output' : 'standard error'} of which run?` });
    if (!run) return undefined;
    return follow.open(run, stream);
  };
  return [command(s, 'muse.followOutput', open('stdout')), command(s, 'muse.followStderr', open('stderr'))];
}
