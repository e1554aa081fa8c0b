// Helpers for UI tests: drive the real VS Code workbench (code-server) in headless Chromium the
// way a user would (palette, activity bar, trees, editors, notifications) and save screenshots.
//
// run.sh starts code-server and sets the environment these read:
//   MUSE_CODE_SERVER_URL  http://127.0.0.1:PORT of the running code-server (required)
//   MUSE_UI_WORKSPACE     the folder to open: a fresh copy of test/vscode/workspace/
//   MUSE_VSCODE_RUN_DIR   scratch folder of this run (browser profiles go there)
//   MUSE_UI_DATA_DIR      the MUSE_DATA_DIR of that code-server (its run store: tests may seed it)
//   MUSE_UI_MACHINE_SETTINGS its remote machine settings.json (where a remote window keeps muse.profiles)
//
// Typical test:
//   const wb = await openWorkbench();
//   await runCommand(wb, 'Muse: Refresh');
//   const rows = await waitForTreeItems(wb, 'Runs', (items) => items.some((i) => /done/.test(i.ariaLabel)));
//   await screenshot(wb, 'runs-done');
//   await wb.close();
//
// Every wait has a deadline and fails with a message saying what it waited for.
import * as fs from 'fs';
import * as path from 'path';
import type { BrowserContext, Page } from 'playwright-core';
import { developmentPayload, launchBrowser, workbenchUrl } from '../vscode/runner/browser';

/** An open workbench window. `page` is Playwright's, for anything the helpers do not cover. */
export interface Workbench {
  readonly page: Page;
  readonly context: BrowserContext;
  /** The code-server address, `http://127.0.0.1:PORT`. */
  readonly serverUrl: string;
  /** Absolute path of the opened workspace folder (or `.code-workspace` file). */
  readonly folder: string;
  /**
   * Closes the browser (code-server keeps running for the next test). Abrupt, like a dropped
   * connection: the window's extension host lives on for the reconnection grace time; use
   * `closeWindow` for a window the user closes.
   */
  close(): Promise<void>;
}

/** One row of a tree or list view, as the DOM shows it. */
export interface TreeItem {
  /** The label (`TreeItem.label`). */
  label: string;
  /** The grey text after the label (`TreeItem.description`), '' if none. */
  description: string;
  /** The accessibility label: VS Code builds it from label and description unless the item sets one. */
  ariaLabel: string;
  /** 1 for top-level rows, 2 for their children... */
  level: number;
  /** true/false for collapsible rows, undefined for leaves. */
  expanded: boolean | undefined;
  /** The codicon the row shows (`pass`, `loading`, `error`...), '' when it has none or a file icon. */
  icon: string;
}

/** Default deadline for a wait, in ms. The first workbench load takes 5-10 s on these machines. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The project folder: the nearest parent holding our package.json (works from test/ and out/test/). */
export const PROJECT_ROOT = findProjectRoot(__dirname);

/** Where screenshots go (gitignored). */
export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-results', 'screenshots');

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'muse-runner') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no muse-runner package.json above ${from}`);
  }
}

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the UI tests through \`bash test/vscode/run.sh\``);
  return v;
}

let browsers = 0;

/**
 * Adds profiles to the UI code-server's settings, as a user adds them: `muse.profiles` is a
 * machine setting, which a remote window (code-server's) reads from the remote machine's
 * settings (`Machine/settings.json`), not from the user settings or a workspace. Profiles of the
 * same name are replaced, the others kept.
 */
export function addProfiles(profiles: Array<{ name: string } & Record<string, unknown>>): void {
  const file = requiredEnv('MUSE_UI_MACHINE_SETTINGS');
  const cur = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const names = new Set(profiles.map((p) => p.name));
  const kept = ((cur['muse.profiles'] as Array<{ name: string }> | undefined) ?? []).filter((p) => !names.has(p.name));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ ...cur, 'muse.profiles': [...kept, ...profiles] }, null, 2));
}

/**
 * Opens the workbench on the example workspace (or `folder`, which may be a `.code-workspace`
 * file) with our extension loaded from the
 * project folder in development mode, and waits until the Explorer shows the folder and the
 * extensions have activated.
 */
