import * as vscode from 'vscode';
import { can } from '../core/backend';
import type { Run } from '../core/model';
import { isFinal } from '../core/model';
import type { RunStore } from '../core/store';
import type { SweepGroup } from '../core/sweep/sweepGroups';
import type { Backends } from './backends';
import { knownFailureLine } from './failureDiagnostics';
import type { Settings } from './settings';
import {
  countActive,
  groupRunsByProfile,
  profileContextValue,
  runContextValue,
  runDescription,
  runIcon,
  runLabel,
  runTooltipMarkdown,
} from './runTreeModel';
import { mdEscape } from './runTreeModel';
import type { RunAbilities } from './runTreeModel';
import { RunsTreeIndex } from './runsTreeIndex';
import { sweepContextValue, sweepDescription, sweepIcon, sweepLabel, sweepTooltipMarkdown, taskLabel } from './sweepTreeModel';

/** A profile, a run (a sweep's task too), or a sweep's row (`id`: the sweep id). */
export type RunsNode = { type: 'profile'; name: string } | { type: 'run'; id: string } | { type: 'sweep'; id: string };

/** Until a profile's backend is loaded, its runs offer no optional action (the menus then appear). */
const NOT_KNOWN_YET: RunAbilities = { cancel: false, output: false };

/** The "Runs" tree: runs grouped by profile, newest first; a sweep is one row with its tasks under it. */
export class RunsView implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  static readonly viewId = 'muse.runs';
  private readonly emitter = new vscode.EventEmitter<RunsNode | RunsNode[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  readonly treeView: vscode.TreeView<RunsNode>;
  private readonly abilities = new Map<string, RunAbilities>();
  private readonly profileNodes = new Map<string, RunsNode>();
  private readonly runNodes = new Map<string, RunsNode>();
  private readonly sweepNodes = new Map<string, RunsNode>();
  private readonly signedIn = new Map<string, boolean>();
  private readonly needsSignIn = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  /**
   * The store's runs indexed once per change: the workbench asks getTreeItem for every child of
   * a group, and `store.get`/`store.list` scan and sort the whole list (5,000 runs: seconds).
   */
  private snap: RunsTreeIndex | undefined;

  constructor(
    private readonly store: RunStore,
    private readonly settings: Settings,
    private readonly backends: Backends,
  ) {
    this.treeView = vscode.window.createTreeView(RunsView.viewId, {
      treeDataProvider: this,
      showCollapseAll: true,
      canSelectMany: true,
    });
    const offStore = store.onDidChange(() => (this.snap = undefined));
    this.disposables.push(this.treeView, this.emitter, { dispose: offStore });
    this.updateBadge();
  }

  /** Redraws the tree (store changed, a poll happened: elapsed times move). */
  refresh(): void {
    this.snap = undefined;
    this.updateBadge();
    this.emitter.fire(undefined);
  }

  /**
   * After a poll that changed nothing: redraws only the profile's unfinished runs (their elapsed
   * time moves). A whole-tree redraw every poll made inline-action clicks lose their node.
   */
  polled(profile: string): void {
    const snap = this.snapshot();
    const active = (snap.byProfile.get(profile) ?? []).filter((r) => !isFinal(r.state));
    const nodes: RunsNode[] = active.map((r) => this.runNode(r.id));
    // A sweep row's counts move with its tasks.
    for (const id of new Set(active.map((r) => r.sweep?.id).filter((x): x is string => !!x))) nodes.push(this.sweepNode(id));
    if (nodes.length > 0) this.emitter.fire(nodes);
  }

  /** Whether a ws profile has a token, for its node's context value. */
  setSignedIn(profile: string, value: boolean): void {
    if (this.signedIn.get(profile) === value) return;
    this.signedIn.set(profile, value);
    this.emitter.fire(undefined);
  }

  /**
   * Whether an SSH profile's background poll needed a sign-in it may not ask for (see
   * `needsSignIn`): its node says so and offers Sign In (a poll that may ask, in this window).
   */
  setNeedsSignIn(profile: string, value: boolean): void {
    if (this.needsSignIn.has(profile) === value) return;
    if (value) this.needsSignIn.add(profile);
    else this.needsSignIn.delete(profile);
    this.emitter.fire(this.profileNode(profile));
  }

  private snapshot(): RunsTreeIndex {
    this.snap ??= new RunsTreeIndex(this.store.list());
    return this.snap;
  }

  private updateBadge(): void {
    const n = countActive(this.snapshot().runs);
    this.treeView.badge = n > 0 ? { value: n, tooltip: `${n} active run${n === 1 ? '' : 's'}` } : undefined;
  }

  /** What the profile's backend can do, as its optional methods declare (see `can`). */
  private abilitiesOf(profile: string): RunAbilities {
    const known = this.abilities.get(profile);
    if (known) return known;
    this.abilities.set(profile, NOT_KNOWN_YET);
    // Ask the backend itself once it is loaded, then redraw.
    if (this.settings.profile(profile)) {
      this.backends.get(profile).then(
        (b) => {
          this.abilities.set(profile, { cancel: can(b, 'cancel'), output: can(b, 'output') });
          this.emitter.fire(undefined);
        },
        () => undefined,
      );
    }
    return this.abilities.get(profile)!;
  }

  getChildren(node?: RunsNode): RunsNode[] {
    const snap = this.snapshot();
    if (!node) {
      const groups = groupRunsByProfile(snap.runs, this.settings.profiles.map((p) => p.name));
      return groups.map((g) => this.profileNode(g.profile));
    }
    if (node.type === 'profile') {
      return snap.topRows(node.name).map((row) => (row.kind === 'run' ? this.runNode(row.run.id) : this.sweepNode(row.sweep.id)));
    }
    if (node.type === 'sweep') return (snap.sweep(node.id)?.tasks ?? []).map((r) => this.runNode(r.id));
    return [];
  }

  getParent(node: RunsNode): RunsNode | undefined {
    if (node.type === 'profile') return undefined;
    const snap = this.snapshot();
    if (node.type === 'sweep') {
      const sweep = snap.sweep(node.id);
      return sweep ? this.profileNode(sweep.profile) : undefined;
    }
    const run = snap.byId.get(node.id);
    if (run?.sweep && snap.shownInSweep(run)) return this.sweepNode(run.sweep.id);
    return run ? this.profileNode(run.profile) : undefined;
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    const now = Date.now();
    if (node.type === 'profile') {
      const p = this.settings.profile(node.name);
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `profile:${node.name}`;
      item.iconPath = new vscode.ThemeIcon(p?.kind === 'ws' ? 'globe' : p?.kind === 'ssh' ? 'remote' : 'vm');
      const running = countActive(this.snapshot().byProfile.get(node.name) ?? []);
      item.description = p ? `${p.kind}${node.name === this.settings.activeProfile.name ? ' · active' : ''}` : 'profile no longer configured';
      if (running) item.description += ` · ${running} running`;
      const signIn = this.needsSignIn.has(node.name);
      if (signIn) {
        item.description += ' · needs a sign-in';
        item.tooltip = 'The cluster asks for a sign-in (a passphrase, a code or a host key) that a background check may not ask for. Sign In asks it here.';
      }
      item.contextValue = p ? profileContextValue(p, this.signedIn.get(node.name), signIn) : 'profile;missing';
      return item;
    }
    if (node.type === 'sweep') {
      const sweep = this.snapshot().sweep(node.id);
      return sweep ? this.sweepItem(sweep) : new vscode.TreeItem('(removed)');
    }
    const run = this.snapshot().byId.get(node.id);
    if (!run) return new vscode.TreeItem('(removed)');
    const item = this.runItem(run, now);
    // A task is labelled by its parameter values under its sweep's row.
    if (run.sweep) item.label = taskLabel(run);
    return item;
  }

  /** One row for the whole sweep, collapsed: its tasks are built only when it is expanded. */
  private sweepItem(sweep: SweepGroup): vscode.TreeItem {
    const item = new vscode.TreeItem(sweepLabel(sweep), vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `sweep:${sweep.id}`;
    item.description = sweepDescription(sweep);
    const icon = sweepIcon(sweep);
    item.iconPath = new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    item.contextValue = sweepContextValue(sweep, this.abilitiesOf(sweep.profile));
    return item;
  }

  private runItem(run: Run, now: number): vscode.TreeItem {
    const item = new vscode.TreeItem(runLabel(run), vscode.TreeItemCollapsibleState.None);
    item.id = run.id;
    item.description = runDescription(run, now);
    const icon = runIcon(run.state);
    item.iconPath = new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    item.contextValue = runContextValue(run, this.abilitiesOf(run.profile));
    // A click opens what is most useful: results when done, the state report otherwise.
    if (run.state === 'ok') item.command = { command: 'muse.openResults', title: 'Open Results', arguments: [{ type: 'run', id: run.id }] };
    else if (run.key && run.state === 'waiting') item.command = { command: 'muse.followOutput', title: 'Follow Output', arguments: [{ type: 'run', id: run.id }] };
    else if (run.key) item.command = { command: 'muse.showReport', title: 'Show State Report', arguments: [{ type: 'run', id: run.id }] };
    return item;
  }

  /** The Markdown tooltip, built only when hovered (a tree of thousands of runs stays quick). */
  resolveTreeItem(item: vscode.TreeItem, node: RunsNode): vscode.TreeItem {
    if (node.type === 'sweep') {
      const sweep = this.snapshot().sweep(node.id);
      if (sweep) item.tooltip = new vscode.MarkdownString(sweepTooltipMarkdown(sweep));
      return item;
    }
    const run = node.type === 'run' ? this.snapshot().byId.get(node.id) : undefined;
    if (run) {
      const why = knownFailureLine(run);
      const md = new vscode.MarkdownString(`${runTooltipMarkdown(run, Date.now())}${why ? `\n\n$(error) ${mdEscape(why)}` : ''}`, true);
      md.isTrusted = false;
      item.tooltip = md;
    }
    return item;
  }

  private profileNode(name: string): RunsNode {
    let n = this.profileNodes.get(name);
    if (!n) this.profileNodes.set(name, (n = { type: 'profile', name }));
    return n;
  }

  private sweepNode(id: string): RunsNode {
    let n = this.sweepNodes.get(id);
    if (!n) this.sweepNodes.set(id, (n = { type: 'sweep', id }));
    return n;
  }

  /**
   * Shows a sweep's row in the tree, if the view is visible: collapsed after Run as Sweep (a large
   * sweep's tasks are built only when the user expands it), expanded on `expand`.
   */
  async revealSweep(sweepId: string, expand = false): Promise<void> {
    if (!this.treeView.visible) return;
    await this.treeView.reveal(this.sweepNode(sweepId), { select: false, focus: false, expand }).then(undefined, () => undefined);
  }

  private runNode(id: string): RunsNode {
    let n = this.runNodes.get(id);
    if (!n) this.runNodes.set(id, (n = { type: 'run', id }));
    return n;
  }

  /**
   * Shows a run in the tree (after a submit), if the view is visible. It does not select it: the
   * selection is the user's, and a run command with no argument acts on it (see runsFromArgs).
   */
  async reveal(runId: string): Promise<void> {
    if (!this.treeView.visible) return;
    await this.treeView.reveal(this.runNode(runId), { select: false, focus: false }).then(undefined, () => undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
