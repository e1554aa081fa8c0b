// The Run Summary in the real workbench (code-server in headless Chromium), as a user sees it: a
// run that ran out of memory on the cluster (its record seeded in the window's run store with the
// figures sacct gave for job 4001 of the Slurm 24.05 fixture) opened from the palette; the page
// shows the request, the bars with their figures and the advice; its "Rerun with Changes..."
// button offers "Apply: --mem=9G", prefills the Slurm options with it, and the new run (on the
// local runner) shows in the Runs tree as "rerun of ...". Screenshots: test-results/screenshots/
// (run-summary.png is the one in docs/ and the README). After a reload of the window the summary
// comes back, drawn again from the run list.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { FrameLocator } from 'playwright-core';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import type { Run, RunUsage } from '../../src/core/model';
import { runStorePath } from '../../src/core/paths';
import { RunStore } from '../../src/core/store';
import { groupUsageRows, parseUsageRows } from '../../src/core/usage/sacctUsage';
import { usageByJob } from '../../src/core/usage/usageFigures';
import {
  PROJECT_ROOT,
  acceptQuestion,
  answerQuickInput,
  openWorkbench,
  quickPickLabels,
  runCommand,
  screenshot,
  showViewContainer,
  waitFor,
  waitForTreeItems,
  addProfiles,
} from './workbench';
import type { Workbench } from './workbench';

const RUN_ID = 'a0b1c2d3-5555-4000-8000-000000000020';
const ROW = 'sw_example · fit.py';
const PROFILE = 'muse-cluster';

function storedUsage(fixture: string, key: string): RunUsage {
  const text = fs.readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'sacct', fixture), 'utf8').replace(/\|/g, FIELD_DELIMITER);
  const f = usageByJob(groupUsageRows(parseUsageRows(text))).get(key);
  assert.ok(f, `no job ${key} in ${fixture}`);
  const { key: _k, baseId: _b, task: _t, het: _h, exitCode: _e, timeFraction: _tf, memoryFraction: _mf, ...figures } = f;
  return { source: 'slurm', ...figures };
}

/** The page inside the active webview (VS Code nests it in two iframes). */
function summaryPage(wb: Workbench): FrameLocator {
  return wb.page.frameLocator('iframe.webview.ready').last().frameLocator('iframe#active-frame');
}

/** Waits until the open quick input's title or message matches `pattern`; returns its input's value. */
async function waitForQuestion(wb: Workbench, pattern: RegExp): Promise<string> {
  const widget = wb.page.locator('.quick-input-widget');
  return waitFor(`a question matching ${pattern}`, async () => {
    if (!(await widget.isVisible())) return undefined;
    const shown = [await widget.locator('.quick-input-title').textContent().catch(() => ''), await widget.locator('.quick-input-message').textContent().catch(() => '')].join(' ');
    return pattern.test(shown) ? widget.locator('input.input').inputValue() : undefined;
  });
}

