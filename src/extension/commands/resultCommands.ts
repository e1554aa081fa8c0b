import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { can, cannot } from '../../core/backend';
import { MuseError } from '../../core/errors';
import type { Run } from '../../core/model';
import { runRef } from '../../core/runs';
import { loadCore } from '../coreBundle';
import { ask } from '../prompts';
import { runLabel } from '../runTreeModel';
import { safeFileName } from '../resultPaths';
import type { Services } from '../services';
import { toZipUri } from '../uris';
import { command } from './register';
import { hasKey, isDone, runFromArgs } from './runArgs';
import { withTransferProgress } from './transferProgress';

/** Options for callers that must not be asked anything (tests, automation). */
interface ContentOptions {
  /** Skip the "Browse / Extract" question. */
  quiet?: boolean;
}

async function openDocument(s: Services, run: Run, kind: 'stdout' | 'stderr' | 'report'): Promise<vscode.TextDocument> {
  const doc = await s.documents.openForUser(run, kind);
  await vscode.window.showTextDocument(doc, { preview: false });
  return doc;
}

/** Downloads the run-folder zip to `dest`, for a user's command. */
async function downloadContentTo(s: Services, run: Run, dest: string): Promise<void> {
  const backend = await s.backends.get(run.profile);
  await s.auth
    .renewal(run.profile, true)
    .run(() => withTransferProgress(`Muse: downloading the run folder of ${runLabel(run)}`, (o) => backend.content(runRef(run), dest, o)));
}

/** Downloads the run-folder zip into the run's results folder (once), and returns its path. */
async function ensureContentZip(s: Services, run: Run): Promise<string> {
  const dest = s.results.contentZip(run);
  if (await fs.promises.stat(dest).catch(() => undefined)) return dest;
  await s.results.ensureDir(run);
  await downloadContentTo(s, run, dest);
  s.zipFs.invalidate(run.id);
  return dest;
}

/** The `muse-zip:` root of a run's content. */
function zipRoot(run: Run): vscode.Uri {
  return vscode.Uri.from(toZipUri(run.id));
}

/**
 * Adds the zip as a workspace folder and reveals it in the explorer. Outside a multi-root
 * workspace, adding a folder turns the window into an untitled workspace (a reload and an
 * extension-host restart), so the user chooses first: add anyway, a new window, or extract.
 */
async function browseInExplorer(s: Services, run: Run, zip: string): Promise<void> {
  const root = zipRoot(run);
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (!folders.some((f) => f.uri.toString() === root.toString())) {
    if (!vscode.workspace.workspaceFile) {
      const add = 'Add to Workspace';
      const newWindow = 'Open in New Window';
      const doExtract = 'Extract';
      const answer = await ask({
        kind: 'message',
        id: 'content.browseReload',
        severity: 'info',
        modal: true,
        message: `Browse the run folder of ${runLabel(run)} in the Explorer?`,
        detail: 'Adding it as a workspace folder reloads this window (it becomes an untitled multi-root workspace). You can open it in a new window or extract it instead.',
        choices: [add, newWindow, doExtract],
        subject: run.id,
      });
      if (answer === newWindow) {
        await vscode.commands.executeCommand('vscode.openFolder', root, { forceNewWindow: true });
        return;
      }
      if (answer === doExtract) {
        await extract(s, run, zip);
        return;
      }
      if (answer !== add) return;
    }
    vscode.workspace.updateWorkspaceFolders(folders.length, 0, { uri: root, name: `Muse: ${runLabel(run)}` });
  }
  await vscode.commands.executeCommand('workbench.view.explorer');
  await vscode.commands.executeCommand('revealInExplorer', root).then(undefined, () => undefined);
}

/** Extracts the content zip (safely: nothing can land outside the target) and offers to reveal it. */
async function extract(s: Services, run: Run, zip: string): Promise<string> {
  const dest = path.join(s.results.dirFor(run), 'content');
  const { extractZip } = loadCore();
  const files = await withTransferProgress(`Muse: extracting the run folder of ${runLabel(run)}`, (o) => extractZip(zip, dest, o));
  s.log('results').info(`extracted ${files.length} files to ${dest}`);
  const reveal = 'Reveal in Explorer';
  void vscode.window.showInformationMessage(`Extracted ${files.length} files to ${dest}.`, reveal).then(async (p) => {
    if (p !== reveal) return;
    const uri = vscode.Uri.file(dest);
    if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
    else await vscode.commands.executeCommand('revealFileInOS', uri);
  });
  return dest;
}

async function openContent(s: Services, run: Run, opts: ContentOptions): Promise<vscode.Uri> {
  const zip = await ensureContentZip(s, run);
  const root = zipRoot(run);
  if (!opts.quiet) {
    const browse = 'Browse in Explorer';
    const doExtract = 'Extract';
    const openFile = 'Open a File...';
    void vscode.window.showInformationMessage(`The run folder of ${runLabel(run)} is ready (${zip}).`, browse, openFile, doExtract).then(async (p) => {
      if (p === browse) await browseInExplorer(s, run, zip);
      else if (p === doExtract) await extract(s, run, zip);
      else if (p === openFile) await openEntry(root);
    });
  }
  return root;
}

