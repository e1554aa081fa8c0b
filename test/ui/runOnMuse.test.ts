// "Run on Muse" end to end, the way a user does it in the real workbench (code-server in headless
// Chromium): open add.py, press the editor's Run button or use the palette, answer the questions
// (command, "Run?"; software too on the ws server), watch the run turn done in the Runs tree, open
// its results (9.0) and browse its run folder in the Explorer. Once on the local runner (the
// default profile: no software question, the command prefilled), once on the project's ws test
// server (a profile added with "Muse: Add Profile...", signed in through its input boxes).
// Screenshots of each step: test-results/screenshots/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startMuseServer } from '../server/museServer';
import { remoteUri } from '../vscode/runner/browser';
import type { MuseTestServer } from '../server/museServer';
import {
  PROJECT_ROOT,
  activeEditorTitle,
  answerQuickInput,
  clickDialogButton,
  clickEditorAction,
  clickNotificationButton,
  clickTreeItemAction,
  openFile,
  notifications,
  paletteCommands,
  openWorkbench,
  quickPickLabels,
  runCommand,
  screenshot,
  showViewContainer,
  waitFor,
  waitForEditorText,
  waitForNotification,
  waitForTreeItems,
} from './workbench';
import type { TreeItem, Workbench } from './workbench';

const WS_PROFILE = 'muse-test-server';
/** Local runs end in about a second, ws runs in a few (poll interval 1 s): generous deadlines. */
const RUN_DEADLINE_MS = 60_000;

/** The tree row of a run of `add.py` with `software`, once it shows `state` (its icon and description say so). */
function runRow(items: TreeItem[], software: string, state: 'done'): TreeItem | undefined {
  return items.find((i) => i.level === 2 && i.label === `${software} · add.py` && i.description.startsWith(state) && i.icon === 'pass');
}

/** Waits until the input box or quick pick titled like `title` is the one open (questions come one by one). */
async function waitForQuestion(wb: Workbench, title: RegExp): Promise<void> {
  await waitFor(`a question titled ${title}`, async () => {
    const widget = wb.page.locator('.quick-input-widget');
    if (!(await widget.isVisible())) return false;
    const shown = [await widget.locator('.quick-input-title').textContent().catch(() => ''), await widget.locator('.quick-input-message').textContent().catch(() => '')].join(' ');
    return title.test(shown);
  });
}

/** The text of the results document (the run's standard output), once its tab is the active one. */
async function resultsText(wb: Workbench): Promise<string> {
  // add.py's own text mentions 9.0: wait for the results tab before reading.
  await waitFor('the results tab (stdout.txt)', async () => (await activeEditorTitle(wb)) === 'stdout.txt').catch(async (err: Error) => {
    throw new Error(`${err.message}; the active tab is "${await activeEditorTitle(wb)}", notifications: ${JSON.stringify(await notifications(wb))}`);
  });
  return (await waitForEditorText(wb, /\S/)).trim();
}