export async function openWorkbench(opts: { folder?: string; timeoutMs?: number } = {}): Promise<Workbench> {
  const serverUrl = requiredEnv('MUSE_CODE_SERVER_URL');
  const folder = path.resolve(opts.folder ?? requiredEnv('MUSE_UI_WORKSPACE'));
  const runDir = process.env.MUSE_VSCODE_RUN_DIR ?? path.join(PROJECT_ROOT, '.cache', 'vscode-run', 'ui');
  const context = await launchBrowser(path.join(runDir, `chromium-ui-${process.pid}-${++browsers}`));
  const page = context.pages()[0] ?? (await context.newPage());
  const wb: Workbench = { page, context, serverUrl, folder, close: () => context.close() };
  try {
    const timeout = opts.timeoutMs ?? 60_000;
    await page.goto(workbenchUrl(serverUrl, folder, developmentPayload(serverUrl, PROJECT_ROOT)));
    await waitForFolder(page, timeout);
    await page.locator('.statusbar-item', { hasText: 'Activating Extensions' }).waitFor({ state: 'hidden', timeout });
  } catch (err) {
    await screenshot(wb, 'open-workbench-failed').catch(() => undefined);
    await context.close();
    throw new Error(`the workbench did not open ${folder} at ${serverUrl}: ${(err as Error).message}`);
  }
  return wb;
}

/** How long the explorer may say "no folder opened" before the page is reloaded (it says so a moment at start-up). */
const NO_FOLDER_RELOAD_MS = 5_000;

/**
 * Waits for the explorer to list the opened folder. code-server now and then brings a workspace
 * up without its folder ("no folder opened" under a title naming the workspace: seen in a CI
 * run, the workspace file being whole): after 5 s of that the page is reloaded once, as a user
 * would.
 */
async function waitForFolder(page: Page, timeoutMs: number): Promise<void> {
  const rows = page.locator('.explorer-folders-view .monaco-list-row').first();
  const noFolder = page.getByText('You have not yet added a folder to the workspace');
  let reloaded = false;
  let noFolderSince: number | undefined;
  await waitFor(
    'the explorer to list the folder',
    async () => {
      if (await rows.isVisible()) return true;
      if (reloaded || !(await noFolder.isVisible())) {
        noFolderSince = undefined;
        return undefined;
      }
      noFolderSince ??= Date.now();
      if (Date.now() - noFolderSince < NO_FOLDER_RELOAD_MS) return undefined;
      console.log('      (the workbench came up without its folder: reloading the page once)');
      reloaded = true;
      await page.reload();
      return undefined;
    },
    timeoutMs,
  );
}

/**
 * Closes the window as a user closes a browser tab: the page's unload handlers run, so the
 * workbench shuts down and tells code-server it is leaving (a tab that merely loses its
 * connection keeps its extension host alive for the server's reconnection grace time, 3 hours in
 * VS Code 1.100). Then closes the browser. Resolves once the page is closed.
 */
export async function closeWindow(wb: Workbench, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const closed = wb.page.waitForEvent('close', { timeout: timeoutMs });
  await wb.page.close({ runBeforeUnload: true });
  await closed;
  await wb.context.close();
}

/** Polls `probe` until it returns a value that is not undefined/false, or fails after the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Opens the command palette (F1) with `text` typed after the `>`; returns the visible entries' labels. */
async function typeInPalette(wb: Workbench, text: string): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  if (await widget.isVisible()) await wb.page.keyboard.press('Escape');
  await widget.waitFor({ state: 'hidden', timeout: DEFAULT_TIMEOUT_MS });
  await wb.page.keyboard.press('F1');
  const input = widget.locator('input.input');
  await input.waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  await input.fill(`>${text}`);
}

/** Labels of the entries the open quick pick shows, top to bottom, and which one is focused. */
export async function quickPickLabels(wb: Workbench): Promise<{ label: string; focused: boolean }[]> {
  return wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').evaluateAll((rows) =>
    rows.map((r) => ({
      label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
      focused: r.classList.contains('focused'),
    })),
  );
}

/**
 * Runs a command from the palette by its full title as the palette shows it, category included
 * ("Muse: Refresh", "View: Close All Editors"): F1, type, Enter on the entry whose label is
 * exactly `title`, then waits for the palette to close. Fails (without running anything) when
 * no entry matches exactly, so a typo never runs a neighbouring command.
 */
