// Headless Chromium (Debian's, driven by playwright-core) pointed at a code-server workbench.
// Shared by the in-host test driver (drive.ts) and the UI tests (test/ui/workbench.ts).
import * as fs from 'fs';
import * as path from 'path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

/** Debian's chromium: Playwright's own browser download cannot reach its host from here. */
export const CHROMIUM_PATH = process.env.MUSE_CHROMIUM || '/usr/bin/chromium';

/** Flags that keep Chromium quiet and offline (no sync, no updates, no QUIC probes) and working as root. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Starts headless Chromium with a fresh profile in `userDataDir` (removed first, so no state
 * leaks between runs). Close the returned context to stop the browser.
 */
export async function launchBrowser(userDataDir: string): Promise<BrowserContext> {
  fs.rmSync(userDataDir, { recursive: true, force: true });
  fs.mkdirSync(userDataDir, { recursive: true });
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    // Debian's chromium keeps its crash database under $XDG_CONFIG_HOME whatever the profile:
    // keep it in the profile too, out of the home folder.
    env: { ...process.env, XDG_CONFIG_HOME: path.join(userDataDir, 'xdg-config'), XDG_CACHE_HOME: path.join(userDataDir, 'xdg-cache') },
  });
}

/** A path on the code-server machine as the workbench names it: `vscode-remote://HOST:PORT/abs/path`. */
export function remoteUri(serverUrl: string, absPath: string): string {
  const { host } = new URL(serverUrl);
  return `vscode-remote://${host}${encodeURI(absPath)}`;
}

/**
 * The workbench address for `folder` (a folder, or a `.code-workspace` file: a multi-root
 * workspace), optionally with a `payload` (the key/value list VS Code's web workbench reads for
 * `extensionDevelopmentPath`, `extensionTestsPath`, `skipWelcome`...).
 */
export function workbenchUrl(serverUrl: string, folder: string, payload?: [string, string][]): string {
  const url = new URL(serverUrl);
  url.pathname = '/';
  url.searchParams.set(folder.endsWith('.code-workspace') ? 'workspace' : 'folder', folder);
  if (payload) url.searchParams.set('payload', JSON.stringify(payload));
  return url.toString();
}

/** The payload that loads the extension at `extensionPath` in development mode (and its tests, if given). */
export function developmentPayload(serverUrl: string, extensionPath: string, testsPath?: string): [string, string][] {
  const payload: [string, string][] = [['extensionDevelopmentPath', remoteUri(serverUrl, extensionPath)]];
  if (testsPath) payload.push(['extensionTestsPath', remoteUri(serverUrl, testsPath)]);
  payload.push(['skipWelcome', 'true']);
  return payload;
}