describe('Run on Muse, end to end in the workbench', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let server: MuseTestServer | undefined;
  let folder: string;

  before(async () => {
    const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
    const base = path.join(runDir, 'ui-run-on-muse');
    fs.rmSync(base, { recursive: true, force: true });
    // A second software besides sw_example, as on a real server: the run flow then asks which
    // one (with a single one it does not ask). Only sw_example is run.
    server = await startMuseServer({ dataDir: path.join(base, 'ws-server'), images: { sw_other: path.join(base, 'sw_other.sif') } });
    // The example folder, opened as a (multi-root) workspace (profiles are not a workspace's to
    // set: the ws profile is added through Add Profile, into the user settings). A workspace file rather than the bare folder: "Browse in Explorer"
    // adds the zip as a second root, and in a single-folder window VS Code turns that into an
    // untitled workspace by reloading the page, which code-server does not always survive (about
    // 1 reload in 4 here came back with "no folder opened").
    fs.cpSync(path.join(PROJECT_ROOT, 'test', 'vscode', 'workspace'), path.join(base, 'example'), { recursive: true });
    folder = path.join(base, 'example.code-workspace');
    fs.writeFileSync(
      folder,
      JSON.stringify(
        {
          // As VS Code writes them for a remote window: the folder's full vscode-remote: URI.
          folders: [{ uri: remoteUri(process.env.MUSE_CODE_SERVER_URL ?? '', path.join(base, 'example')) }],
          remoteAuthority: new URL(process.env.MUSE_CODE_SERVER_URL ?? 'http://x').host,
          settings: {
            'muse.pollInterval': 1,
          },
        },
        null,
        2,
      ),
    );
    wb = await openWorkbench({ folder });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && wb) await screenshot(wb, `failed-${this.currentTest.title}`);
  });

  after(async () => {
    await wb?.close();
    await server?.close();
  });

  it('runs add.py on the local runner from the editor title button and shows 9.0', async () => {
    assert.ok(wb);
    await openFile(wb, 'add.py');
    await clickEditorAction(wb, 'Run Active File on Muse');
    // The local runner has no image configured: it runs the command directly, and the first
    // question is the command, prefilled from the language.
    await waitForQuestion(wb, /run add\.py with direct on local/);
    const prefilled = await wb.page.locator('.quick-input-widget input.input').inputValue();
    assert.strictEqual(prefilled, 'python3 add.py');
    await screenshot(wb, 'local-1-command');
    await answerQuickInput(wb, 'python3 add.py 4 5');
    const asked = await clickDialogButton(wb, 'Run');
    assert.match(asked.message, /Run add\.py on local\?/);
    assert.match(asked.detail, /direct: python3 add\.py 4 5/);

    // The run appears in the Runs tree (the Muse side bar opens on it) and turns done.
    await showViewContainer(wb, 'Muse');
    const rows = await waitForTreeItems(wb, 'Runs', (items) => !!runRow(items, 'direct', 'done'), RUN_DEADLINE_MS);
    assert.ok(rows.some((r) => r.level === 1 && r.label === 'local'), 'the run is grouped under its profile');
    await waitForNotification(wb, /Muse run direct · add\.py finished/);
    await screenshot(wb, 'local-2-done');

    await clickNotificationButton(wb, /direct · add\.py finished/, 'Open Results');
    assert.strictEqual(await resultsText(wb), '9.0');
    await screenshot(wb, 'local-3-results');
  });

  it('adds the ws test server with Add Profile, step by step, signing in', async () => {
    assert.ok(wb && server);
    // Without a ws profile, Sign In is not offered.
    assert.ok(!(await paletteCommands(wb, 'Muse: Sign In')).includes('Muse: Sign In'), 'Sign In is offered with no ws profile');
    await runCommand(wb, 'Muse: Add Profile...');
    await waitForQuestion(wb, /Add Profile/);
    await screenshot(wb, 'add-profile-1-kind');
    await answerQuickInput(wb, 'Muse web API');
    // Each step: type, let the picture show the step (and its validation), then Enter.
    const step = async (question: RegExp, answer: string, shot: string): Promise<void> => {
      await waitForQuestion(wb!, question);
      await wb!.page.locator('.quick-input-widget input.input').fill(answer);
      await screenshot(wb!, shot);
      await wb!.page.keyboard.press('Enter');
    };
    // A wrong URL is refused while typing, with the reason under the box.
    await waitForQuestion(wb, /Address of the Muse web API/);
    await wb.page.locator('.quick-input-widget input.input').fill('muse.example.org');
    await waitFor('the validation message', async () => /Type the address of the API/.test((await wb!.page.locator('.quick-input-widget .quick-input-message').textContent()) ?? ''));
    await screenshot(wb, 'add-profile-2-url-refused');
    // (The message replaces the prompt under the box: the same step, answered right now.)
    await wb.page.locator('.quick-input-widget input.input').fill(server.url);
    await screenshot(wb, 'add-profile-2-url');
    await wb.page.keyboard.press('Enter');
    await step(/Your username/, 'alice', 'add-profile-3-username');
    await step(/Name of the profile/, WS_PROFILE, 'add-profile-4-name');
    // Then the sign-in, and the software list as the connection test.
    await waitForQuestion(wb, /Username on/);
    await answerQuickInput(wb, 'alice');
    await waitForQuestion(wb, /Password of alice/);
    await answerQuickInput(wb, 'secret');
    await clickNotificationButton(wb, /Signed in to muse-test-server as alice/, 'No');
    await wb.page.locator('.monaco-dialog-box').waitFor();
    await screenshot(wb, 'add-profile-5-tested');
    const report = await clickDialogButton(wb, 'Save Profile');
    assert.strictEqual(report.message, 'Signed in to muse-test-server: 2 software available.');
    assert.match(report.detail, /Software: sw_example, sw_other/);
    await waitForNotification(wb, /profile "muse-test-server" saved to your user settings; new runs go to it/);
    await screenshot(wb, 'add-profile-6-saved');
    assert.ok(server.requests.some((r) => r.method === 'POST' && /jwt\/obtain/.test(r.path)), 'no jwt/obtain reached the server');
  });

  it('runs add.py on the ws test server from the palette and shows 9.0', async () => {
    assert.ok(wb && server);
    await openFile(wb, 'add.py');
    await runCommand(wb, 'Muse: Run Active File on Muse');
    // The software offered comes from the server's software/list/.
    await waitForQuestion(wb, /software on muse-test-server/);
    const offered = await waitFor('the software list', async () => {
      const labels = (await quickPickLabels(wb!)).map((r) => r.label);
      return labels.length >= 2 ? labels.sort() : undefined;
    });
    assert.deepStrictEqual(offered, ['sw_example', 'sw_other']);
    await screenshot(wb, 'ws-2-software');
    await answerQuickInput(wb, 'sw_example');
    await waitForQuestion(wb, /run add\.py with sw_example on muse-test-server/);
    await answerQuickInput(wb, 'python3 add.py 4 5');
    const asked = await clickDialogButton(wb, 'Run');
    assert.match(asked.message, /Run add\.py on muse-test-server\?/);

    await showViewContainer(wb, 'Muse');
    await waitForTreeItems(wb, 'Runs', (items) => !!runRow(items, 'sw_example', 'done') && !!runRow(items, 'direct', 'done'), RUN_DEADLINE_MS);
    const post = server.requests.find((r) => r.method === 'POST' && /software\/muse\/run\/sw_example/.test(r.path));
    assert.ok(post, 'no submit reached the server');
    assert.deepStrictEqual(post.files, ['add.py']);

    // From the tree: the row's inline "Open Results".
    await clickTreeItemAction(wb, 'Runs', 'sw_example · add.py', 'Open Results');
    // Known race (reported to the extension's owner): a click landing while the whole tree is
    // being refreshed (every poll does that) reaches the command without its run, and the command
    // then asks which run. The user answers; so do we, loudly, so that it stays visible here.
    const how = await waitFor('the results tab, or the question which run', async () => {
      if ((await activeEditorTitle(wb!)) === 'stdout.txt') return 'opened';
      const question = wb!.page.locator('.quick-input-widget input.input');
      return (await question.isVisible()) && (await question.getAttribute('placeholder')) === 'Run whose results to open' ? 'asked' : undefined;
    });
    if (how === 'asked') {
      console.warn('    ! the inline "Open Results" reached muse.openResults without its run: it asked which run');
      await answerQuickInput(wb, 'sw_example · add.py');
    }
    assert.strictEqual(await resultsText(wb), '9.0');
    await screenshot(wb, 'ws-3-results');

    // The picture for the README: both finished runs and the results, without the toasts.
    await runCommand(wb, 'Notifications: Clear All Notifications');
    await waitFor('no notification on screen', async () => (await notifications(wb!)).length === 0);
    await wb.page.mouse.click(800, 500); // focus leaves the tree: its row shows no inline actions
    // A wider side bar, so that the runs' descriptions (state, time, job) show in full.
    const bar = await wb.page.locator('.part.sidebar').boundingBox();
    assert.ok(bar);
    await wb.page.mouse.move(bar.x + bar.width + 1, bar.y + bar.height / 2);
    await wb.page.mouse.down();
    await wb.page.mouse.move(bar.x + bar.width + 120, bar.y + bar.height / 2, { steps: 5 });
    await wb.page.mouse.up();
    await wb.page.mouse.move(900, 600); // off the sash, which stays highlighted under the pointer
    await screenshot(wb, 'runs-and-results');
  });

  it('browses the run folder zip in the Explorer without extracting it', async () => {
    assert.ok(wb);
    await runCommand(wb, 'Muse: Open Run Content');
    await answerQuickInput(wb, 'sw_example · add.py');
    await clickNotificationButton(wb, /The run folder of sw_example · add\.py is ready/, 'Browse in Explorer');
    // The zip becomes a second root of the workspace, its entries listed as they are in the zip.
    const rows = await waitForTreeItems(
      wb,
      'Explorer',
      (items) => {
        const root = items.findIndex((i) => i.level === 1 && i.label === 'Muse: sw_example · add.py');
        return root >= 0 && items.slice(root + 1).some((i) => i.level === 2 && /stdout\.txt$/.test(i.label));
      },
      RUN_DEADLINE_MS,
    );
    const root = rows.findIndex((i) => i.label === 'Muse: sw_example · add.py');
    const entries = rows.slice(root + 1).filter((i) => i.level === 2).map((i) => i.label);
    assert.ok(entries.includes('add.py'), `the zip lists ${JSON.stringify(entries)}`);
    // A file opens straight from the zip (nothing extracted).
    const stdoutName = entries.find((n) => /stdout\.txt$/.test(n))!;
    await wb.page.locator('.explorer-folders-view .monaco-list-row[aria-level="2"]', { hasText: stdoutName }).last().click();
    await waitFor(`${stdoutName} open`, async () => (await activeEditorTitle(wb!)) === stdoutName);
    assert.strictEqual((await waitForEditorText(wb, /\S/)).trim(), '9.0');
    await screenshot(wb, 'ws-4-content');
  });
});
