// Follow Output as a user sees it: a local run of a counting script, followed from the inline
// button of its running row in the Runs tree; the document grows (screenshots at two moments).
// Then a failing script: the Problems panel shows the traceback's location in the local file,
// and a Ctrl-click on the traceback's link in the standard error document opens the local file
// of a subfolder at the line.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  PROJECT_ROOT,
  activeEditorText,
  activeEditorTitle,
  answerQuickInput,
  clickDialogButton,
  clickEditorAction,
  clickTreeItemAction,
  openFile,
  openWorkbench,
  runCommand,
  screenshot,
  showViewContainer,
  waitFor,
  waitForEditorText,
  waitForTreeItems,
} from './workbench';
import type { Workbench } from './workbench';

async function runFile(wb: Workbench, name: string, cmd: string): Promise<void> {
  await openFile(wb, name);
  await clickEditorAction(wb, 'Run Active File on Muse');
  // The local runner with no image: no software question, the command first.
  await answerQuickInput(wb, cmd);
  await clickDialogButton(wb, 'Run');
}

describe('Follow Output in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;

  before(async () => {
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const folder = path.join(runDir, 'ui-follow', 'example');
    fs.rmSync(path.dirname(folder), { recursive: true, force: true });
    fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'count.py'), 'import time\nfor i in range(1, 61):\n    print(f"line {i}", flush=True)\n    time.sleep(0.5)\n');
    fs.writeFileSync(path.join(folder, 'boom.py'), 'def div(a, b):\n    return a / b\n\nprint(div(1, 0))\n');
    // The innermost frame is line 4 of sub/add.py.
    fs.mkdirSync(path.join(folder, 'sub'));
    fs.writeFileSync(path.join(folder, 'sub', 'add.py'), 'import sys\n\ndef add(a, b):\n    total = a + b\n    return total\n\nprint(add(1, "x"))\n');
    fs.writeFileSync(
      path.join(folder, '.vscode', 'settings.json'),
      // Profiles are the user's (a workspace cannot set them): the built-in local profile, chosen here.
      JSON.stringify({ 'muse.activeProfile': 'local', 'muse.pollInterval': 1, 'workbench.startupEditor': 'none' }),
    );
    wb = await openWorkbench({ folder });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });
  after(async () => wb?.close());

  it('shows the lines growing while the run goes on', async () => {
    assert.ok(wb);
    // Shown before the run: once a run is active, the container's badge takes the click.
    await showViewContainer(wb, 'Muse');
    await runFile(wb, 'count.py', 'python3 count.py');
    await waitForTreeItems(wb, 'Runs', (items) => items.some((i) => i.label === 'direct · count.py'), 60_000);
    // The inline button shows on running rows only.
    await clickTreeItemAction(wb, 'Runs', 'direct · count.py', 'Follow Output');
    const first = await waitForEditorText(wb, /line 2\n/, 30_000);
    await screenshot(wb, 'follow-1-early');
    const later = await waitForEditorText(wb, /line 12\n/, 60_000);
    await screenshot(wb, 'follow-2-later');
    const count = (t: string) => t.split('\n').filter((l) => /^line \d+$/.test(l)).length;
    assert.ok(count(later) > count(first), `the document grew: ${count(first)} then ${count(later)} lines`);
    assert.doesNotMatch(first, /line 60/, 'the first moment came before the run ended');
  });

  it('shows the traceback location of a failed run in the Problems panel', async () => {
    assert.ok(wb);
    await runFile(wb, 'boom.py', 'python3 boom.py');
    await runCommand(wb, 'View: Focus Problems (Errors, Warnings, Infos)');
    const text = await waitFor('the Muse problem on boom.py', async () => {
      const t = (await wb!.page.locator('.markers-panel').textContent().catch(() => '')) ?? '';
      return /ZeroDivisionError/.test(t) && /boom\.py/.test(t) ? t : undefined;
    }, 60_000);
    assert.match(text, /Muse/);
    await screenshot(wb, 'follow-3-problems');
  });

  it('a Ctrl-click on the traceback link in the standard error opens the local sub/add.py at the line', async () => {
    assert.ok(wb);
    await runFile(wb, 'sub/add.py', 'python3 sub/add.py');
    await waitForTreeItems(wb, 'Runs', (items) => items.some((i) => /add\.py/.test(i.label) && i.icon === 'error'), 60_000);
    await runCommand(wb, 'Muse: Follow Standard Error');
    await answerQuickInput(wb, 'add.py');
    await waitForEditorText(wb, /TypeError/, 60_000);
    // The innermost frame's line (line 4 of sub/add.py); its link starts at the opening quote of
    // the path, which is in view even when the path runs past the editor's right edge.
    const frame = wb.page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line', { hasText: /add\.py",\s+line\s+4,/ });
    const link = frame.locator('.detected-link').first();
    await link.waitFor({ timeout: 30_000 });
    await screenshot(wb, 'follow-4-stderr-link');
    await link.click({ modifiers: ['Control'] });
    await waitFor('sub/add.py to open', async () => (await activeEditorTitle(wb!)) === 'add.py', 30_000);
    const where = await waitFor('the cursor on line 4', async () => {
      const t = (await wb!.page.locator('.statusbar-item[id="status.editor.selection"]').textContent().catch(() => '')) ?? '';
      return /Ln 4\b/.test(t) ? t : undefined;
    }, 30_000);
    assert.match(where, /Ln 4, Col/);
    assert.match(await activeEditorText(wb), /total = a \+ b/);
    // The local file of the subfolder (the breadcrumbs say sub > add.py), not the run's copy.
    const crumbs = ((await wb.page.locator('.editor-group-container.active .breadcrumbs-control').first().textContent()) ?? '').replace(/\s+/g, ' ');
    assert.match(crumbs, /sub.*add\.py/, crumbs);
    await screenshot(wb, 'follow-5-link-opened');
  });
});
