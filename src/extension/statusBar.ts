import * as vscode from 'vscode';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import { countActive } from './runTreeModel';

/** A status-bar item counting active runs; hidden when none is active. A click shows the tree. */
export class RunsStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(private readonly store: RunStore) {
    this.item = vscode.window.createStatusBarItem('muse.activeRuns', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'Muse Runs';
    this.item.command = 'muse.runs.focus';
    this.update();
  }

  /** `runs`: the store's runs when the caller has them already (the list is sorted on each call). */
  update(runs: readonly Run[] = this.store.list()): void {
    const n = countActive(runs);
    if (n === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(sync~spin) Muse: ${n}`;
    this.item.tooltip = `${n} Muse run${n === 1 ? '' : 's'} in progress. Click to show them.`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
