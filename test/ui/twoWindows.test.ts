// Two VS Code windows on one user's runs (two workbench pages of one code-server, each with its
// own extension host): a run submitted in window A is announced in A only, not in B too; both
// windows show it done in their Runs tree. Screenshots of both windows.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  PROJECT_ROOT,
  answerQuickInput,
  clickDialogButton,
  clickEditorAction,
  notifications,
  openFile,
  openWorkbench,
  screenshot,
  showViewContainer,
  waitFor,
  waitForNotification,
  waitForTreeItems,
} from './workbench';
import type { TreeItem, Workbench } from './workbench';

const RUN_DEADLINE_MS = 60_000;

/** The Runs tree row of the run of add.py with this command's label, once done. */
function doneRow(items: TreeItem[]): TreeItem | undefined {
  return items.find((i) => i.level === 2 && i.label === 'direct · add.py' && i.description.startsWith('done'));
}

describe('Two windows, one user', function () {
  this.timeout(240_000);
  let a: Workbench | undefined;
  let b: Workbench | undefined;

  before(async () => {
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const base = path.join(runDir, 'ui-two-windows');
    fs.rmSync(base, { recursive: true, force: true });
    for (const w of ['a', 'b']) {
      fs.cpSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace'), path.join(base, w), { recursive: true });
      // The built-in local profile (another UI test may have made a web API profile the active one).
      fs.mkdirSync(path.join(base, w, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(base, w, '.vscode', 'settings.json'), JSON.stringify({ 'muse.activeProfile': 'local' }));
    }
    a = await openWorkbench({ folder: path.join(base, 'a') });
    b = await openWorkbench({ folder: path.join(base, 'b') });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      if (a) await screenshot(a, 'failed-two-windows-a');
      if (b) await screenshot(b, 'failed-two-windows-b');
    }
  });

  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('announces a run end once, in the window that submitted it', async () => {
    assert.ok(a && b);
    await showViewContainer(b, 'Muse');
    await openFile(a, 'add.py');
    await clickEditorAction(a, 'Run Active File on Muse');
    await waitFor('the command question in window A', async () => a!.page.locator('.quick-input-widget').isVisible());
    // Long enough for window B to see it running first (a window announces the ends of runs it saw active).
    await answerQuickInput(a, 'sleep 4 && python3 add.py 4 5');
    await clickDialogButton(a, 'Run');
    await waitForTreeItems(b, 'Runs', (items) => items.some((i) => i.level === 2 && i.label === 'direct · add.py' && !i.description.startsWith('done')), RUN_DEADLINE_MS);
    await waitForNotification(a, /Muse run direct · add\.py finished/, RUN_DEADLINE_MS);
    // Window B has seen the run end too (its tree reads the shared run store) ...
    await waitForTreeItems(b, 'Runs', (items) => !!doneRow(items), RUN_DEADLINE_MS);
    await showViewContainer(a, 'Muse');
    await screenshot(a, 'two-windows-a-notified');
    await screenshot(b, 'two-windows-b-quiet');
    // ... and decided on the store change that showed it done: no notification there.
    const inB = (await notifications(b)).filter((m) => /Muse run .* (finished|failed|was cancelled)/.test(m));
    assert.deepStrictEqual(inB, [], 'window B announced the run too');
  });
});
