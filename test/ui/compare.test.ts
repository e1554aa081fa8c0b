// The results table of a sweep and the Compare of two runs in the real workbench (code-server in
// headless Chromium), as a user sees them: a 2x2 sweep of a small training script, run by the
// local runner before the window opens, its table opened from the palette (one row per task,
// the last line of each stdout), the extraction field applied (`loss=([0-9.]+)`: each task's
// last loss) and a column sorted by a click; then two of its tasks compared from the palette:
// VS Code's diff editor with the request differences above both outputs. Screenshots:
// test-results/screenshots/sweep-results*.png and compare-runs.png (in the README).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { FrameLocator } from 'playwright-core';
import { LocalBackend } from '../../src/core/backends/local/localBackend';
import { isFinal } from '../../src/core/model';
import type { Run } from '../../src/core/model';
import { localRunsDir, runStorePath } from '../../src/core/paths';
import { refreshRuns } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { submitSweep } from '../../src/core/sweep/submitSweep';
import { until } from '../support/until';
import { PROJECT_ROOT, answerQuickInput, openWorkbench, quickPickLabels, runCommand, screenshot, showViewContainer, waitFor } from './workbench';
import type { Workbench } from './workbench';

const TRAIN = `import sys
lr, seed = float(sys.argv[1]), int(sys.argv[2])
for epoch in range(1, 4):
    print(f"epoch {epoch} loss={1 / (epoch * lr * 10 + seed):.4f}")
print("done")
`;

/** The page inside the active webview (VS Code nests it in two iframes). */
function tablePage(wb: Workbench): FrameLocator {
  return wb.page.frameLocator('iframe.webview.ready').last().frameLocator('iframe#active-frame');
}

/** The table's body rows as cell texts. */
async function tableRows(page: FrameLocator): Promise<string[][]> {
  return page.locator('#results tbody tr').evaluateAll((rows) => rows.map((r) => Array.from((r as unknown as { cells: ArrayLike<{ textContent: string | null }> }).cells, (c) => c.textContent ?? '')));
}