export async function runCommand(wb: Workbench, title: string): Promise<void> {
  await typeInPalette(wb, title);
  const rows = await waitFor(
    `"${title}" in the command palette`,
    async () => {
      const labels = await quickPickLabels(wb);
      return labels.some((r) => r.label === title) ? labels : undefined;
    },
    5_000, // the palette filters in well under a second; a miss is a wrong title
  ).catch(async (err: Error) => {
    const seen = (await quickPickLabels(wb)).map((r) => r.label);
    await wb.page.keyboard.press('Escape');
    throw new Error(`${err.message}; the palette offered: ${JSON.stringify(seen)}`);
  });
  const exact = wb.page
    .locator('.quick-input-widget .quick-input-list .monaco-list-row')
    .filter({ has: wb.page.locator('.label-name', { hasText: title }) });
  if (rows.find((r) => r.focused)?.label === title) await wb.page.keyboard.press('Enter');
  else await exact.first().click(); // filtered further down the list: pick it explicitly
  // The palette closes; a command that asks something opens its own quick input at once, in the
  // same widget: that one's text does not start with '>'.
  const widget = wb.page.locator('.quick-input-widget');
  await waitFor(`the palette to close after "${title}"`, async () => {
    if (!(await widget.isVisible())) return true;
    const value = await widget.locator('input.input').inputValue().catch(() => '');
    return !value.startsWith('>');
  });
}

/** The palette's entries for `filter` (it matches words fuzzily, like a user typing), then closes it. */
export async function paletteCommands(wb: Workbench, filter: string): Promise<string[]> {
  await typeInPalette(wb, filter);
  // The list fills asynchronously: wait until two reads agree.
  let last = '';
  const labels = await waitFor(`the palette's entries for "${filter}"`, async () => {
    const now = (await quickPickLabels(wb)).map((r) => r.label);
    const key = JSON.stringify(now);
    const stable = key === last;
    last = key;
    return stable ? now : undefined;
  });
  await wb.page.keyboard.press('Escape');
  return labels;
}

/**
 * Answers the quick pick or input box that is open (one a command opened): picks the entry
 * labelled `answer`, or types `answer` and presses Enter in an input box.
 */
export async function answerQuickInput(wb: Workbench, answer: string): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  await widget.waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  const labels = await quickPickLabels(wb);
  if (labels.some((r) => r.label === answer)) {
    await widget.locator('.quick-input-list .monaco-list-row').filter({ has: wb.page.locator('.label-name', { hasText: answer }) }).first().click();
  } else {
    await widget.locator('input.input').fill(answer);
    await wb.page.keyboard.press('Enter');
  }
}

/**
 * Accepts the question on screen as it is (Enter in its box). The box is focused first: a
 * question that has just replaced another may not have the focus yet, and a key pressed on the
 * page then goes nowhere.
 */
export async function acceptQuestion(wb: Workbench): Promise<void> {
  await wb.page.locator('.quick-input-widget input.input').press('Enter');
}

/**
 * Shows a view container from the activity bar by its title ("Explorer", "Muse"): clicks its icon
 * unless it is already the visible one.
 */
export async function showViewContainer(wb: Workbench, title: string): Promise<void> {
  const item = wb.page.locator(`.activitybar .action-item a.action-label[aria-label^="${title}"]`).first();
  await item.waitFor({ timeout: DEFAULT_TIMEOUT_MS }).catch(async () => {
    const seen = await wb.page.locator('.activitybar .action-item a.action-label').evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
    throw new Error(`no "${title}" in the activity bar; it shows ${JSON.stringify(seen)}`);
  });
  const checked = await item.locator('xpath=..').getAttribute('class');
  if (!checked?.includes('checked')) await item.click();
  await waitFor(`the "${title}" side bar`, async () => {
    const shown = await wb.page.locator('.sidebar .composite.title h2').first().textContent();
    return shown?.toLowerCase().startsWith(title.toLowerCase()) ?? false;
  });
}

/**
 * The rows of the tree or list view titled `viewTitle` ("Runs", the folder name for the Explorer),
 * top to bottom as rendered (collapsed children are absent; long trees render only what is
 * scrolled into view). The view must be visible: call showViewContainer first.
 */
