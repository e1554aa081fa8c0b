// Run as Sweep as a user does it in the real workbench (code-server in headless Chromium), on the
// local runner: the palette's "Muse: Run as Sweep...", the command typed with two placeholders,
// a list and a range of values, product, a throttle, the confirmation with the first commands;
// then the sweep's one row in the Runs tree with its counts, expanded to its six tasks labelled by
// their values, one task's results opened from its row, and the one end notification.
// Screenshots of each step: test-results/screenshots/sweep-*.png.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  PROJECT_ROOT,
  activeEditorTitle,
  answerQuickInput,
  clickDialogButton,
  clickTreeItemAction,
  editorActionLabels,
  notifications,
  openFile,
  openWorkbench,
  paletteCommands,
  runCommand,
  screenshot,
  showViewContainer,
  treeItems,
  waitFor,
  waitForEditorText,
  waitForNotification,
  waitForTreeItems,
} from './workbench';
import type { TreeItem, Workbench } from './workbench';

const treeItemsNow = (wb: Workbench): Promise<TreeItem[]> => treeItems(wb, 'Runs');

/** Six local runs of add.py, at most two at once: well within a minute. */
const SWEEP_DEADLINE_MS = 90_000;
const TASKS = ['a=1 b=10', 'a=1 b=20', 'a=1 b=30', 'a=2 b=10', 'a=2 b=20', 'a=2 b=30'];

/** Waits until the open input box or quick pick is titled (or prompts) like `title`, then shows its text. */
async function waitForQuestion(wb: Workbench, title: RegExp): Promise<void> {
  await waitFor(`a question titled ${title}`, async () => {
    const widget = wb.page.locator('.quick-input-widget');
    if (!(await widget.isVisible())) return false;
    const shown = [await widget.locator('.quick-input-title').textContent().catch(() => ''), await widget.locator('.quick-input-message').textContent().catch(() => '')].join(' ');
    return title.test(shown);
  });
}

/** The rows under the level-2 row labelled `label` (its tasks, when it is expanded). */
/**
 * Expands the sweep row whose label and description start so, as a user would (its twistie), and
 * waits for `count` task rows under it; returns them. Clicks again only while the tree shows it collapsed: a
 * refresh that lands with the click must not leave the test waiting on a collapsed row.
 */
async function expandSweep(wb: Workbench, label: string, description: RegExp, count: number): Promise<TreeItem[]> {
  return waitFor(`the sweep row "${label}" expanded to ${count} tasks`, async () => {
    const items = await treeItems(wb, 'Runs');
    const at = items.findIndex((i) => i.level === 2 && i.label === label && description.test(i.description));
    if (at < 0) return undefined;
    if (items[at].expanded === false) {
      const rows = wb.page.locator('.sidebar .monaco-list-row[aria-level="2"]', { hasText: label });
      const n = await rows.count();
      for (let k = 0; k < n; k++) {
        const r = rows.nth(k);
        if ((await r.getAttribute('aria-expanded')) === 'false' && description.test((await r.innerText()).replace(/\s+/g, ' '))) {
          await r.locator('.monaco-tl-twistie').click().catch(() => undefined);
          break;
        }
      }
      return undefined;
    }
    const end = items.findIndex((i, k) => k > at && i.level <= 2);
    const tasks = items.slice(at + 1, end < 0 ? undefined : end);
    return tasks.length === count ? tasks : undefined;
  }, 30_000);
}

function childrenOf(items: TreeItem[], label: string): TreeItem[] {
  const at = items.findIndex((i) => i.level === 2 && i.label === label);
  if (at < 0) return [];
  const end = items.findIndex((i, k) => k > at && i.level <= 2);
  return items.slice(at + 1, end < 0 ? undefined : end);
}

/** The job id a run row's description ends with (`done · 1s · job 6907`). */
const jobOf = (row: TreeItem | undefined): string | undefined => /job (\S+)/.exec(row?.description ?? '')?.[1];

/** The sweep's row: level 2 under the profile, its description the task counts. */
function sweepRow(items: TreeItem[]): TreeItem | undefined {
  return items.find((i) => i.level === 2 && i.label === 'direct · add.py' && /^6 tasks · /.test(i.description));
}

