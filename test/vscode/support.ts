// Helpers shared by the in-host tests (not a test file: the runner loads only *.test.js).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { WsProfile } from '../../src/core/profiles';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { Question } from '../../src/extension/prompts';

export const EXTENSION_ID = 'muse-runner.muse-runner';

/** Polls `check` until it returns a value (not undefined), or fails with `what` at the deadline. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The extension, activated and with its store read. */
export async function museApi(): Promise<MuseExtensionApi> {
  const ext = vscode.extensions.getExtension<MuseExtensionApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not loaded`);
  const api = await ext.activate();
  await api.ready;
  return api;
}

/**
 * Answers the extension's questions in place of the user, by question id, and keeps every
 * question asked. Only the answer is stubbed: the dialogs' text and count are the extension's.
 */
export class PromptRecorder {
  readonly asked: Question[] = [];
  constructor(
    private readonly api: MuseExtensionApi,
    private readonly answers: Record<string, string | undefined | ((q: Question) => string | undefined)> = {},
  ) {
    api.setPromptAnswerer(async (q) => {
      this.asked.push(q);
      const a = this.answers[q.id];
      return typeof a === 'function' ? a(q) : a;
    });
  }

  set(id: string, answer: string | undefined | ((q: Question) => string | undefined)): void {
    this.answers[id] = answer;
  }

  count(id: string): number {
    return this.asked.filter((q) => q.id === id).length;
  }

  dispose(): void {
    this.api.setPromptAnswerer(undefined);
  }
}

/** Settings of the `muse` section, set globally for a test and reset after. */
export async function setMuseSettings(values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration('muse');
  for (const [k, v] of Object.entries(values)) await config.update(k, v, vscode.ConfigurationTarget.Global);
}

export async function resetMuseSettings(): Promise<void> {
  await setMuseSettings({ profiles: undefined, activeProfile: undefined, pollInterval: undefined });
}

/** A fresh folder for a test's files: in test/vscode/run.sh's run folder, else the system temp folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.MUSE_VSCODE_RUN_DIR ?? os.tmpdir(), prefix));
}

/** add.py of the example workspace (the first workspace folder). */
export function exampleScript(): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'add.py');
}

/** A ws profile named `name` for the test server's user alice at `url`. */
export function wsProfile(name: string, url: string): WsProfile {
  return { name, kind: 'ws', url, username: 'alice' };
}

/** Makes `wsProfile(name, url)` the only and the active profile, polled every second. */
export async function useWsProfile(name: string, url: string): Promise<void> {
  await setMuseSettings({ profiles: [wsProfile(name, url)], activeProfile: name, pollInterval: 1 });
}

/** Signs out of profile `name` (its secrets go) and resets the `muse` settings. */
export async function signOutAndReset(name: string): Promise<void> {
  await vscode.commands.executeCommand('muse.signOut', { type: 'profile', name });
  await resetMuseSettings();
}

/** Run `id` of the extension's store once it has ended (ok, failed or cancelled). */
export function runEnded(api: MuseExtensionApi, id: string): Promise<Run> {
  return until('the run to end', () => {
    const r = api.store.get(id);
    return r && (r.state === 'ok' || r.state === 'failed' || r.state === 'cancelled') ? r : undefined;
  });
}

/** Answers the questions after a token is refused or expired: Sign In, as alice/secret, `remember` to the password question. */
export function answerSignInAgain(prompts: PromptRecorder, remember: string): void {
  prompts.set('auth.expired', 'Sign In');
  prompts.set('auth.username', 'alice');
  prompts.set('auth.password', 'secret');
  prompts.set('auth.remember', remember);
}

/**
 * Shows `script` and runs it with `muse.runActiveFile` as a user would, with the software and
 * command given (no questions); fails the test when no run with a key comes back.
 */
export async function runScript(api: MuseExtensionApi, script: vscode.Uri, software: string, cmd: string): Promise<Run> {
  await vscode.window.showTextDocument(script);
  const run = (await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, { software, cmd, confirm: false })) as Run | undefined;
  assert.ok(run?.key, `no run: ${api.lastCommandError()}`);
  return run;
}
