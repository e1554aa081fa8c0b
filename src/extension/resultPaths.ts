/**
 * Where a run's files go on this machine: `<results folder>/<software>-<script>-<key8>/`.
 * No vscode import (unit-tested).
 */
import * as path from 'path';
import type { Run } from '../core/model';
import { runScriptName } from './runTreeModel';

/** A folder name made only of safe characters. */
export function safeFileName(text: string): string {
  const s = text.replace(/\.{2,}/g, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 60);
  return s || 'run';
}

/**
 * The results folder: an absolute setting as it is, a relative one under the first workspace
 * folder, and the extension's global storage when there is no workspace.
 */
export function resultsRoot(setting: string | undefined, workspaceFolder: string | undefined, globalStorage: string): string {
  const s = (setting ?? '').trim() || '.muse';
  if (path.isAbsolute(s)) return s;
  if (workspaceFolder) return path.join(workspaceFolder, s);
  return path.join(globalStorage, 'results');
}

/** The folder of one run's downloaded files. */
export function runResultsDir(root: string, run: Run): string {
  const script = runScriptName(run);
  const key = (run.key ?? run.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  return path.join(root, safeFileName(`${run.software}-${script ? `${script}-` : ''}${key}`));
}