/** Quick pick of the zip's files, opening the one chosen (no extraction). */
async function openEntry(root: vscode.Uri): Promise<void> {
  const names: string[] = [];
  const walk = async (dir: vscode.Uri, prefix: string): Promise<void> => {
    for (const [name, type] of await vscode.workspace.fs.readDirectory(dir)) {
      if (type === vscode.FileType.Directory) await walk(vscode.Uri.joinPath(dir, name), `${prefix}${name}/`);
      else names.push(`${prefix}${name}`);
    }
  };
  await walk(root, '');
  const picked = await vscode.window.showQuickPick(names, { placeHolder: 'File of the run folder to open' });
  if (picked) await vscode.window.showTextDocument(vscode.Uri.joinPath(root, ...picked.split('/')), { preview: true });
}

/** Where to save a download (the save dialog, answerable by tests), with its folder made. */
async function saveTarget(title: string, defaultPath: string, filters?: Record<string, string[]>): Promise<string | undefined> {
  const dest = await ask({ kind: 'save', id: 'download.saveAs', title, defaultPath, filters });
  if (dest) await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  return dest;
}

async function downloadResults(s: Services, run: Run): Promise<string | undefined> {
  const dest = await saveTarget(`Muse: save the results of ${runLabel(run)}`, s.results.resultsFile(run));
  if (!dest) return undefined;
  const backend = await s.backends.get(run.profile);
  const renewal = s.auth.renewal(run.profile, true);
  const outcome = await renewal.run(() => withTransferProgress(`Muse: downloading the results of ${runLabel(run)}`, (o) => backend.results(runRef(run), dest, o)));
  if (outcome.kind === 'stdout') await fs.promises.writeFile(dest, outcome.text);
  if (outcome.kind === 'downloadKey') {
    if (!can(backend, 'download')) throw cannot(backend.kind, 'download', { profile: run.profile, hint: `The results are kept under the key ${outcome.key} (${outcome.url}).` });
    const download = backend.download.bind(backend);
    await renewal.run(() => withTransferProgress(`Muse: downloading ${outcome.key}`, (o) => download(outcome.key, dest, o)));
    await s.store.update(run.id, { downloadKey: outcome.key }).catch(() => undefined);
  }
  void vscode.window.showInformationMessage(`Saved the results to ${dest}.`);
  return dest;
}

async function downloadContent(s: Services, run: Run): Promise<string | undefined> {
  const dest = await saveTarget(`Muse: save the run folder of ${runLabel(run)}`, path.join(s.results.dirFor(run), `${safeFileName(runLabel(run))}-content.zip`), { Zip: ['zip'] });
  if (!dest) return undefined;
  await downloadContentTo(s, run, dest);
  void vscode.window.showInformationMessage(`Saved the run folder to ${dest}.`);
  return dest;
}

async function downloadByKey(s: Services): Promise<string | undefined> {
  const key = (await ask({ kind: 'input', id: 'download.key', title: 'Muse: download by key', prompt: 'Download key (as in .../download/?key=...)' }))?.trim();
  if (!key) return undefined;
  if (!/^[\w.-]+$/.test(key)) throw new MuseError('usage', 'A download key is made of letters, digits, "_", "-" and ".".');
  const profile = s.settings.activeProfile;
  const backend = await s.backends.get(profile);
  if (!can(backend, 'download')) throw cannot(backend.kind, 'download', { profile: profile.name, hint: 'Select a ws profile.' });
  const download = backend.download.bind(backend);
  const dest = await saveTarget(`Muse: save the download ${key}`, path.join(s.results.root(), safeFileName(key)));
  if (!dest) return undefined;
  await s.auth.renewal(profile, true).run(() => withTransferProgress(`Muse: downloading ${key}`, (o) => download(key, dest, o)));
  void vscode.window.showInformationMessage(`Saved ${key} to ${dest}.`);
  return dest;
}

/** Open results / stderr / report / content, reveal, downloads. */
export function registerResultCommands(s: Services): vscode.Disposable[] {
  return [
    command(s, 'muse.openResults', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: isDone, placeHolder: 'Run whose results to open' });
      if (!run) return undefined;
      if (run.request.returnedType === 'run.zip') return openContent(s, run, {});
      return openDocument(s, run, 'stdout');
    }),
    command(s, 'muse.openStderr', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: 'Run whose standard error to open' });
      return run && openDocument(s, run, 'stderr');
    }),
    command(s, 'muse.showReport', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { placeHolder: 'Run whose state report to show' });
      return run && openDocument(s, run, 'report');
    }),
    command(s, 'muse.openContent', async (arg?: unknown, opts?: ContentOptions) => {
      const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: 'Run whose folder to open' });
      return run && openContent(s, run, opts ?? {});
    }),
    command(s, 'muse.revealContent', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: 'Run whose folder to show in the explorer' });
      if (!run) return;
      await browseInExplorer(s, run, await ensureContentZip(s, run));
    }),
    command(s, 'muse.downloadResults', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: isDone, placeHolder: 'Run whose results to download' });
      return run && downloadResults(s, run);
    }),
    command(s, 'muse.downloadContent', async (arg?: unknown) => {
      const run = await runFromArgs(s, arg, { accept: hasKey, placeHolder: 'Run whose folder to download' });
      return run && downloadContent(s, run);
    }),
    command(s, 'muse.downloadByKey', () => downloadByKey(s)),
  ];
}
