import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { can } from '../../core/backend';
import type { Backend } from '../../core/backend';
import { MuseError, cancelledError } from '../../core/errors';
import type { InputFile, ReturnedType, Run, SubmitRequest } from '../../core/model';
import { RETURNED_TYPES } from '../../core/model';
import type { Profile } from '../../core/profiles';
import { rerunRequest } from '../../core/rerunRequest';
import { commandFor } from '../commandTemplate';
import { loadCore } from '../coreBundle';
import { ask } from '../prompts';
import type { Renewal } from '../renewal';
import type { Services } from '../services';
import { command } from './register';
import { runFromArgs } from './runArgs';
import { withTransferProgress } from './transferProgress';
import { requireTrust } from '../workspaceTrust';

/** Options a caller (a test, another extension, a keybinding) may pass to skip the questions. */
export interface RunOptions {
  profile?: string;
  software?: string;
  cmd?: string;
  cmdOption?: string;
  returnedType?: ReturnedType;
  /** Ask "Run?" with the summary first (default true). */
  confirm?: boolean;
}

export function isRunOptions(x: unknown): x is RunOptions {
  return !!x && typeof x === 'object' && !(x instanceof vscode.Uri) && !Array.isArray(x);
}

/** The files the user means: explorer selection, the clicked file, or the active editor's. */
export async function scriptsFrom(uri: unknown, uris: unknown): Promise<vscode.Uri[]> {
  let list: vscode.Uri[] = [];
  if (Array.isArray(uris) && uris.length > 0 && uris.every((u) => u instanceof vscode.Uri)) list = uris as vscode.Uri[];
  else if (uri instanceof vscode.Uri) list = [uri];
  else if (vscode.window.activeTextEditor) list = [vscode.window.activeTextEditor.document.uri];
  if (list.length === 0) throw new MuseError('usage', 'Open a script (or select files in the explorer) to run it on Muse.');
  for (const u of list) {
    if (u.scheme !== 'file') throw new MuseError('usage', `Only files on disk can be run (${u.scheme}: is not).`);
    // Run what the user sees: save unsaved changes first.
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === u.toString());
    if (doc?.isDirty && !(await doc.save())) throw new MuseError('usage', `Could not save ${path.basename(u.fsPath)} before running it.`);
  }
  return list;
}

/** The software name of a local run without an image (the tree shows "direct · add.py"). */
export const LOCAL_DIRECT_SOFTWARE = 'direct';

async function pickSoftware(s: Services, profile: Profile, backend: Backend, always: boolean, renewal: Renewal): Promise<string> {
  if (!always && profile.defaultSoftware) return profile.defaultSoftware;
  let names: { label: string; description?: string }[] = [];
  if (can(backend, 'listSoftware')) {
    const list = await renewal.run(() =>
      vscode.window.withProgress({ location: { viewId: 'muse.runs' }, title: 'Listing software' }, () => backend.listSoftware()),
    );
    names = list.map((sw) => ({ label: sw.name, description: sw.description }));
  } else if ('images' in profile && profile.images) {
    names = Object.keys(profile.images).map((n) => ({ label: n, description: profile.images![n] }));
  }
  if (names.length === 1 && !always) return names[0].label;
  // The local runner with no image runs the command directly: there is no software to choose.
  if (names.length === 0 && !always && profile.kind === 'local') return profile.defaultSoftware ?? LOCAL_DIRECT_SOFTWARE;
  if (names.length === 0) {
    const typed = await ask({
      kind: 'input',
      id: 'run.softwareName',
      title: `Muse: software on ${profile.name}`,
      prompt: 'Name of the software (container image) to run. Set "images" or "defaultSoftware" in the profile to skip this question.',
      value: profile.defaultSoftware ?? '',
    });
    if (!typed?.trim()) throw cancelledError('Run');
    return typed.trim();
  }
  const picked = await ask({ kind: 'pick', id: 'run.software', title: `Muse: software on ${profile.name}`, placeHolder: 'Software to run the script with', items: names });
  if (!picked) throw cancelledError('Run');
  s.log('run').debug(`software ${picked}`);
  return picked;
}