/** The text of one side of the active diff editor, lines in order. */
async function diffSideText(wb: Workbench, side: 'original' | 'modified'): Promise<string> {
  return wb.page.locator(`.editor-group-container.active .monaco-diff-editor .editor.${side} .view-lines .view-line`).evaluateAll((lines) =>
    lines
      .map((l) => ({ top: Number(/top:\s*(-?[\d.]+)px/.exec(l.getAttribute('style') ?? '')?.[1] ?? 0), text: (l.textContent ?? '').replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text)
      .join('\n'),
  );
}

describe('Sweep results table and Compare in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let tasks: Run[] = [];

  before(async function () {
    this.timeout(240_000);
    const dataDir = process.env.MUSE_UI_DATA_DIR;
    assert.ok(dataDir, 'run the UI tests through `bash test/vscode/run.sh` (MUSE_UI_DATA_DIR)');
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const workspace = path.join(runDir, 'ui-compare', 'example');
    fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
    fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    const script = path.join(workspace, 'train.py');
    fs.writeFileSync(script, TRAIN);
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'muse.activeProfile': 'local', 'muse.pollInterval': 1, 'workbench.startupEditor': 'none' }));
    // The sweep runs on the window's own local runner (its folder under the window's data folder),
    // and is over before the window opens: the table reads ended tasks.
    const env = { MUSE_DATA_DIR: dataDir };
    const store = new RunStore(runStorePath(env));
    await store.load();
    const backend = new LocalBackend({ root: localRunsDir(env) });
    // The script goes as an input file: the command names it in the run folder.
    const template = 'python3 train.py {lr} {seed}';
    const spec = { template, params: [{ name: 'lr', values: ['0.1', '0.5'] }, { name: 'seed', values: ['1', '2'] }], combine: 'product' as const };
    const sent = await submitSweep({ backend, store, profile: { name: 'local', kind: 'local' }, request: { software: 'python', cmd: template, files: [{ path: script, name: 'train.py' }] }, spec, label: 'train.py' });
    tasks = await until('the sweep to end', async () => {
      const now = await refreshRuns(backend, store, store.list().filter((r) => sent.some((s) => s.id === r.id)));
      return now.every((r) => isFinal(r.state)) && now.sort((a, b) => a.sweep!.index - b.sweep!.index);
    }, { timeoutMs: 90_000, intervalMs: 300 });
    assert.ok(tasks.every((t) => t.state === 'ok'), JSON.stringify(tasks.map((t) => t.lastError ?? t.state)));
    wb = await openWorkbench({ folder: workspace });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });

  after(async () => {
    await wb?.close();
  });

  it('opens the results table of the sweep: one row per task, then the extracted loss, sorted by a click', async () => {
    assert.ok(wb);
    await showViewContainer(wb, 'Muse');
    await runCommand(wb, 'Muse: Show Sweep Results Table');
    await waitFor('the sweep among the choices', async () => (await quickPickLabels(wb!)).some((r) => r.label === 'train.py'));
    await answerQuickInput(wb, 'train.py');
    const page = tablePage(wb);
    const rows = await waitFor('the table with its four tasks', async () => {
      const r = await tableRows(page).catch(() => []);
      return r.length === 4 ? r : undefined;
    });
    const head = await page.locator('#results thead th').allTextContents();
    assert.deepStrictEqual(head, ['task', 'lr', 'seed', 'state', 'elapsed', 'peak memory', 'last line']);
    assert.deepStrictEqual(rows.map((r) => [r[0], r[1], r[2], r[3], r[6]]), [
      ['0', '0.1', '1', 'ok', 'done'],
      ['1', '0.1', '2', 'ok', 'done'],
      ['2', '0.5', '1', 'ok', 'done'],
      ['3', '0.5', '2', 'ok', 'done'],
    ]);
    await screenshot(wb, 'sweep-results');

    await page.locator('#extract').fill('loss=([0-9.]+)');
    await page.locator('#apply').click();
    const losses = await waitFor('the extracted losses', async () => {
      const r = await tableRows(tablePage(wb!)).catch(() => []);
      return r.length === 4 && r.every((c) => /^0\.\d{4}$/.test(c[6] ?? '')) ? r.map((c) => c[6]) : undefined;
    });
    // The last epoch's loss: 1 / (3 * lr * 10 + seed).
    assert.deepStrictEqual(losses, ['0.2500', '0.2000', '0.0625', '0.0588']);
    // Sorted by the value column with a click: smallest loss first.
    await tablePage(wb).locator('#results thead th', { hasText: 'loss=' }).click();
    const sorted = (await tableRows(tablePage(wb))).map((c) => c[0]);
    assert.deepStrictEqual(sorted, ['3', '2', '1', '0']);
    await screenshot(wb, 'sweep-results-extracted');

    // An invalid expression is said in the page, and the table stays.
    await tablePage(wb).locator('#extract').fill('loss=([0-9.]+');
    await tablePage(wb).locator('#apply').click();
    const alert = await waitFor('the error under the field', async () => (await tablePage(wb!).locator('[role="alert"]').textContent().catch(() => null)) ?? undefined);
    assert.match(alert, /not a valid regular expression/);
    assert.strictEqual((await tableRows(tablePage(wb))).length, 4);
  });

  it('compares two runs: the diff editor on their stdout, the request differences above', async () => {
    assert.ok(wb);
    const [a, , , d] = tasks;
    await runCommand(wb, 'Muse: Compare Runs');
    // The first run, then "Compare with..." the other: each picked by its key.
    await answerQuickInput(wb, a!.key!);
    await waitFor('the second question', async () => ((await quickPickLabels(wb!)).length > 0 ? true : undefined));
    await answerQuickInput(wb, d!.key!);
    const right = await waitFor('the diff editor', async () => {
      const t = await diffSideText(wb!, 'modified').catch(() => '');
      return /loss=0\.0588/.test(t) ? t : undefined;
    });
    const left = await diffSideText(wb, 'original');
    for (const side of [left, right]) {
      assert.match(side, /# command:\s+- python3 train\.py 0\.1 1/);
      assert.match(side, /#\s+\+ python3 train\.py 0\.5 2/);
      assert.match(side, /1 other input file: same content/);
      assert.match(side, /# sweep parameters:\s+- lr=0\.1 seed=1/);
    }
    assert.match(left, /epoch 3 loss=0\.2500/);
    assert.match(right, /epoch 3 loss=0\.0588/);
    assert.ok((await wb.page.locator('.editor-group-container.active .monaco-diff-editor .line-insert, .editor-group-container.active .monaco-diff-editor .char-insert').count()) > 0, 'the differing lines are marked');
    await screenshot(wb, 'compare-runs');
  });
});
