import * as vscode from 'vscode';
import { canRunFile } from './runnable';
import type { Settings } from './settings';

/**
 * The context keys menus and the palette read, kept current from the settings and the active
 * editor: `muse:activeFileRunnable` (the Run button and editor menu), `muse:hasWsProfile` (Sign
 * In/Out), `muse:hasImages` (Browse Software on SSH/local), `muse:hasUserProfile` (Edit Profile,
 * Test Connection).
 */
export class ContextKeys implements vscode.Disposable {
  private readonly subs: vscode.Disposable[];
  private readonly last = new Map<string, boolean>();

  constructor(private readonly settings: Settings) {
    this.subs = [
      vscode.window.onDidChangeActiveTextEditor(() => this.updateRunnable()),
      // A language change (plaintext -> python) or a new first line (#!) changes what can run.
      vscode.workspace.onDidOpenTextDocument((d) => d === vscode.window.activeTextEditor?.document && this.updateRunnable()),
      vscode.workspace.onDidChangeTextDocument((e) => e.document === vscode.window.activeTextEditor?.document && e.contentChanges.some((c) => c.range.start.line === 0) && this.updateRunnable()),
      settings.onDidChange(() => this.update()),
    ];
    this.update();
  }

  private set(key: string, value: boolean): void {
    if (this.last.get(key) === value) return;
    this.last.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  private update(): void {
    const profiles = this.settings.profiles;
    this.set('muse:hasWsProfile', profiles.some((p) => p.kind === 'ws'));
    this.set('muse:hasImages', profiles.some((p) => p.kind !== 'ws' && Object.keys(p.images ?? {}).length > 0));
    this.set('muse:hasUserProfile', profiles.some((p) => p.kind === 'ws' || p.kind === 'ssh'));
    this.updateRunnable();
  }

  private updateRunnable(): void {
    const doc = vscode.window.activeTextEditor?.document;
    const runnable = !!doc && doc.uri.scheme === 'file' && canRunFile(this.settings.activeProfile.commandTemplates, doc.languageId, doc.fileName, doc.lineCount > 0 ? doc.lineAt(0).text : undefined);
    this.set('muse:activeFileRunnable', runnable);
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
  }
}