/** What Run on Muse and Run as Sweep ask first, the same way: profile, token, software, files, the prefilled command. */
export interface PreparedRun {
  profile: Profile;
  gesture: Renewal;
  backend: Backend;
  software: string;
  /** The script the run is named after (the first of `scripts`). */
  main: vscode.Uri;
  selection: { files: InputFile[]; totalBytes: number };
  /** The command as the profile's templates write it for the script (or `opts.cmd`). */
  cmd: string;
}

/**
 * The steps every run flow starts with: trust, the profile, a token renewed before any question,
 * the software, the files selected around the scripts and the command prefilled from the templates.
 */
export async function prepareRun(s: Services, scripts: vscode.Uri[], opts: RunOptions, withOptions: boolean, renewal?: Renewal): Promise<PreparedRun> {
  await requireTrust('Running a script');
  const profile = opts.profile ? s.settings.profile(opts.profile) : s.settings.activeProfile;
  if (!profile) throw new MuseError('usage', `No profile named "${opts.profile}".`);
  const gesture = renewal ?? s.auth.renewal(profile, true);
  // A ws token expired (or about to) is renewed now, silently or by asking once: before the
  // user answers the flow's questions, and before any upload bound to be refused.
  await gesture.ensureToken();
  const backend = await s.backends.get(profile);

  const software = opts.software ?? (await pickSoftware(s, profile, backend, withOptions, gesture));
  const main = scripts[0];
  const folder = vscode.workspace.getWorkspaceFolder(main);
  const { selectFiles } = loadCore();
  const selection = await selectFiles({
    root: folder?.uri.fsPath,
    scripts: scripts.map((u) => u.fsPath),
    include: profile.include,
    exclude: profile.exclude,
  });
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === main.toString());
  const cmd = opts.cmd ?? commandFor(profile.commandTemplates, doc?.languageId, selection.files[0].name);
  return { profile, gesture, backend, software, main, selection, cmd };
}

/**
 * The whole run flow: software, command, files, summary, upload, key stored at once. `renewal`
 * is the gesture's token budget when the flow is part of a larger one (Browse Software).
 */
