// The extension's features inside the real extension host: commands, the run flow on the local
// runner end to end, the results document, the Runs tree, the read-only zip file system.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunsNode } from '../../src/extension/runsView';
import { EXTENSION_ID, museApi, PromptRecorder, resetMuseSettings, setMuseSettings, until } from './support';

const PROFILE = 'vstest-local';

describe('Muse Runner features in a real VS Code', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let script: vscode.Uri;
  let tmp: string;

  before(async () => {
    api = await museApi();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'no workspace folder open');
    script = vscode.Uri.joinPath(folder.uri, 'add.py');
    tmp = fs.mkdtempSync(path.join(process.env.MUSE_VSCODE_RUN_DIR ?? os.tmpdir(), 'ext-test-'));
    // Our own local profile, with its run folders in a temp folder: nothing shared with other tests.
    await setMuseSettings({
      profiles: [{ name: PROFILE, kind: 'local', root: path.join(tmp, 'runs'), commandTemplates: { python: 'python3 {file} 4 5' } }],
      activeProfile: PROFILE,
      pollInterval: 1,
    });
  });

  after(resetMuseSettings);

  it('registers every command the manifest declares', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const declared: string[] = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    assert.ok(declared.length >= 22);
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepStrictEqual(declared.filter((c) => !registered.has(c)), []);
  });

  it('activates quickly', () => {
    // Not a timed assertion of the test's speed: the extension reports its own activation time.
    assert.ok(api.activationMs >= 0);
    console.log(`      activation took ${api.activationMs.toFixed(1)} ms`);
  });

  describe('running the active file on the local runner', () => {
    let run: Run;

    it('submits the script with its key stored at once', async () => {
      const editor = await vscode.window.showTextDocument(script);
      assert.strictEqual(editor.document.languageId, 'python');
      const submitted = (await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, {
        software: 'python',
        cmd: 'python3 add.py 4 5',
        confirm: false,
      })) as Run | undefined;
      assert.ok(submitted, `no run came back: ${api.lastCommandError()}`);
      assert.ok(submitted.key, 'the run has no key');
      assert.strictEqual(submitted.profile, PROFILE);
      assert.deepStrictEqual(submitted.request.files, ['add.py']);
      assert.ok(api.store.get(submitted.id), 'the run is not in the store');
      run = submitted;
    });

    it('follows the run until it is done', async () => {
      const done = await until('the run to end', () => {
        const r = api.store.get(run.id);
        return r && (r.state === 'ok' || r.state === 'failed' || r.state === 'cancelled') ? r : undefined;
      });
      assert.strictEqual(done.state, 'ok', `ended ${done.state}: ${done.lastError ?? ''}`);
      run = done;
    });

    it('shows the run in the Runs tree under its profile, with its results actions', async () => {
      const view = api.runsView;
      const roots = view.getChildren() as RunsNode[];
      const profileNode = roots.find((n) => n.type === 'profile' && n.name === PROFILE);
      assert.ok(profileNode, `no ${PROFILE} node among ${JSON.stringify(roots)}`);
      const item = await until('the tree item to show done', () => {
        const node = (view.getChildren(profileNode) as RunsNode[]).find((n) => n.type === 'run' && n.id === run.id);
        const it = node && view.getTreeItem(node);
        return it && String(it.description).startsWith('done') ? it : undefined;
      });
      assert.strictEqual(item.label, 'python · add.py');
      assert.match(String(item.contextValue), /^run;ok;keyed;.*results/);
      assert.match(String(item.contextValue), /;content/);
      assert.doesNotMatch(String(item.contextValue), /;cancellable/);
    });

    it('opens the results as a read-only document that reads 9.0', async () => {
      const doc = (await vscode.commands.executeCommand('muse.openResults', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
      assert.ok(doc, `no document: ${api.lastCommandError()}`);
      assert.strictEqual(doc.uri.scheme, 'muse-run');
      assert.ok(doc.uri.path.endsWith('/stdout.txt'), doc.uri.path);
      assert.ok(doc.uri.path.startsWith(`/${PROFILE}/`), `the tab's path names the run's profile: ${doc.uri.path}`);
      assert.strictEqual(doc.getText().trim(), '9.0');
      assert.strictEqual(vscode.window.activeTextEditor?.document.uri.toString(), doc.uri.toString());
    });

    it('an Open Results that reaches the command without its row acts on the selected run, without asking', async () => {
      // What an inline click during a tree redraw does: the command runs with no argument.
      await vscode.commands.executeCommand('workbench.view.extension.muse');
      await until('the Runs view to be visible', () => (api.runsView.treeView.visible ? true : undefined), 10_000);
      const view = api.runsView;
      const group = (view.getChildren() as RunsNode[]).find((n) => n.type === 'profile' && n.name === PROFILE)!;
      const node = (view.getChildren(group) as RunsNode[]).find((n) => n.type === 'run' && n.id === run.id)!;
      await view.treeView.reveal(node, { select: true, focus: false });
      await until('the run to be selected', () => (api.runsView.treeView.selection.some((n) => n.type === 'run' && n.id === run.id) ? true : undefined), 10_000);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      let done = false;
      const opened = vscode.commands.executeCommand('muse.openResults').then((d) => ((done = true), d as vscode.TextDocument | undefined));
      try {
        await until('the results to open', () => (done ? true : undefined), 15_000);
      } finally {
        // Before the fix a quick pick opened instead: close it so the command ends.
        if (!done) await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      }
      const doc = await opened;
      assert.ok(doc, api.lastCommandError());
      assert.strictEqual(doc.getText().trim(), '9.0');
    });

    it('opens the standard error too', async () => {
      const doc = (await vscode.commands.executeCommand('muse.openStderr', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
      assert.ok(doc, `no document: ${api.lastCommandError()}`);
      assert.ok(doc.uri.path.endsWith('/stderr.txt'));
      assert.strictEqual(doc.getText().trim(), '');
    });

    it('browses the run folder zip without extracting it, read-only', async () => {
      const root = (await vscode.commands.executeCommand('muse.openContent', { type: 'run', id: run.id }, { quiet: true })) as vscode.Uri | undefined;
      assert.ok(root, `no zip root: ${api.lastCommandError()}`);
      assert.strictEqual(root.scheme, 'muse-zip');
      const names = (await vscode.workspace.fs.readDirectory(root)).map(([n]) => n);
      assert.ok(names.includes('add.py'), `entries: ${names.join(', ')}`);
      const inZip = Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(root, 'add.py'))).toString('utf8');
      assert.strictEqual(inZip, fs.readFileSync(script.fsPath, 'utf8'));
      await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(vscode.Uri.joinPath(root, 'x.txt'), Buffer.from('x'))), /NoPermissions|permission/i);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.delete(vscode.Uri.joinPath(root, 'add.py'))), /NoPermissions|permission/i);
      // The zip sits in the workspace's results folder, which git is told to ignore.
      const resultsRoot = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.muse');
      assert.ok(fs.existsSync(path.join(resultsRoot, '.gitignore')));
    });

    it('asks before Browse in Explorer turns this single-folder window into a workspace, and a dismissal changes nothing', async () => {
      const prompts = new PromptRecorder(api, { 'content.browseReload': undefined });
      try {
        const before = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
        await vscode.commands.executeCommand('muse.revealContent', { type: 'run', id: run.id });
        const q = prompts.asked.find((x) => x.id === 'content.browseReload');
        assert.ok(q && q.kind === 'message' && q.modal, api.lastCommandError());
        assert.match(q.detail ?? '', /reload/);
        assert.deepStrictEqual((vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString()), before);
      } finally {
        prompts.dispose();
      }
    });

    it('removes the finished run from the list', async () => {
      await vscode.commands.executeCommand('muse.remove', { type: 'run', id: run.id });
      assert.strictEqual(api.store.get(run.id), undefined, api.lastCommandError());
    });
  });

  it('cancels a running run', async () => {
    await vscode.window.showTextDocument(script);
    const run = (await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, {
      software: 'python',
      cmd: 'python3 -c "import time; time.sleep(120)"',
      confirm: false,
    })) as Run | undefined;
    assert.ok(run, `no run: ${api.lastCommandError()}`);
    await until('the run to be waiting', () => (api.store.get(run.id)?.state === 'waiting' ? true : undefined));
    await vscode.commands.executeCommand('muse.cancel', { type: 'run', id: run.id });
    const ended = await until('the run to end', () => {
      const r = api.store.get(run.id);
      return r && r.state !== 'waiting' && r.state !== 'submitting' ? r : undefined;
    }, 30_000);
    assert.strictEqual(ended.state, 'cancelled', api.lastCommandError());
  });
});
