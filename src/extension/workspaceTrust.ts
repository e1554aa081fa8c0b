import * as vscode from 'vscode';
import { cancelledError } from '../core/errors';
import { ask } from './prompts';

/**
 * Running sends files and starts commands: in Restricted Mode it asks for trust first (the
 * Runs tree, results and downloads work without it). Throws a cancelled error unless trusted.
 */
export async function requireTrust(what: string): Promise<void> {
  if (vscode.workspace.isTrusted) return;
  const manage = 'Manage Workspace Trust';
  const answer = await ask({
    kind: 'message',
    id: 'trust.required',
    severity: 'warning',
    modal: true,
    message: `${what} needs a trusted folder.`,
    detail: 'This folder is open in Restricted Mode. Muse Runner shows your runs and their results here, but sends files and starts commands only in a folder you trust.',
    choices: [manage],
  });
  if (answer === manage) await vscode.commands.executeCommand('workbench.trust.manage');
  throw cancelledError(what);
}
