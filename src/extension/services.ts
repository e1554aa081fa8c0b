import type * as vscode from 'vscode';
import type { Poller } from '../core/poller';
import type { RunStore } from '../core/store';
import type { Auth } from './auth';
import type { Backends } from './backends';
import type { Log } from './log';
import type { ResultsFolders } from './resultsFolders';
import type { RunDocuments } from './runDocuments';
import type { RunsView } from './runsView';
import type { Settings } from './settings';
import type { ZipFileSystem } from './zipFileSystem';

/** What the commands work with, built once by `activate()`. */
export interface Services {
  context: vscode.ExtensionContext;
  channel: vscode.LogOutputChannel;
  log: (component: string) => Log;
  settings: Settings;
  auth: Auth;
  backends: Backends;
  store: RunStore;
  poller: Poller;
  runsView: RunsView;
  documents: RunDocuments;
  zipFs: ZipFileSystem;
  results: ResultsFolders;
  /** This window's id (`windowId()`): recorded on the runs it submits, which it announces. */
  windowId: string;
  /**
   * A user's Refresh: polls every profile with active runs now; unlike the poller's own polls,
   * a token refused on the way may be renewed by asking (once).
   */
  refreshNow(): Promise<void>;
  /** Resolves once the run store is read (commands wait for it). */
  ready: Promise<void>;
}
