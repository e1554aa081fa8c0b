// Follow Output in the real extension host: a local run's output grows in its document while the
// run goes on (every line once, in order), an ended run's output is there as soon as it opens,
// and a failing script's traceback location becomes a diagnostic on the local file (the Problems
// panel) and a link in the output document.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { MuseExtensionApi } from '../../src/extension/extension';
import { museApi, resetMuseSettings, runEnded, runScript, setMuseSettings, tempDir, until } from './support';

const PROFILE = 'vstest-follow';

describe('Follow Output in a real VS Code', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let folder: vscode.Uri;

  before(async () => {
    api = await museApi();
    folder = vscode.workspace.workspaceFolders![0].uri;
    await setMuseSettings({ profiles: [{ name: PROFILE, kind: 'local', root: path.join(tempDir('follow-'), 'runs') }], activeProfile: PROFILE, pollInterval: 1 });
  });
  after(resetMuseSettings);

  function write(name: string, text: string): vscode.Uri {
    const uri = vscode.Uri.joinPath(folder, name);
    fs.writeFileSync(uri.fsPath, text);
    return uri;
  }

  it('shows the lines as the job writes them, each once and in order, then says the run ended', async () => {
    const script = write('count.py', 'import time\nfor i in range(1, 13):\n    print(f"line {i}", flush=True)\n    time.sleep(0.4)\n');
    const run = await runScript(api, script, 'python', 'python3 count.py');
    const editor = (await vscode.commands.executeCommand('muse.followOutput', { type: 'run', id: run.id })) as vscode.TextEditor | undefined;
    assert.ok(editor, `no editor: ${api.lastCommandError()}`);
    // A file in the extension's storage (follow/) that only grows at its end, read-only.
    assert.strictEqual(editor.document.uri.scheme, 'file');
    assert.match(editor.document.uri.path, /\/follow\/.*\/stdout\.log$/);
    const early = await until('a first line while the run goes on', () => (/line 1\n/.test(editor.document.getText()) ? editor.document.getText() : undefined), 30_000);
    assert.doesNotMatch(early, /line 12/, 'the document grew before the run ended');
    const text = await until('the end of the run in the document', () => (/\[The run ended/.test(editor.document.getText()) ? editor.document.getText() : undefined), 60_000);
    assert.deepStrictEqual(text.split('\n').filter((l) => l.startsWith('line ')), Array.from({ length: 12 }, (_, i) => `line ${i + 1}`));
    const last = editor.document.lineCount - 1;
    assert.ok(editor.selection.active.line >= last - 1, 'the cursor followed the end');
    // Closed, it is no longer followed and its file is removed.
    const file = editor.document.uri.fsPath;
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await until('the followed file removed once its tab closed', () => (fs.existsSync(file) ? undefined : true), 10_000);
  });

  it('keeps a background tab following: shown again, it has every line once and the end of the run', async () => {
    const script = write('count_bg.py', 'import time\nfor i in range(1, 11):\n    print(f"bg {i}", flush=True)\n    time.sleep(0.4)\n');
    const run = await runScript(api, script, 'python', 'python3 count_bg.py');
    const editor = (await vscode.commands.executeCommand('muse.followOutput', { type: 'run', id: run.id })) as vscode.TextEditor | undefined;
    assert.ok(editor, `no editor: ${api.lastCommandError()}`);
    const followed = editor.document;
    await until('a first line while the run goes on', () => (/bg 1\n/.test(followed.getText()) ? true : undefined), 30_000);
    // Another file in the same group: the output's tab is now in the background while the job writes.
    const other = write('notes_bg.txt', 'another file\n');
    await vscode.window.showTextDocument(other, { preview: false, viewColumn: editor.viewColumn });
    assert.ok(!vscode.window.visibleTextEditors.some((e) => e.document.uri.toString() === followed.uri.toString()), 'the output tab is hidden');
    const ended = await runEnded(api, run.id);
    assert.strictEqual(ended.state, 'ok');
    const shown = await vscode.window.showTextDocument(followed, { viewColumn: editor.viewColumn });
    const text = await until('the end of the run once the tab is shown', () => (/\[The run ended/.test(shown.document.getText()) ? shown.document.getText() : undefined), 30_000).catch(async (e: unknown) => {
      const onDisk = await fs.promises.readFile(followed.uri.fsPath, 'utf8').catch((r: unknown) => String(r));
      throw new Error(`${String(e)}; the document has ${JSON.stringify(shown.document.getText().slice(-200))}, its file ${JSON.stringify(onDisk.slice(-200))}`);
    });
    assert.deepStrictEqual(text.split('\n').filter((l) => l.startsWith('bg ')), Array.from({ length: 10 }, (_, i) => `bg ${i + 1}`));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('puts the traceback location in the Problems panel and links the path in the output', async () => {
    const script = write('boom.py', 'def div(a, b):\n    return a / b\n\nprint("start", flush=True)\nprint(div(1, 0))\n');
    const run = await runScript(api, script, 'python', 'python3 boom.py');
    const ended = await runEnded(api, run.id);
    assert.strictEqual(ended.state, 'failed');
    const diags = await until('a Muse diagnostic on boom.py', () => {
      const d = vscode.languages.getDiagnostics(script).filter((x) => x.source === 'Muse');
      return d.length ? d : undefined;
    }, 30_000);
    assert.strictEqual(diags[0]!.range.start.line, 1, 'line 2 of boom.py');
    assert.match(diags[0]!.message, /ZeroDivisionError: division by zero/);
    const editor = (await vscode.commands.executeCommand('muse.followStderr', { type: 'run', id: run.id })) as vscode.TextEditor;
    // A run that has ended: its whole output and its end are in the document as soon as it opens
    // (a write racing VS Code's first read of the file would leave it empty: there is no next one).
    assert.match(editor.document.getText(), /ZeroDivisionError[\s\S]*\[The run ended: failed\.\]/);
    const links = (await vscode.commands.executeCommand('vscode.executeLinkProvider', editor.document.uri)) as vscode.DocumentLink[];
    const targets = links.map((l) => l.target?.toString() ?? '');
    assert.ok(targets.some((t) => t.startsWith(script.toString()) && t.endsWith('#L2')), `a link to boom.py line 2 among ${JSON.stringify(targets)}`);
  });
});
