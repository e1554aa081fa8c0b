// The run flow against the project's ws test server (the Muse web API), inside the real
// extension host: sign in (jwt/obtain), run the active file, follow it, read the results.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunsNode } from '../../src/extension/runsView';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { exampleScript, museApi, runScript, runEnded, signOutAndReset, tempDir, useWsProfile } from './support';

const PROFILE = 'vstest-ws';

describe('Muse Runner against the ws test server', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let server: MuseTestServer;
  let script: vscode.Uri;
  let run: Run;

  before(async () => {
    api = await museApi();
    const tmp = tempDir('ext-ws-');
    server = await startMuseServer({ dataDir: path.join(tmp, 'server') });
    script = exampleScript();
    await useWsProfile(PROFILE, server.url);
  });

  after(async () => {
    await signOutAndReset(PROFILE);
    await server?.close();
  });

  it('refuses a wrong password with a clear message, and signs in with the right one', async () => {
    const bad = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE }, { username: 'alice', password: 'wrong' });
    assert.notStrictEqual(bad, true);
    assert.match(String(api.lastCommandError()), /muse\.signIn: .+/);
    const ok = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE }, { username: 'alice', password: 'secret' });
    assert.strictEqual(ok, true, api.lastCommandError());
    assert.ok(server.requests.some((r) => r.method === 'POST' && /jwt\/obtain/.test(r.path)));
  });

  it('runs the active file through the API and reads 9.0 in the results document', async () => {
    const submitted = await runScript(api, script, 'sw_example', 'python3 add.py 4 5');
    const post = server.requests.find((r) => r.method === 'POST' && /software\/muse\/run\/sw_example/.test(r.path));
    assert.ok(post, 'no submit reached the server');
    assert.deepStrictEqual(post.files, ['add.py']);
    assert.strictEqual(post.fields.jwt, '***', 'the token goes as the jwt parameter');
    run = await runEnded(api, submitted.id);
    assert.strictEqual(run.state, 'ok', run.lastError);
    const doc = (await vscode.commands.executeCommand('muse.openResults', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
    assert.ok(doc, api.lastCommandError());
    assert.strictEqual(doc.getText().trim(), '9.0');
  });

  it('shows the ws run under its profile node, signed in', () => {
    const roots = api.runsView.getChildren() as RunsNode[];
    const node = roots.find((n) => n.type === 'profile' && n.name === PROFILE);
    assert.ok(node);
    const item = api.runsView.getTreeItem(node);
    assert.strictEqual(item.contextValue, 'profile;ws;signedIn');
    const runs = api.runsView.getChildren(node) as RunsNode[];
    assert.ok(runs.some((n) => n.type === 'run' && n.id === run.id));
  });

  it('browses the content zip the API returns', async () => {
    const root = (await vscode.commands.executeCommand('muse.openContent', { type: 'run', id: run.id }, { quiet: true })) as vscode.Uri | undefined;
    assert.ok(root, api.lastCommandError());
    const names = (await vscode.workspace.fs.readDirectory(root)).map(([n]) => n);
    assert.ok(names.includes('add.py'), names.join(', '));
  });
});
