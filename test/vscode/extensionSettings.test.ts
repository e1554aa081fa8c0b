// Selecting the active profile inside the real extension host: the choice must take effect
// wherever `muse.activeProfile` is defined (a workspace value overrides the user's).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { MuseExtensionApi } from '../../src/extension/extension';
import { museApi, PromptRecorder, resetMuseSettings, setMuseSettings } from './support';

const A = 'vstest-a';
const B = 'vstest-b';

describe('Select Profile', function () {
  this.timeout(60_000);
  let api: MuseExtensionApi;
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('muse');

  before(async () => {
    api = await museApi();
    await setMuseSettings({ profiles: [{ name: A, kind: 'local', root: '/nonexistent-a' }, { name: B, kind: 'local', root: '/nonexistent-b' }], activeProfile: A });
  });

  afterEach(async () => {
    await config().update('activeProfile', undefined, vscode.ConfigurationTarget.Workspace);
  });

  after(resetMuseSettings);

  it('writes the user setting when only the user setting names the profile', async () => {
    await vscode.commands.executeCommand('muse.selectProfile', B);
    assert.strictEqual(config().get('activeProfile'), B, api.lastCommandError());
    assert.strictEqual(config().inspect('activeProfile')?.globalValue, B);
    await vscode.commands.executeCommand('muse.selectProfile', A);
  });

  it('writes the workspace setting when the workspace defines it, so the choice takes effect', async () => {
    await config().update('activeProfile', A, vscode.ConfigurationTarget.Workspace);
    await vscode.commands.executeCommand('muse.selectProfile', B);
    const seen = config().inspect('activeProfile');
    assert.strictEqual(config().get('activeProfile'), B, api.lastCommandError());
    assert.strictEqual(seen?.workspaceValue, B);
    // The user's own choice stays as it was.
    assert.strictEqual(seen?.globalValue, A);
  });
});

describe('Select Profile from the palette', function () {
  this.timeout(60_000);
  let api: MuseExtensionApi;
  let prompts: PromptRecorder;

  before(async () => {
    api = await museApi();
    await setMuseSettings({ profiles: [{ name: A, kind: 'local', root: '/nonexistent-a' }, { name: B, kind: 'local', root: '/nonexistent-b' }], activeProfile: A });
    prompts = new PromptRecorder(api);
  });

  after(async () => {
    prompts.dispose();
    await resetMuseSettings();
  });

  it('asks which profile, marking the active one, and selects the answer', async () => {
    prompts.set('profile.select', B);
    await vscode.commands.executeCommand('muse.selectProfile');
    const q = prompts.asked.find((x) => x.id === 'profile.select');
    assert.ok(q && q.kind === 'pick', api.lastCommandError());
    assert.deepStrictEqual(q.items.map((i) => i.label).slice(0, 2), [A, B]);
    assert.match(q.items[0].description ?? '', /active/);
    assert.strictEqual(vscode.workspace.getConfiguration('muse').get('activeProfile'), B);
  });

  it('changes nothing when the question is dismissed', async () => {
    prompts.set('profile.select', undefined);
    await vscode.commands.executeCommand('muse.selectProfile');
    assert.strictEqual(vscode.workspace.getConfiguration('muse').get('activeProfile'), B);
  });
});
