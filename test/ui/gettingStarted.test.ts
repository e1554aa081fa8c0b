// The first minutes of a new user in the real workbench: the Getting Started walkthrough opens
// with its steps, and the Run button shows on a script but not on a Markdown file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PROJECT_ROOT, editorActionLabels, openFile, openWorkbench, runCommand, screenshot, waitFor } from './workbench';
import type { Workbench } from './workbench';

describe('Getting started in the workbench', function () {
  this.timeout(120_000);
  let wb: Workbench | undefined;

  before(async () => {
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const folder = path.join(runDir, 'ui-getting-started');
    fs.rmSync(folder, { recursive: true, force: true });
    fs.cpSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace'), folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'notes.md'), '# Notes\n\nNothing to run here.\n');
    wb = await openWorkbench({ folder });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });

  after(async () => {
    await wb?.close();
  });

  it('shows the Run button on add.py and not on a Markdown file', async () => {
    assert.ok(wb);
    await openFile(wb, 'add.py');
    await waitFor('the Run button on add.py', async () => (await editorActionLabels(wb!)).includes('Run Active File on Muse'));
    await openFile(wb, 'notes.md');
    // The Markdown actions show from the workbench at once; the Run button follows the extension
    // host's context key a moment later: wait for both, failing if the Run button stays.
    let labels: string[] = [];
    await waitFor('notes.md\'s own actions, and no Run button', async () => {
      labels = await editorActionLabels(wb!);
      return labels.some((l) => /Preview/.test(l)) && !labels.includes('Run Active File on Muse');
    }).catch((e: Error) => assert.fail(`the Run button shows on notes.md: ${JSON.stringify(labels)} (${e.message})`));
    await screenshot(wb, 'markdown-no-run-button');
  });

  it('opens the walkthrough with its four steps', async () => {
    assert.ok(wb);
    await runCommand(wb, 'Muse: Get Started with Muse Runner');
    const page = wb.page.locator('.gettingStartedContainer');
    await waitFor('the walkthrough page', async () => /Get Started with Muse Runner/.test((await page.textContent().catch(() => '')) ?? ''));
    const text = (await page.textContent()) ?? '';
    for (const step of ['Choose where runs go', 'Run the example', 'Watch the Runs tree', 'Open the results']) {
      assert.ok(text.includes(step), `the walkthrough lacks the step "${step}"`);
    }
    await screenshot(wb, 'walkthrough');
  });
});