export async function treeItems(wb: Workbench, viewTitle: string): Promise<TreeItem[]> {
  const panes = wb.page.locator('.sidebar .pane, .panel .pane, .auxiliarybar .pane');
  // A view's pane has a header naming it, even when VS Code hides the header because the view
  // is alone in its container.
  const matches = await panes.evaluateAll(
    (ps, want) =>
      ps.map((p) => {
        const h = p.querySelector('.pane-header');
        const name = h?.querySelector('h3.title')?.textContent?.trim().toLowerCase();
        return name === want || (h?.getAttribute('aria-label') ?? '').toLowerCase().startsWith(`${want} section`);
      }),
    viewTitle.toLowerCase(),
  );
  const index = matches.indexOf(true);
  if (index < 0) throw new Error(`no view titled "${viewTitle}" is showing`);
  return panes
    .nth(index)
    .locator('.pane-body .monaco-list-row')
    .evaluateAll((rows) =>
      rows.map((r) => ({
        label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
        description: r.querySelector('.label-description')?.textContent?.trim() ?? '',
        ariaLabel: r.getAttribute('aria-label') ?? '',
        level: Number(r.getAttribute('aria-level') ?? '1'),
        expanded: r.hasAttribute('aria-expanded') ? r.getAttribute('aria-expanded') === 'true' : undefined,
        // A tree item's ThemeIcon is a `codicon codicon-<id>` element before its label (the
        // twistie is a codicon too: skip it).
        icon:
          [...r.querySelectorAll('.codicon')]
            .filter((e) => !e.classList.contains('monaco-tl-twistie') && !e.closest('.actions'))
            .flatMap((e) => [...e.classList])
            .find((c) => c.startsWith('codicon-') && c !== 'codicon-modifier-spin')
            ?.slice('codicon-'.length) ?? '',
      })),
    );
}

/** Polls the view's rows until `accept` returns true for them; returns those rows. */
export async function waitForTreeItems(
  wb: Workbench,
  viewTitle: string,
  accept: (items: TreeItem[]) => boolean,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<TreeItem[]> {
  let last: TreeItem[] = [];
  return waitFor(
    `rows of "${viewTitle}" to match`,
    async () => {
      last = await treeItems(wb, viewTitle).catch(() => []);
      return accept(last) ? last : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last rows: ${JSON.stringify(last.map((i) => i.ariaLabel || i.label))}`);
  });
}

/** Opens a workspace file by name with Quick Open (Ctrl+P) and waits for its editor tab. */
export async function openFile(wb: Workbench, name: string): Promise<void> {
  await wb.page.keyboard.press('Control+P');
  const widget = wb.page.locator('.quick-input-widget');
  await widget.locator('input.input').waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  await widget.locator('input.input').fill(name);
  const base = path.basename(name);
  // The list still shows the recently opened editors for a moment after the text is typed:
  // wait until the focused entry is the file, so that Enter never opens a neighbour.
  await waitFor(`"${base}" focused in Quick Open`, async () => (await quickPickLabels(wb)).find((r) => r.focused)?.label === base);
  await wb.page.keyboard.press('Enter');
  await waitFor(`an editor tab for ${base}`, async () => (await activeEditorTitle(wb)) === base);
}

/** Title of the active editor tab ('' when none). */
export async function activeEditorTitle(wb: Workbench): Promise<string> {
  const tab = wb.page.locator('.editor-group-container.active .tab.active .label-name').first();
  return (await tab.count()) ? ((await tab.textContent())?.trim() ?? '') : '';
}

/**
 * Text of the active text editor as rendered, lines joined by '\n' (only the lines in view: fine
 * for results documents; scroll or use the in-host tests for long ones).
 */
export async function activeEditorText(wb: Workbench): Promise<string> {
  return wb.page
    .locator('.editor-group-container.active .monaco-editor .view-lines .view-line')
    .evaluateAll((lines) =>
      lines
        // the DOM keeps lines in render order, not text order: sort by their vertical position
        .map((l) => ({
          top: Number(/top:\s*(-?[\d.]+)px/.exec(l.getAttribute('style') ?? '')?.[1] ?? 0),
          text: (l.textContent ?? '').replace(/\u00a0/g, ' '),
        }))
        .sort((a, b) => a.top - b.top)
        .map((l) => l.text)
        .join('\n'),
    );
}

/** Waits until the active editor's text (see activeEditorText) matches `pattern`; returns the text. */
export async function waitForEditorText(wb: Workbench, pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  let last = '';
  return waitFor(
    `the active editor to show ${pattern}`,
    async () => {
      last = await activeEditorText(wb);
      return pattern.test(last) ? last : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; it shows ${JSON.stringify(last.slice(0, 500))}`);
  });
}

