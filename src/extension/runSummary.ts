/**
 * The Run Summary: one webview panel per run in the editor area, revealed again when already
 * open. The page keeps no state of its own (`retainContextWhenHidden` off): it is rebuilt from
 * the store whenever the run changes, so a hidden tab costs nothing and never shows stale facts.
 */
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { Run } from '../core/model';
import { readRunTail } from '../core/outputTail';
import type { RunStore } from '../core/store';
import type { Backends } from './backends';
import type { Log } from './log';
import { runSummaryHtml } from './runSummaryHtml';
import type { SummaryAction } from './runSummaryHtml';
import { runSummaryModel } from './runSummaryModel';
import type { RunSummaryModel } from './runSummaryModel';

/** How much of a failed run's stderr the oom check reads. */
const TAIL_BYTES = 16 * 1024;

/** What the page's buttons run: existing commands, given the run as the tree gives it. */
const ACTION_COMMANDS: Record<SummaryAction, string> = {
  rerunWithChanges: 'muse.rerunWithChanges',
  openResults: 'muse.openResults',
  openOutput: 'muse.openStderr',
};

/** No remote or local resource, scripts for the buttons only, no command links. */
const PANEL_OPTIONS: vscode.WebviewPanelOptions & vscode.WebviewOptions = {
  enableScripts: true,
  retainContextWhenHidden: false,
  localResourceRoots: [],
  enableCommandUris: false,
};

interface OpenSummary {
  panel: vscode.WebviewPanel;
  /** The run's `updatedAt` the page was drawn from (redraw only on a change). */
  drawn?: string;
  /** The stderr tail read once the run failed (undefined: not read, or nothing to read). */
  tail?: string;
  tailRead: boolean;
  /** Settles once the page drawn with the tail is up. */
  tailDrawn?: Promise<void>;
  model?: RunSummaryModel;
}

/**
 * The end of a run's stderr through the backend's `tail`, when it has one (an oom kill shows
 * there); undefined when it cannot be read: the advice then rests on the figures alone.
 */
export async function readStderrTail(backends: Backends, run: Run, log: Log): Promise<string | undefined> {
  if (!run.key) return undefined;
  try {
    const backend = await backends.get(run.profile);
    return await readRunTail(backend, run, 'stderr', TAIL_BYTES);
  } catch (e) {
    log.debug(`no stderr tail for ${run.id}: ${errorMessage(e)}`);
    return undefined;
  }
}

/** The open summaries, by run id. */
export class RunSummaries implements vscode.Disposable {
  static readonly viewType = 'muse.runSummary';
  private readonly open = new Map<string, OpenSummary>();
  private readonly offStore: () => void;

  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly log: Log,
  ) {
    this.offStore = store.onDidChange((runs) => {
      if (this.open.size === 0) return;
      for (const r of runs) if (this.open.has(r.id)) this.draw(r);
      // A run removed from the list: its summary says so, once.
      for (const [id, o] of this.open) if (!runs.some((r) => r.id === id) && o.drawn !== 'removed') this.drawRemoved(o);
    });
  }

  /** Opens (or reveals) the summary of `run`; resolves with what it shows. */
  async show(run: Run): Promise<RunSummaryModel> {
    let o = this.open.get(run.id);
    if (o) {
      o.panel.reveal(undefined, false);
    } else {
      const panel = vscode.window.createWebviewPanel(RunSummaries.viewType, `Summary: ${run.label ?? run.software}`, vscode.ViewColumn.Active, PANEL_OPTIONS);
      o = this.attach(panel, run.id);
    }
    // Drawn at once; a failed run is drawn again once its stderr tail is read (the oom check).
    this.draw(this.store.get(run.id) ?? run, true);
    await o.tailDrawn;
    return o.model!;
  }

  /**
   * A summary VS Code brings back after a reload (the page saved its run id with `setState`):
   * drawn again from the store, or closed when the run is gone.
   */
  async restore(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const runId = (state as { runId?: unknown } | undefined)?.runId;
    const run = typeof runId === 'string' ? this.store.get(runId) : undefined;
    if (!run || this.open.has(run.id)) {
      panel.dispose();
      return;
    }
    panel.webview.options = PANEL_OPTIONS;
    this.attach(panel, run.id);
    this.draw(run, true);
  }

  private attach(panel: vscode.WebviewPanel, runId: string): OpenSummary {
    const entry: OpenSummary = { panel, tailRead: false };
    this.open.set(runId, entry);
    panel.onDidDispose(() => {
      if (this.open.get(runId) === entry) this.open.delete(runId);
    });
    panel.webview.onDidReceiveMessage((msg: { command?: string }) => {
      const cmd = ACTION_COMMANDS[msg?.command as SummaryAction];
      if (cmd) void vscode.commands.executeCommand(cmd, { type: 'run', id: runId });
    });
    return entry;
  }

  /** A failed run's stderr end, read once, for the oom check. */
  private async readTail(run: Run, o: OpenSummary): Promise<void> {
    if (o.tailRead || run.state !== 'failed') return;
    // Marked before anything else: draw() asks for the tail of a failed run until it is read.
    o.tailRead = true;
    o.tail = await readStderrTail(this.backends, run, this.log);
  }

  private draw(run: Run, force = false): void {
    const o = this.open.get(run.id);
    if (!o || (!force && o.drawn === run.updatedAt)) return;
    // A run that has just failed gets its tail read (once), then is drawn again.
    if (run.state === 'failed' && !o.tailRead) {
      o.tailDrawn = this.readTail(run, o).then(() => this.draw(this.store.get(run.id) ?? run, true));
    }
    o.drawn = run.updatedAt;
    o.model = runSummaryModel(run, o.tail);
    o.panel.title = `Summary: ${run.label ?? run.software}`;
    o.panel.webview.html = runSummaryHtml(o.model, randomBytes(16).toString('base64'), o.panel.webview.cspSource);
  }

  private drawRemoved(o: OpenSummary): void {
    o.drawn = 'removed';
    o.panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><p>This run is no longer in the Runs list.</p></body></html>`;
  }

  dispose(): void {
    this.offStore();
    for (const o of [...this.open.values()]) o.panel.dispose();
    this.open.clear();
  }
}
