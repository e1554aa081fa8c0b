// The first UI test: the real workbench in headless Chromium, with our extension under
// development, used the way a user would (Explorer, palette, editor). Screenshots go to
// test-results/screenshots/. The "Run on Muse" end-to-end steps build on the same helpers.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  PROJECT_ROOT,
  activeEditorTitle,
  openFile,
  openWorkbench,
  paletteCommands,
  runCommand,
  screenshot,
  showViewContainer,
  treeItems,
  waitFor,
  waitForEditorText,
  waitForTreeItems,
} from './workbench';
import type { Workbench } from './workbench';

interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
}

/** The palette titles ("Category: Title") of the commands package.json puts in the palette. */
function paletteTitlesFromManifest(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
  const commands: ContributedCommand[] = pkg.contributes?.commands ?? [];
  // Left out: those never in the palette (`when: false`) and those shown only in some states
  // (Sign In needs a ws profile...), which this workspace without profiles is not in.
  const hidden = new Set<string>(
    (pkg.contributes?.menus?.commandPalette ?? [])
      .filter((m: { command: string; when?: string }) => m.when !== undefined)
      .map((m: { command: string }) => m.command),
  );
  return commands.filter((c) => !hidden.has(c.command)).map((c) => (c.category ? `${c.category}: ${c.title}` : c.title));
}

describe('the workbench in headless Chromium', function () {
  this.timeout(120_000);
  let wb: Workbench | undefined;

  before(async () => {
    wb = await openWorkbench();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });

  after(async () => {
    await wb?.close();
  });

  it('opens the example workspace with our extension under development', async () => {
    assert.ok(wb);
    await waitFor('the development host title', async () => (await wb!.page.title()).includes('[Extension Development Host]'));
    await showViewContainer(wb, 'Explorer');
    const rows = await waitForTreeItems(wb, path.basename(wb.folder), (items) => items.some((i) => i.label === 'add.py'));
    assert.deepStrictEqual(
      rows.map((r) => r.label),
      ['add.py'],
    );
    const file = await screenshot(wb, 'workbench-explorer');
    assert.ok(fs.statSync(file).size > 10_000, 'the screenshot is (nearly) empty');
  });

  it('opens a file from Quick Open and closes it from the palette', async () => {
    assert.ok(wb);
    await openFile(wb, 'add.py');
    await waitForEditorText(wb, /print\(float\(sum/);
    await screenshot(wb, 'editor-add-py');
    await runCommand(wb, 'View: Close All Editors');
    await waitFor('no editor open', async () => (await activeEditorTitle(wb!)) === '');
  });

  it('refuses to run a command the palette does not list exactly', async () => {
    assert.ok(wb);
    await assert.rejects(runCommand(wb, 'View: Close All Editor'), /in the command palette/);
  });

  it('shows the Muse container with its Runs view in the activity bar', async () => {
    assert.ok(wb);
    await showViewContainer(wb, 'Muse');
    // The view is there (its rows, or its welcome content when there is no run yet).
    await treeItems(wb, 'Runs');
    await screenshot(wb, 'muse-container');
    await showViewContainer(wb, 'Explorer');
  });

  it('lists the commands of package.json in the palette', async () => {
    assert.ok(wb);
    const titles = paletteTitlesFromManifest();
    assert.ok(titles.length > 0, 'package.json contributes no palette command yet');
    for (const title of titles) {
      const shown = await paletteCommands(wb, title);
      assert.ok(shown.includes(title), `"${title}" is not in the palette (it shows ${JSON.stringify(shown)})`);
    }
  });
});
