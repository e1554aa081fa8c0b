import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run } from '../core/model';
import { resultsRoot, runResultsDir } from './resultPaths';
import type { Settings } from './settings';

/** Where downloaded results go: `muse.resultsFolder` (default `.muse/` in the workspace). */
export class ResultsFolders {
  constructor(
    private readonly settings: Settings,
    private readonly globalStorage: vscode.Uri,
  ) {}

  root(): string {
    const ws = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
    return resultsRoot(this.settings.resultsFolder, ws?.uri.fsPath, this.globalStorage.fsPath);
  }

  /** The run's folder (not created). */
  dirFor(run: Run): string {
    return runResultsDir(this.root(), run);
  }

  /** Where the run's results are kept once downloaded: `run.zip` or `stdout.txt`, as the run returns them. */
  resultsFile(run: Run): string {
    return path.join(this.dirFor(run), run.request.returnedType === 'run.zip' ? 'run.zip' : 'stdout.txt');
  }

  /** Where the run-folder zip is kept once downloaded. */
  contentZip(run: Run): string {
    return path.join(this.dirFor(run), 'content.zip');
  }

  /** Creates the run's folder; the root gets a `.gitignore` so results are not committed. */
  async ensureDir(run: Run): Promise<string> {
    const root = this.root();
    await fs.promises.mkdir(root, { recursive: true });
    const gi = path.join(root, '.gitignore');
    await fs.promises.writeFile(gi, '# Muse results, downloaded by the Muse Runner extension\n*\n', { flag: 'wx' }).catch(() => undefined);
    const dir = this.dirFor(run);
    await fs.promises.mkdir(dir, { recursive: true });
    return dir;
  }
}
