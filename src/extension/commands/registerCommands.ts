import type * as vscode from 'vscode';
import type { Services } from '../services';
import { registerAccountCommands } from './accountCommands';
import { registerCompareCommands } from './compareCommands';
import { registerListCommands } from './listCommands';
import { registerRerunCommands } from './rerunCommands';
import { registerResultCommands } from './resultCommands';
import { registerRunCommands } from './runCommands';
import { registerSummaryCommands } from './summaryCommands';
import { registerSweepCommands } from './sweepCommands';
import { registerSweepResultsCommands } from './sweepResultsCommands';

/** Every `muse.*` command, one file per family; the disposables go to `context.subscriptions`. */
export function registerCommands(s: Services, onAuthChanged: () => void): vscode.Disposable[] {
  return [...registerRunCommands(s), ...registerResultCommands(s), ...registerListCommands(s), ...registerAccountCommands(s, onAuthChanged), ...registerSummaryCommands(s), ...registerRerunCommands(s), ...registerSweepCommands(s), ...registerCompareCommands(s), ...registerSweepResultsCommands(s)];
}
