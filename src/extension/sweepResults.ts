/**
 * The sweep results table: one webview panel per sweep in the editor area. Its outputs are read
 * in one batch per profile (`readOutputs`: the backend's `follow` with a 64 KB tail) when the
 * panel opens, on Refresh and when the expression changes; Save as CSV writes the table
 * through the core's atomic write, asynchronously.
 */
import { randomBytes } from 'crypto';
import * as path from 'path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../core/atomicFile';
import { readOutputs } from '../core/compare/runOutputs';
import { errorMessage, isMuseError } from '../core/errors';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import { groupSweeps } from '../core/sweep/sweepGroups';
import { compileExtract, sweepTable, sweepTableCsv } from '../core/sweep/sweepTable';
import type { SweepTable } from '../core/sweep/sweepTable';
import type { Backends } from './backends';
import type { Log } from './log';
import { ask } from './prompts';
import type { ResultsFolders } from './resultsFolders';
import { sweepResultsHtml } from './sweepResultsHtml';

/** No remote or local resource, scripts for the field and buttons only, no command links. */
const PANEL_OPTIONS: vscode.WebviewPanelOptions & vscode.WebviewOptions = {
  enableScripts: true,
  retainContextWhenHidden: false,
  localResourceRoots: [],
  enableCommandUris: false,
};

interface OpenTable {
  panel: vscode.WebviewPanel;
  extract: string;
  extractError?: string;
  table?: SweepTable;
  status?: string;
  /** The draw in progress (a second gesture waits for it: one read at a time per panel). */
  drawing: Promise<void>;
}

/** A sweep's title: its label, else its command template. */
export function sweepTitle(tasks: readonly Run[]): string {
  const tag = tasks.find((t) => t.sweep)?.sweep;
  return `Sweep results: ${tag?.label ?? tag?.template ?? 'sweep'} (${tasks.length} task${tasks.length === 1 ? '' : 's'})`;
}

export class SweepResults implements vscode.Disposable {
  static readonly viewType = 'muse.sweepResults';
  private readonly open = new Map<string, OpenTable>();

  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly results: ResultsFolders,
    private readonly log: Log,
  ) {}

  /** Opens (or reveals) the table of a sweep; `extract` sets the field. Resolves with the table drawn. */
  async show(sweepId: string, extract?: string): Promise<SweepTable | undefined> {
    let o = this.open.get(sweepId);
    if (o) o.panel.reveal(undefined, false);
    else {
      const panel = vscode.window.createWebviewPanel(SweepResults.viewType, 'Sweep results', vscode.ViewColumn.Active, PANEL_OPTIONS);
      o = this.attach(panel, sweepId);
    }
    if (extract !== undefined) o.extract = extract;
    await this.redraw(sweepId);
    return this.open.get(sweepId)?.table;
  }

  /** A panel VS Code brings back after a reload (the page saved its sweep id). */
  async restore(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const id = (state as { sweepId?: unknown } | undefined)?.sweepId;
    if (typeof id !== 'string' || this.open.has(id) || !this.tasksOf(id)) {
      panel.dispose();
      return;
    }
    panel.webview.options = PANEL_OPTIONS;
    this.attach(panel, id);
    await this.redraw(id);
  }

  /** Saves the table as CSV where the user says; resolves with the path, or undefined when dismissed. */
  async saveCsv(sweepId: string): Promise<string | undefined> {
    const o = this.open.get(sweepId);
    if (!o) return undefined;
    await o.drawing;
    if (!o.table) return undefined;
    const name = `sweep-${sweepId.slice(0, 8)}.csv`;
    const dest = await ask({ kind: 'save', id: 'sweepResults.saveCsv', title: 'Muse: save the sweep results as CSV', defaultPath: path.join(this.results.root(), name), filters: { CSV: ['csv'] } });
    if (!dest) return undefined;
    await writeFileAtomic(dest, sweepTableCsv(o.table));
    void vscode.window.showInformationMessage(`Saved the sweep results (${o.table.rows.length} tasks) to ${dest}.`);
    return dest;
  }

  private attach(panel: vscode.WebviewPanel, sweepId: string): OpenTable {
    const entry: OpenTable = { panel, extract: '', drawing: Promise.resolve() };
    this.open.set(sweepId, entry);
    panel.onDidDispose(() => {
      if (this.open.get(sweepId) === entry) this.open.delete(sweepId);
    });
    panel.webview.onDidReceiveMessage((msg: { command?: string; value?: unknown }) => {
      const fail = (e: unknown): void => this.log.error(`sweep results ${sweepId}: ${errorMessage(e)}`);
      if (msg?.command === 'extract' && typeof msg.value === 'string') {
        entry.extract = msg.value;
        this.redraw(sweepId).catch(fail);
      } else if (msg?.command === 'refresh') this.redraw(sweepId).catch(fail);
      else if (msg?.command === 'saveCsv') this.saveCsv(sweepId).catch((e) => void vscode.window.showErrorMessage(errorMessage(e)));
    });
    return entry;
  }

  /** Reads the outputs again and draws the page (after the draw in progress, if any). */
  private redraw(sweepId: string): Promise<void> {
    const o = this.open.get(sweepId);
    if (!o) return Promise.resolve();
    o.drawing = o.drawing.then(() => this.draw(sweepId, o));
    return o.drawing;
  }

  private async draw(sweepId: string, o: OpenTable): Promise<void> {
    const tasks = this.tasksOf(sweepId) ?? [];
    let extract: RegExp | undefined;
    o.extractError = undefined;
    if (o.extract.trim() !== '') {
      try {
        extract = compileExtract(o.extract);
      } catch (e) {
        // The field says why; the table keeps its last good values until the expression is fixed.
        if (!isMuseError(e, 'usage')) throw e;
        o.extractError = errorMessage(e);
      }
    }
    if (!o.extractError) {
      try {
        const outputs = await readOutputs(tasks, (r) => this.backends.get(r.profile));
        o.table = sweepTable(tasks, outputs, extract ? { extract } : {});
        o.status = `Outputs read at ${new Date().toLocaleTimeString()} (the last 64 KB of each task's stdout).`;
      } catch (e) {
        o.status = `The outputs could not be read: ${errorMessage(e)}`;
        o.table ??= sweepTable(tasks, new Map());
      }
    }
    o.table ??= sweepTable(tasks, new Map());
    const title = sweepTitle(tasks);
    o.panel.title = title;
    o.panel.webview.html = sweepResultsHtml(o.table, { sweepId, title, extract: o.extract, extractError: o.extractError, status: o.status }, randomBytes(16).toString('base64'), o.panel.webview.cspSource);
  }

  /** The sweep's tasks (the latest run of each index), or undefined when it is gone. */
  private tasksOf(sweepId: string): Run[] | undefined {
    return groupSweeps(this.store.list()).find((g) => g.id === sweepId)?.tasks;
  }

  dispose(): void {
    for (const o of [...this.open.values()]) o.panel.dispose();
    this.open.clear();
  }
}
