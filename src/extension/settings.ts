import * as vscode from 'vscode';
import type { Profile } from '../core/profiles';
import { readProfiles, resolveActiveProfile } from './profileSettings';

/** Where `setActiveProfile` wrote the setting. */
export type ActiveProfileTarget = { target: 'user' } | { target: 'workspace' } | { target: 'workspaceFolder'; folder: string };

/** Words for a user: where the active profile was saved. */
export function describeTarget(t: ActiveProfileTarget): string {
  if (t.target === 'workspaceFolder') return `the settings of the folder "${t.folder}"`;
  return t.target === 'workspace' ? 'the workspace settings' : 'your user settings';
}

/** The `muse.*` settings, read in one place and typed. */
export class Settings implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Fires when any `muse.*` setting changed. */
  readonly onDidChange = this.emitter.event;
  private readonly sub: vscode.Disposable;
  private cache: ReturnType<typeof readProfiles> | undefined;

  constructor() {
    this.sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('muse')) {
        this.cache = undefined;
        this.emitter.fire();
      }
    });
  }

  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('muse');
  }

  private read(): ReturnType<typeof readProfiles> {
    this.cache ??= readProfiles(this.config.get<unknown>('profiles'));
    return this.cache;
  }

  /** Valid profiles (the local runner is always there). */
  get profiles(): Profile[] {
    return this.read().profiles;
  }

  /** True when the user configured no profile (runs go to the local runner). */
  get noProfileConfigured(): boolean {
    return this.read().none;
  }

  /** Entries of `muse.profiles` that were skipped, and why. */
  get problems(): string[] {
    return this.read().problems;
  }

  get activeProfile(): Profile {
    return resolveActiveProfile(this.profiles, this.config.get<string>('activeProfile'));
  }

  profile(name: string): Profile | undefined {
    return this.profiles.find((p) => p.name === name);
  }

  /**
   * Makes `name` the active profile where `muse.activeProfile` is defined now (a workspace
   * folder's, the workspace's, else the user settings): a user-level write would be overridden
   * by a workspace value and change nothing. Returns where it was written, for the message.
   */
  async setActiveProfile(name: string): Promise<ActiveProfileTarget> {
    // Folder settings exist apart from the workspace's only in a multi-root workspace.
    const folders = vscode.workspace.workspaceFile ? (vscode.workspace.workspaceFolders ?? []) : [];
    for (const folder of folders) {
      const config = vscode.workspace.getConfiguration('muse', folder.uri);
      if (config.inspect<string>('activeProfile')?.workspaceFolderValue !== undefined) {
        await config.update('activeProfile', name, vscode.ConfigurationTarget.WorkspaceFolder);
        return { target: 'workspaceFolder', folder: folder.name };
      }
    }
    if (this.config.inspect<string>('activeProfile')?.workspaceValue !== undefined) {
      await this.config.update('activeProfile', name, vscode.ConfigurationTarget.Workspace);
      return { target: 'workspace' };
    }
    await this.config.update('activeProfile', name, vscode.ConfigurationTarget.Global);
    return { target: 'user' };
  }

  /** Base poll interval in ms (setting in seconds, at least 1 s). */
  get pollIntervalMs(): number {
    const s = this.config.get<number>('pollInterval') ?? 5;
    return Math.max(1, Number.isFinite(s) ? s : 5) * 1000;
  }

  get resultsFolder(): string {
    return this.config.get<string>('resultsFolder') ?? '.muse';
  }

  /** Characters a followed output document keeps (`muse.followMaxMegabytes`, default 8 MB). */
  get followMaxBytes(): number {
    const mb = this.config.get<number>('followMaxMegabytes') ?? 8;
    return Math.max(1, Number.isFinite(mb) ? mb : 8) * 1024 * 1024;
  }

  /** Least seconds between two fetches of a web API run folder while its output is followed (at least 30). */
  get followWebApiSeconds(): number {
    const s = this.config.get<number>('followWebApiSeconds') ?? 30;
    return Math.max(30, Number.isFinite(s) ? s : 30);
  }

  /** SSH profiles go through the per-user agent (`muse.agent.enabled`, machine scope, default true). */
  get agentEnabled(): boolean {
    return this.config.get<boolean>('agent.enabled') ?? true;
  }

  /** Minutes the agent keeps an unused SSH connection open (`muse.agent.idleMinutes`, default 240). */
  get agentIdleMinutes(): number {
    const m = this.config.get<number>('agent.idleMinutes') ?? 240;
    return Math.max(1, Number.isFinite(m) ? m : 240);
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
