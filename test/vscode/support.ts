// Helpers shared by the in-host tests (not a test file: the runner loads only *.test.js).
import * as vscode from 'vscode';
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