export async function runFlow(s: Services, scripts: vscode.Uri[], opts: RunOptions, withOptions: boolean, renewal?: Renewal): Promise<Run | undefined> {
  const { profile, gesture, backend, software, main, selection, ...prepared } = await prepareRun(s, scripts, opts, withOptions, renewal);
  const { summarizeSelection } = loadCore();
  let files: InputFile[] = selection.files;
  let cmd = prepared.cmd;
  if (opts.cmd === undefined) {
    const typed = await ask({
      kind: 'input',
      id: 'run.cmd',
      title: `Muse: run ${path.basename(main.fsPath)} with ${software} on ${profile.name}`,
      prompt: 'Command run in the run folder (inside the container)',
      value: cmd,
    });
    if (typed === undefined) throw cancelledError('Run');
    cmd = typed;
  }

  let cmdOption = opts.cmdOption;
  let returnedType = opts.returnedType ?? profile.returnedType;
  if (withOptions) {
    if (files.length > 1) {
      const picked = await vscode.window.showQuickPick(
        files.map((f, i) => ({ label: f.name, picked: true, alwaysShow: i === 0, file: f })),
        { canPickMany: true, title: 'Muse: files sent with the run', placeHolder: 'Uncheck the files not to send' },
      );
      if (!picked) throw cancelledError('Run');
      files = picked.map((p) => p.file);
      if (files.length === 0) throw new MuseError('usage', 'No file left to send.');
    }
    if (cmdOption === undefined) {
      cmdOption = await ask({ kind: 'input', id: 'run.cmdOption', title: 'Muse: container options', prompt: 'Singularity options (cmd_option), e.g. --bind /data:/data; empty for none', value: '' });
      if (cmdOption === undefined) throw cancelledError('Run');
    }
    if (opts.returnedType === undefined) {
      const rt = await ask({
        kind: 'pick',
        id: 'run.returnedType',
        title: 'Muse: what the run returns',
        items: RETURNED_TYPES.map((t) => ({ label: t, description: t === 'stdout' ? 'standard output as text' : t === 'stdout.txt' ? 'standard output as a file' : 'the run folder, zipped' })),
      });
      if (!rt || !(RETURNED_TYPES as readonly string[]).includes(rt)) throw cancelledError('Run');
      returnedType = rt as ReturnedType;
    }
  }

  let totalBytes = selection.totalBytes;
  if (files.length !== selection.files.length) {
    totalBytes = 0;
    for (const f of files) totalBytes += (await fs.promises.stat(f.path)).size;
  }
  const summary = summarizeSelection({ files, totalBytes });
  if (opts.confirm !== false) {
    const go = 'Run';
    const shown = files.slice(0, 12).map((f) => `  ${f.name}`).join('\n') + (files.length > 12 ? `\n  ... and ${files.length - 12} more` : '');
    const answer = await ask({
      kind: 'message',
      id: 'run.confirm',
      severity: 'info',
      modal: true,
      message: `Run ${path.basename(main.fsPath)} on ${profile.name}?`,
      detail: `${software}: ${cmd}\n${summary}:\n${shown}`,
      choices: [go],
    });
    if (answer !== go) throw cancelledError('Run');
  }

  const request: SubmitRequest = { software, cmd, files, filesOrder: files.map((f) => f.name) };
  if (cmdOption) request.cmdOption = cmdOption;
  if (returnedType) request.returnedType = returnedType;
  if (profile.sbatchList) request.sbatchList = profile.sbatchList;
  if (profile.moduleList) request.moduleList = profile.moduleList;
  return submitWithProgress(s, profile, backend, request, path.basename(main.fsPath), summary, gesture);
}

/**
 * Submits under a cancellable notification that shows the bytes sent; the key is stored at once.
 * A submit refused for its token is sent once more after a renewal (`renewal`: the gesture's
 * budget). That is safe here, and only here among the failures of an upload: the ws server checks
 * the `jwt` parameter before it creates anything, so a 401/403 (or an expired token the client
 * would not even send) means no run exists; the refused record, which has no key, is dropped.
 * A network error, by contrast, may have reached the server: it is never resubmitted.
 */
export async function submitWithProgress(s: Services, profile: Profile, backend: Backend, request: SubmitRequest, label: string, summary: string, renewal: Renewal, rerunOf?: string): Promise<Run> {
  const { submitRun } = await import('../../core/runs.js');
  const log = s.log('run');
  log.info(`submitting ${label} (${request.software}: ${request.cmd}) to "${profile.name}", ${summary}`);
  let recorded: string | undefined;
  const onRecorded = (r: Run): void => {
    recorded = r.id;
    void s.runsView.reveal(r.id);
  };
  const send = (): Thenable<Run> =>
    withTransferProgress(`Muse: sending ${label} to ${profile.name}`, (o) => submitRun({ backend, store: s.store, profile, request, label, rerunOf, onRecorded, notifyIn: s.windowId }, o), true);
  const run = await renewal.run(
    send,
    async () => {
      log.info(`the token was refused before the run was created; sending ${label} again with the new one`);
      if (recorded) await s.store.remove([recorded]);
    },
  );
  log.info(`submitted ${label}: key ${run.key}`);
  s.poller.wake();
  void s.runsView.reveal(run.id);
  const copy = 'Copy Key';
  void vscode.window.showInformationMessage(`Muse: ${label} submitted to ${profile.name} (key ${run.key}).`, copy).then((p) => {
    if (p === copy && run.key) void vscode.env.clipboard.writeText(run.key);
  });
  return run;
}

