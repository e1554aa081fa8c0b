// Smoke test inside the real extension host: our extension is the one under development and
// it activates in VS Code 1.100 (the version this project targets).
import * as assert from 'assert';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './support';

describe('the extension in a real VS Code', () => {
  it('runs in VS Code 1.100', () => {
    assert.match(vscode.version, /^1\.100\./);
  });

  it('is loaded from this project and activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not loaded in the extension host`);
    assert.strictEqual(ext.packageJSON.name, 'muse-runner');
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  it('sees the example workspace with its script', async () => {
    const found = await vscode.workspace.findFiles('add.py');
    assert.strictEqual(found.length, 1, 'add.py is not in the opened workspace');
  });
});