/** Messages of the notification toasts on screen. */
export async function notifications(wb: Workbench): Promise<string[]> {
  return wb.page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
}

/** Clicks the button labelled `button` on the toast whose message contains `message`. */
export async function clickNotificationButton(wb: Workbench, message: string | RegExp, button: string): Promise<void> {
  const toast = wb.page.locator('.notifications-toasts .notification-list-item', { hasText: message }).first();
  await toast.waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  await toast.locator('.monaco-button', { hasText: button }).first().click();
}

/** Saves a PNG of the whole window to test-results/screenshots/<name>.png; returns its path. */
export async function screenshot(wb: Workbench, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await wb.page.screenshot({ path: file });
  return file;
}

/**
 * Clicks the editor title button of the active editor whose tooltip is `title` ("Run Active File
 * on Muse"), as a user would.
 */
export async function clickEditorAction(wb: Workbench, title: string): Promise<void> {
  const actions = wb.page.locator('.editor-group-container.active .editor-actions');
  const button = actions.locator(`a.action-label[aria-label="${title}"]`).first();
  await button.waitFor({ timeout: DEFAULT_TIMEOUT_MS }).catch(async () => {
    const seen = await actions.locator('a.action-label').evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
    throw new Error(`no "${title}" button in the editor title; it shows ${JSON.stringify(seen)}`);
  });
  await button.click();
}

/** The labels of the buttons in the active editor's title (Run, Split, Preview...). */
export async function editorActionLabels(wb: Workbench): Promise<string[]> {
  const actions = wb.page.locator('.editor-group-container.active .editor-actions a.action-label');
  return (await actions.evaluateAll((as) => as.map((a) => a.getAttribute('aria-label') ?? ''))).filter(Boolean);
}

/**
 * Waits for the modal dialog (`showInformationMessage(..., { modal: true })`), clicks its button
 * labelled `button`, and returns the dialog's message and detail as shown.
 */
export async function clickDialogButton(wb: Workbench, button: string): Promise<{ message: string; detail: string }> {
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  const message = ((await dialog.locator('.dialog-message-text').first().textContent()) ?? '').trim();
  const detail = (await dialog.locator('.dialog-message-detail').count()) ? ((await dialog.locator('.dialog-message-detail').first().innerText()) ?? '').trim() : '';
  await dialog.locator('.dialog-buttons .monaco-button', { hasText: new RegExp(`^${button.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).first().click();
  await dialog.waitFor({ state: 'hidden', timeout: DEFAULT_TIMEOUT_MS });
  return { message, detail };
}

/** Waits for a notification toast whose message matches `pattern`; returns its message. */
export async function waitForNotification(wb: Workbench, pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  let seen: string[] = [];
  return waitFor(
    `a notification matching ${pattern}`,
    async () => {
      seen = await notifications(wb);
      return seen.find((m) => pattern.test(m));
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; on screen: ${JSON.stringify(seen)}`);
  });
}

/**
 * Clicks the inline action `actionTitle` ("Open Results") of the row labelled `rowLabel` in the
 * view `viewTitle`: hovers the row first, as inline actions show on hover.
 */
export async function clickTreeItemAction(wb: Workbench, viewTitle: string, rowLabel: string, actionTitle: string): Promise<void> {
  const rows = wb.page.locator('.sidebar .pane, .panel .pane, .auxiliarybar .pane').filter({
    has: wb.page.locator('.pane-header', { hasText: new RegExp(viewTitle, 'i') }),
  }).locator('.pane-body .monaco-list-row');
  const row = rows.filter({ has: wb.page.locator('.label-name', { hasText: rowLabel }) }).first();
  await row.waitFor({ timeout: DEFAULT_TIMEOUT_MS });
  await row.hover();
  const action = row.locator(`.actions a.action-label[aria-label="${actionTitle}"]`).first();
  await action.waitFor({ timeout: DEFAULT_TIMEOUT_MS }).catch(async () => {
    const seen = await row.locator('.actions a.action-label').evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
    throw new Error(`no inline "${actionTitle}" on the row "${rowLabel}"; it offers ${JSON.stringify(seen)}`);
  });
  await action.click();
}