/**
 * What a rerun starts from (Rerun, Rerun with Changes): trust asked for, the run's profile (still
 * configured), a token when it needs one, and the stored request with its files found again
 * under the workspace folder.
 */
export async function prepareRerun(s: Services, run: Run): Promise<{ profile: Profile; renewal: Renewal; request: SubmitRequest }> {
  await requireTrust('Running a script again');
  const profile = s.settings.profile(run.profile);
  if (!profile) throw new MuseError('usage', `The profile "${run.profile}" of this run is no longer configured.`);
  const renewal = s.auth.renewal(profile, true);
  await renewal.ensureToken();
  const root = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
  return { profile, renewal, request: await rerunRequest(run, root) };
}

/** Rerun: the same request, with the files found again under the workspace folder. */
async function rerun(s: Services, run: Run): Promise<Run | undefined> {
  const { profile, renewal, request } = await prepareRerun(s, run);
  const backend = await s.backends.get(profile);
  return submitWithProgress(s, profile, backend, request, run.label ?? run.software, `${request.files?.length ?? 0} file(s)`, renewal, run.id);
}

/** The software of the active profile; "Run Active File with It" runs (and returns) the run. */
async function browseSoftware(s: Services): Promise<Run | undefined> {
  const profile = s.settings.activeProfile;
  const backend = await s.backends.get(profile);
  if (!can(backend, 'listSoftware')) {
    const images = 'images' in profile ? Object.keys(profile.images ?? {}) : [];
    void vscode.window.showInformationMessage(
      images.length ? `${profile.name} runs: ${images.join(', ')} (the profile's images).` : `${profile.name} does not list its software; set "images" in the profile.`,
    );
    return undefined;
  }
  const renewal = s.auth.renewal(profile, true);
  const list = await renewal.run(() =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Listing the software of ${profile.name}` }, () => backend.listSoftware()),
  );
  const name = await ask({
    kind: 'pick',
    id: 'software.pick',
    title: `Muse: software on ${profile.name}`,
    items: list.map((sw) => ({ label: sw.name, description: sw.shortName, detail: [sw.description, sw.keywords?.join(', ')].filter(Boolean).join(' · ') })),
  });
  const sw = list.find((x) => x.name === name);
  if (!sw) return undefined;
  const run = 'Run Active File with It';
  const docs = Object.entries(sw.urls ?? {});
  const choice = await ask({ kind: 'message', id: 'software.chosen', severity: 'info', message: `${sw.name}: ${sw.description ?? ''}`, choices: [run, ...docs.map(([k]) => k)] });
  // The same gesture: a token renewed for the list is not renewed (or asked for) again.
  if (choice === run) return runFlow(s, await scriptsFrom(undefined, undefined), { software: sw.name }, false, renewal);
  const url = docs.find(([k]) => k === choice)?.[1];
  if (url) await vscode.env.openExternal(vscode.Uri.parse(url));
  return undefined;
}

/** Run active file / selected files / with options, rerun, browse software. */
export function registerRunCommands(s: Services): vscode.Disposable[] {
  // Arguments: (uri, uris) from menus, or (undefined, undefined, RunOptions) from code.
  const run = (withOptions: boolean) => async (uri?: unknown, uris?: unknown, opts?: unknown) => {
    const o = isRunOptions(opts) ? opts : isRunOptions(uri) ? uri : {};
    return runFlow(s, await scriptsFrom(isRunOptions(uri) ? undefined : uri, uris), o, withOptions);
  };
  return [
    command(s, 'muse.runActiveFile', run(false)),
    command(s, 'muse.runSelectedFiles', run(false)),
    command(s, 'muse.runWithOptions', run(true)),
    command(s, 'muse.rerun', async (arg?: unknown) => {
      const r = await runFromArgs(s, arg, { placeHolder: 'Run to submit again' });
      return r ? rerun(s, r) : undefined;
    }),
    command(s, 'muse.browseSoftware', () => browseSoftware(s)),
  ];
}
