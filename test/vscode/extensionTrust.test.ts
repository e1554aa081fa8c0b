// In an untrusted folder (Restricted Mode; run.sh's phase 3c opens one whose .vscode/settings.json
// names a profile "from-the-repository", makes it active and points results elsewhere): the
// extension is enabled, the folder's settings that decide where runs go count for nothing, and
// running asks for trust instead of running.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { MuseExtensionApi } from '../../src/extension/extension';
import { PromptRecorder, exampleScript, museApi } from './support';

describe('Muse Runner in an untrusted folder', function () {
  this.timeout(60_000);
  let api: MuseExtensionApi;
  let prompts: PromptRecorder;

  before(async () => {
    assert.strictEqual(vscode.workspace.isTrusted, false, 'run.sh opens this folder untrusted (Restricted Mode)');
    api = await museApi();
    prompts = new PromptRecorder(api, { 'trust.required': undefined });
  });

  after(() => prompts?.dispose());

  it('is active in Restricted Mode and shows its Runs tree', () => {
    assert.strictEqual(vscode.extensions.getExtension('muse-runner.muse-runner')?.isActive, true);
    assert.ok(Array.isArray(api.runsView.getChildren()));
  });

  it('ignores the profile, the active profile and the results folder the folder sets', async () => {
    const config = vscode.workspace.getConfiguration('muse');
    // The folder does set them...
    const file = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, '.vscode', 'settings.json');
    const own = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(file)).toString('utf8')) as Record<string, unknown>;
    assert.strictEqual(own['muse.activeProfile'], 'from-the-repository', 'run.sh did not write the folder\'s settings');
    // ...but none of them counts.
    assert.deepStrictEqual(config.get('profiles'), []);
    assert.strictEqual(config.get('activeProfile'), '');
    assert.strictEqual(config.get('resultsFolder'), '.muse');
    prompts.set('profile.select', undefined);
    await vscode.commands.executeCommand('muse.selectProfile');
    const offered = prompts.asked.find((q) => q.id === 'profile.select');
    assert.ok(offered?.kind === 'pick');
    assert.deepStrictEqual(offered.items.map((i) => i.label), ['local'], 'only the user\'s profiles (here the local runner) are offered');
  });

  it('asks for trust when asked to run, and runs nothing', async () => {
    const before = api.store.list().length;
    await vscode.window.showTextDocument(exampleScript());
    const run = await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, { software: 'sw_example', cmd: 'python3 add.py 4 5', confirm: false });
    assert.strictEqual(run, undefined);
    const asked = prompts.asked.filter((q) => q.id === 'trust.required');
    assert.strictEqual(asked.length, 1, JSON.stringify(prompts.asked));
    const q = asked[0];
    assert.ok(q.kind === 'message' && q.modal);
    assert.match(q.message, /needs a trusted folder/);
    assert.deepStrictEqual(q.choices, ['Manage Workspace Trust']);
    assert.strictEqual(api.store.list().length, before, 'a run was recorded');
  });
});