describe('Run Summary in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;

  before(async () => {
    const dataDir = process.env.MUSE_UI_DATA_DIR;
    assert.ok(dataDir, 'run the UI tests through `bash test/vscode/run.sh` (MUSE_UI_DATA_DIR)');
    // A workspace of our own (the shared one stays as the other UI tests expect it).
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const workspace = path.join(runDir, 'ui-run-summary', 'example');
    fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
    fs.cpSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace'), workspace, { recursive: true });
    // The script the run was made from, in the workspace, so that a rerun finds it again.
    fs.writeFileSync(path.join(workspace, 'fit.py'), 'print("fitted")\n');
    // The run's profile: named as a cluster profile would be, run by the local runner here.
    fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    // Profiles are the user's (machine scope: a workspace cannot set them), added as a user would.
    addProfiles([{ name: PROFILE, kind: 'local' }]);
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'muse.pollInterval': 1 }, null, 2));
    const store = new RunStore(runStorePath({ MUSE_DATA_DIR: dataDir }));
    await store.load();
    const submitted = new Date(Date.now() - 20 * 60_000);
    const record: Run = {
      id: RUN_ID,
      profile: PROFILE,
      backend: 'ssh',
      software: 'sw_example',
      label: 'fit.py',
      key: 'muse-20261201-fit',
      request: { cmd: 'python3 fit.py', cmdOption: '', files: ['fit.py'], filesOrder: ['fit.py'], returnedType: 'stdout', toDownload: false, sbatchList: ['--mem=6G', '--time=1-00:00:00'], moduleList: ['python/3.11'] },
      state: 'failed',
      raw: { jobId: '4001', slurmState: 'OUT_OF_MEMORY', exitCode: 0, node: 'cn012', usage: storedUsage('sacct-24.05.txt', '4001') },
      createdAt: submitted.toISOString(),
      updatedAt: new Date().toISOString(),
      submittedAt: submitted.toISOString(),
      endedAt: new Date(submitted.getTime() + 16 * 60_000 + 21_000).toISOString(),
    };
    if (!store.get(RUN_ID)) await store.add(record);
    wb = await openWorkbench({ folder: workspace });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });

  after(async () => {
    await wb?.close();
  });

  it('opens the summary of an ended run from the palette: request, bars with figures, advice', async () => {
    assert.ok(wb);
    await showViewContainer(wb, 'Muse');
    await waitForTreeItems(wb, 'Runs', (items) => items.some((i) => i.label === ROW && i.description.startsWith('failed')));
    await runCommand(wb, 'Muse: Show Run Summary');
    // Other UI tests leave runs in the same list: filter the pick as a user would.
    await wb.page.locator('.quick-input-widget input.input').fill('fit.py');
    await waitFor('the run among the choices', async () => (await quickPickLabels(wb!)).some((r) => r.label === ROW));
    await answerQuickInput(wb, ROW);

    const page = summaryPage(wb);
    const text = await waitFor('the summary page', async () => {
      const t = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '');
      return /Advice/.test(t) ? t : undefined;
    });
    assert.match(text, /What was asked/);
    assert.match(text, /python3 fit\.py/);
    assert.match(text, /--mem=6G --time=1-00:00:00/);
    assert.match(text, /failed \(OUT_OF_MEMORY\)/);
    assert.match(text, /peak 6\.0 GB of 6\.0 GB asked \(100%\)/);
    assert.match(text, /49% efficiency of 2 CPUs/);
    assert.match(text, /ran out of memory .*--mem=9G/);
    assert.strictEqual(await page.locator('[role="meter"]').count(), 3, 'three usage bars');
    // Drawn to scale: the CPU bar about half full (49%), the memory bar full (100%).
    const filled = async (i: number): Promise<number> => {
      const outer = await page.locator('[role="meter"]').nth(i).boundingBox();
      const inner = await page.locator(`#fill-${i}`).boundingBox();
      assert.ok(outer && inner);
      return inner.width / outer.width;
    };
    const cpu = await filled(0);
    assert.ok(cpu > 0.4 && cpu < 0.6, `the CPU bar is ${Math.round(cpu * 100)}% full`);
    assert.ok((await filled(1)) > 0.95, 'the memory bar is full');
    await wb.page.mouse.move(900, 700);
    await screenshot(wb, 'run-summary');
  });

  it('"Rerun with Changes..." on the page applies the advice and links the new run', async () => {
    assert.ok(wb);
    await summaryPage(wb).locator('button', { hasText: 'Rerun with Changes...' }).click();
    await waitForQuestion(wb, /rerun sw_example · fit\.py with changes/);
    const offered = (await quickPickLabels(wb)).map((r) => r.label);
    assert.deepStrictEqual(offered.slice(0, 2), ['Apply: --mem=9G', 'Apply: --cpus-per-task=1']);
    await screenshot(wb, 'run-summary-rerun-advice');
    await answerQuickInput(wb, 'Apply: --mem=9G');
    assert.strictEqual(await waitForQuestion(wb, /Command run in the run folder/), 'python3 fit.py');
    await acceptQuestion(wb);
    assert.strictEqual(await waitForQuestion(wb, /Slurm options/), '--mem=9G --time=1-00:00:00', 'the advice applied in the prefilled options');
    await acceptQuestion(wb);
    assert.strictEqual(await waitForQuestion(wb, /Modules to load/), 'python/3.11');
    await acceptQuestion(wb);

    const rows = await waitForTreeItems(wb, 'Runs', (items) => items.some((i) => i.label === ROW && /rerun of a0b1c2d3/.test(i.description)), 60_000);
    assert.ok(rows.some((i) => i.label === ROW && i.description.startsWith('failed')), 'the first run stays');
    await screenshot(wb, 'run-summary-rerun');
  });

  it('comes back after the window reloads, drawn again from the run list', async () => {
    assert.ok(wb);
    await runCommand(wb, 'Developer: Reload Window');
    const text = await waitFor(
      'the summary page after the reload',
      async () => {
        const t = await summaryPage(wb!).locator('body').innerText({ timeout: 1000 }).catch(() => '');
        return /Advice/.test(t) ? t : undefined;
      },
      60_000,
    );
    assert.match(text, /failed \(OUT_OF_MEMORY\)/);
    assert.match(text, /ran out of memory .*--mem=9G/);
  });
});
