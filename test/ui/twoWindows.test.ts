// Two VS Code windows on one user's runs (two workbench pages of one code-server, each with its
// own extension host): a run submitted in window A is announced in A only, not in B too; both
// windows show it done in their Runs tree. Then a run submitted in A whose window is closed (and
// its extension host gone) before the run ends: window B announces it, once. Screenshots.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { processAlive } from '../../src/core/processAlive';
import {
  PROJECT_ROOT,
  answerQuickInput,
  clickDialogButton,
  clickEditorAction,
  closeWindow,
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
/** How long B's notifications are watched after the first, for a second one. */
const DUPLICATE_WATCH_MS = 5_000;
const FINISHED = /Muse run direct · add\.py finished/;

/** A run record of the UI code-server's run store, as much of it as these tests read. */
interface StoredRun {
  id: string;
  state: string;
  command?: string;
  notifyIn?: string;
  key?: string;
  notifiedBy?: string;
}

/** The runs of the UI code-server's run store (`runs.json` the windows share). */
function storedRuns(): StoredRun[] {
  const dir = process.env.MUSE_UI_DATA_DIR;
  if (!dir) throw new Error('MUSE_UI_DATA_DIR is not set: run the UI tests through `bash test/vscode/run.sh`');
  const file = path.join(dir, 'runs.json');
  if (!fs.existsSync(file)) return [];
  return ((JSON.parse(fs.readFileSync(file, 'utf8')) as { runs?: StoredRun[] }).runs ?? []).filter((r) => typeof r.id === 'string');
}

/** The extension host pid in a window id (`host:pid:random`, src/core/pollLease.ts `windowId`). */
function windowPid(windowId: string): number {
  const pid = Number(windowId.split(':')[1]);
  assert.ok(Number.isInteger(pid) && pid > 0, `no pid in the window id ${windowId}`);
  return pid;
}

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

  it('announces a run end once in the other window when the submitting one was closed before', async () => {
    assert.ok(a && b);
    const before = new Set(storedRuns().map((r) => r.id));
    await openFile(a, 'add.py');
    await clickEditorAction(a, 'Run Active File on Muse');
    await waitFor('the command question in window A', async () => a!.page.locator('.quick-input-widget').isVisible());
    // Long enough to close window A and see its extension host end while the run still runs.
    await answerQuickInput(a, 'sleep 25 && python3 add.py 6 7');
    await clickDialogButton(a, 'Run');
    // Submitted (its key stored), not only recorded: closing window A mid-submit would leave a
    // record that never reached the runner.
    const run = await waitFor('the new run submitted, in the run store with the window that submitted it', async () =>
      storedRuns().find((r) => !before.has(r.id) && r.notifyIn && r.key),
    );
    const pidA = windowPid(run.notifyIn!);
    // Window B sees it running (a window announces the ends of runs it saw active).
    await waitForTreeItems(b, 'Runs', (items) => items.some((i) => i.level === 2 && i.label === 'direct · add.py' && !i.description.startsWith('done')), RUN_DEADLINE_MS);

    const wbA = a;
    a = undefined; // closed: no failure screenshot of it
    await closeWindow(wbA);
    await waitFor(`window A's extension host (pid ${pidA}) to exit after its page closed`, async () => !processAlive(pidA), 30_000);
    const stillRunning = storedRuns().find((r) => r.id === run.id);
    assert.ok(stillRunning && !['ok', 'failed', 'cancelled'].includes(stillRunning.state), `the run ended before window A's extension host did (${stillRunning?.state}): the test proves nothing`);
    await screenshot(b, 'two-windows-b-after-a-closed');

    await waitForNotification(b, FINISHED, RUN_DEADLINE_MS);
    // Once: watch B's toasts a while longer for a second announcement of the same end.
    let most = 0;
    const until = Date.now() + DUPLICATE_WATCH_MS;
    while (Date.now() < until) {
      most = Math.max(most, (await notifications(b)).filter((m) => FINISHED.test(m)).length);
      await new Promise((r) => setTimeout(r, 250));
    }
    await waitForTreeItems(b, 'Runs', (items) => !!doneRow(items), RUN_DEADLINE_MS);
    await screenshot(b, 'two-windows-b-notified-after-a-closed');
    assert.strictEqual(most, 1, `window B showed ${most} "finished" notifications for the run`);
    const ended = storedRuns().find((r) => r.id === run.id);
    assert.ok(ended?.notifiedBy && windowPid(ended.notifiedBy) !== pidA, `the run's end was claimed by ${ended?.notifiedBy}, not window B`);
  });
});