describe('Run as Sweep in the workbench', function () {
  this.timeout(240_000);
  let wb: Workbench | undefined;

  before(async () => {
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const folder = path.join(runDir, 'ui-sweep', 'example');
    fs.rmSync(path.dirname(folder), { recursive: true, force: true });
    fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace', 'add.py'), path.join(folder, 'add.py'));
    // The same script under another name, for the sweep with a failing task (its own row label).
    fs.copyFileSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace', 'add.py'), path.join(folder, 'sum.py'));
    // Profiles are the user's: the built-in local profile, chosen here.
    fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'muse.activeProfile': 'local', 'muse.pollInterval': 1, 'workbench.startupEditor': 'none' }));
    wb = await openWorkbench({ folder });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });
  after(async () => wb?.close());

  it('asks the command, the values and a throttle, and confirms with the first commands', async () => {
    assert.ok(wb);
    // Shown first: once runs are active, the container's badge takes the click. (Its icon is
    // also the sign that the workbench has our extension's contributions: a loaded machine can
    // take seconds after the window opens.)
    await showViewContainer(wb, 'Muse');
    await openFile(wb, 'add.py');
    // The extension host knows add.py is the active file once its Run button shows.
    await waitFor('the Run button on add.py', async () => (await editorActionLabels(wb!)).includes('Run Active File on Muse'));
    await runCommand(wb, 'Muse: Run as Sweep...');

    // The command, prefilled as Run on Muse prefills it; the user adds two placeholders.
    await waitForQuestion(wb, /run add\.py as a sweep on local/);
    assert.strictEqual(await wb.page.locator('.quick-input-widget input.input').inputValue(), 'python3 add.py');
    await wb.page.locator('.quick-input-widget input.input').fill('python3 add.py {a} {b}');
    await screenshot(wb, 'sweep-1-command');
    await wb.page.keyboard.press('Enter');

    // {a}: a list.
    await waitForQuestion(wb, /values of \{a\}/);
    await screenshot(wb, 'sweep-2-kind');
    await answerQuickInput(wb, 'List');
    await waitForQuestion(wb, /Values of \{a\}: a comma-separated list/);
    await answerQuickInput(wb, '1,2');
    // {b}: a range.
    await waitForQuestion(wb, /values of \{b\}/);
    await answerQuickInput(wb, 'Range');
    await waitForQuestion(wb, /A range for \{b\}/);
    await wb.page.locator('.quick-input-widget input.input').fill('10:30:10');
    await screenshot(wb, 'sweep-3-range');
    await wb.page.keyboard.press('Enter');
    // Two parameters: every combination, or zipped.
    await waitForQuestion(wb, /How the parameters combine|as a sweep on local/);
    await screenshot(wb, 'sweep-4-combine');
    await answerQuickInput(wb, 'Product');
    await waitForQuestion(wb, /At most how many of the 6 tasks run at once/);
    await answerQuickInput(wb, '2');

    // The confirmation: the number of tasks and the first commands as they will run.
    await wb.page.locator('.monaco-dialog-box').waitFor();
    await screenshot(wb, 'sweep-5-confirm');
    const asked = await clickDialogButton(wb, 'Run Sweep');
    assert.strictEqual(asked.message, 'Run add.py as a sweep of 6 tasks on local?');
    assert.match(asked.detail, /python3 add\.py 1 10\n\s*python3 add\.py 1 20\n\s*python3 add\.py 1 30\n\s*python3 add\.py 2 10\n\s*python3 add\.py 2 20\n\s*\.\.\. and 1 more/);
    assert.match(asked.detail, /At most 2 running at once\./);
  });

  it('shows the sweep as one row with its counts, expanding to its tasks, and announces its end once', async () => {
    assert.ok(wb);
    await showViewContainer(wb, 'Muse');
    const rows = await waitForTreeItems(wb, 'Runs', (items) => /^6 tasks · 6 ok/.test(sweepRow(items)?.description ?? ''), SWEEP_DEADLINE_MS);
    const row = sweepRow(rows)!;
    assert.strictEqual(row.expanded, false, 'a sweep row starts collapsed');
    assert.strictEqual(row.icon, 'pass');
    // Other UI tests leave runs of their own beside it: no task of this sweep is a row of its own.
    assert.deepStrictEqual(rows.filter((i) => i.level === 2 && /^a=\d+ b=\d+$/.test(i.label)).map((i) => i.label), [], 'the six tasks are one row, not six');
    // One notification for the sweep, none per task.
    await waitForNotification(wb, /^Sweep add\.py: 6 ok$/, SWEEP_DEADLINE_MS);
    const shown = await notifications(wb);
    assert.ok(!shown.some((m) => /^Muse run .*finished/.test(m)), `a task was announced on its own: ${JSON.stringify(shown)}`);
    await screenshot(wb, 'sweep-6-row');

    // Expand: the tasks in index order, labelled by their values, each a run row that is done.
    const tasks = await expandSweep(wb, 'direct · add.py', /6 tasks/, 6);
    assert.deepStrictEqual(tasks.map((i) => i.label), TASKS);
    assert.ok(tasks.every((i) => i.icon === 'pass' && i.description.startsWith('done')), JSON.stringify(tasks));
    await runCommand(wb, 'Notifications: Clear All Notifications');
    await waitFor('no notification on screen', async () => (await notifications(wb!)).length === 0);
    await screenshot(wb, 'sweep-7-tasks');

    // A task is a normal run: its results open from its row (1 + 20 = 21.0).
    await clickTreeItemAction(wb, 'Runs', 'a=1 b=20', 'Open Results');
    await waitFor('the results tab (stdout.txt)', async () => (await activeEditorTitle(wb!)) === 'stdout.txt');
    assert.strictEqual((await waitForEditorText(wb, /\S/)).trim(), '21.0');
    await screenshot(wb, 'sweep-8-task-results');

    // The sweep row's actions need a sweep: the palette offers Run as Sweep only.
    const offered = await waitFor('the palette to list Run as Sweep', async () => {
      const labels = await paletteCommands(wb!, 'Sweep');
      return labels.includes('Muse: Run as Sweep...') ? labels : undefined;
    });
    for (const hidden of ['Muse: Cancel Sweep', 'Muse: Rerun Failed Tasks']) assert.ok(!offered.includes(hidden), `the palette offers ${hidden}`);
  });

  it('shows a failed task on the sweep row, and Rerun Failed Tasks resubmits only it', async () => {
    assert.ok(wb);
    await openFile(wb, 'sum.py');
    await runCommand(wb, 'Muse: Run as Sweep...');
    await waitForQuestion(wb, /run sum\.py as a sweep on local/);
    await answerQuickInput(wb, 'python3 sum.py {a}');
    await waitForQuestion(wb, /values of \{a\}/);
    await answerQuickInput(wb, 'List');
    await waitForQuestion(wb, /Values of \{a\}/);
    // "oops" is no number: that task fails (add.py's float()).
    await answerQuickInput(wb, '1,oops');
    await waitForQuestion(wb, /At most how many of the 2 tasks/);
    await answerQuickInput(wb, '');
    const asked = await clickDialogButton(wb, 'Run Sweep');
    assert.match(asked.detail, /python3 sum\.py 1\n\s*python3 sum\.py oops/);

    await showViewContainer(wb, 'Muse');
    const row = (items: TreeItem[]): TreeItem | undefined => items.find((i) => i.level === 2 && i.label === 'direct · sum.py');
    await waitForTreeItems(wb, 'Runs', (items) => row(items)?.description === '2 tasks · 1 ok · 1 failed', SWEEP_DEADLINE_MS);
    await waitForNotification(wb, /^Sweep sum\.py: 1 ok · 1 failed$/, SWEEP_DEADLINE_MS);
    const before = await expandSweep(wb, 'direct · sum.py', /2 tasks/, 2);
    assert.deepStrictEqual(before.map((i) => [i.label, i.icon]), [['a=1', 'pass'], ['a=oops', 'error']]);
    assert.strictEqual(row(await waitForTreeItems(wb, 'Runs', (items) => !!row(items)))?.icon, 'error');
    await screenshot(wb, 'sweep-9-failed-task');

    // From the row's inline action: only the failed task is sent again (a new job), in its place.
    await clickTreeItemAction(wb, 'Runs', 'direct · sum.py', 'Rerun Failed Tasks');
    const after = childrenOf(
      await waitForTreeItems(
        wb,
        'Runs',
        (items) => {
          const tasks = childrenOf(items, 'direct · sum.py');
          return tasks.length === 2 && tasks[1].icon === 'error' && !!jobOf(tasks[1]) && jobOf(tasks[1]) !== jobOf(before[1]);
        },
        SWEEP_DEADLINE_MS,
      ),
      'direct · sum.py',
    );
    assert.strictEqual(jobOf(after[0]), jobOf(before[0]), 'the task that ended well was not sent again');
    assert.strictEqual(row(await treeItemsNow(wb))?.description, '2 tasks · 1 ok · 1 failed');
    await screenshot(wb, 'sweep-10-rerun');
  });
});
