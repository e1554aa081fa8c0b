/**
 * Follow Output: a running run's stdout (or stderr) as a read-only document that grows as the
 * job writes. The core's follower reads every followed document's stream with ONE timer, each
 * at its own pace: about 1 s while the document is visible and the window focused, 5 s visible
 * in an unfocused window, 15 s in a background tab, nothing once all are closed. A background
 * document's text is kept but not written until it is shown (or its run ends): VS Code mirrors
 * every open document in this extension host, so text nobody sees would cost this host as much
 * as text on screen. Each document is a file in the extension's storage (`follow/`), opened
 * read-only, to which only the new text is appended (asynchronously): VS Code reloads it from
 * disk outside the extension host and hands this host only the appended lines. (A content
 * provider would have this host build, split and send the WHOLE text again at every update: up
 * to 8 MB per document per second, measured as seconds-long stalls with 10 documents.) The view
 * stays where the user scrolled, and follows the end while the cursor is on the last line, like
 * the Output panel. VS Code watches such a file only while an editor shows it, and starts
 * after showing it: a document just opened or shown is checked against its file's end a little
 * later, and the file touched while they differ. The files are removed when their tab closes,
 * at deactivation, and at the next activation (tabs left from an earlier session are closed).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Backend, OutputStream } from '../core/backend';
import { errorMessage } from '../core/errors';
import { Follower, wholeFileWhere } from '../core/follow/follower';
import type { FollowEvent, FollowHandle } from '../core/follow/follower';
import { FollowedFile } from '../core/follow/followedFile';
import { isFinal } from '../core/model';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import type { Backends } from './backends';
import type { Log } from './log';
import { runScriptName } from './runTreeModel';
import { safeSegment } from './uris';

/** The file of a run's followed stream, under `folder` (the file name ends the tab title: `stdout.log`). */
export function followPath(folder: string, run: Run, stream: OutputStream): string {
  const short = (run.key ?? run.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 8) || 'run';
  const script = runScriptName(run);
  return path.join(folder, safeSegment(run.profile), safeSegment(`${run.software}-${script ? `${script}-` : ''}${short}`), `${stream}.log`);
}

/** A document's wait between two reads: about 1 s visible and focused, 5 s visible unfocused, 15 s hidden. */
export function followDelayMs(visible: boolean, focused: boolean): number {
  return visible ? (focused ? 1000 : 5000) : 15000;
}

interface FollowedDoc {
  uri: vscode.Uri;
  run: Run;
  stream: OutputStream;
  /** The document's file: only new text appended (core/follow/followedFile.ts). */
  out: FollowedFile;
  handle?: FollowHandle;
  lastError?: string;
  /** Set until the document is first shown: its text is written, never held. */
  opening?: () => void;
  /** The next check that VS Code shows what the file holds (see `checkSeen`). */
  seenTimer?: ReturnType<typeof setTimeout>;
  /** Characters written when that check was set: more since means the file is still growing. */
  seenChars?: number;
}

/** The longest wait for an ended run's first read before its document is opened anyway (a slow web API fetch). */
const FIRST_READ_WAIT_MS = 3000;
/** The first check that a document just opened or shown matches its file; the next ones wait twice as long. */
const SEEN_CHECK_MS = 1000;
/** Checks (and touches) after a document is opened or shown, at most (1 + 2 + 4 + 8 s). */
const SEEN_CHECKS = 4;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface FollowSettings {
  /** Characters kept per document (`muse.followMaxMegabytes`). */
  keepBytes(): number;
  /** Least seconds between two fetches of a web API run folder (`muse.followWebApiSeconds`). */
  webApiSeconds(): number;
}

export class FollowDocuments implements vscode.Disposable {
  private readonly docs = new Map<string, FollowedDoc>();
  /** The document of each followed stream (the follower asks each one's pace). */
  private readonly byHandle = new Map<FollowHandle, FollowedDoc>();
  private readonly backendOf = new Map<string, Backend>();
  private readonly follower: Follower;
  private readonly subs: vscode.Disposable[] = [];
  /** Documents whose editors had the cursor on the last line: they follow the end. */
  private readonly atEnd = new Map<string, boolean>();
  private readonly endedListeners = new Set<(run: Run, stream: OutputStream) => void>();
  /** Files left by an earlier session removed (their tabs closed) before the first open. */
  private readonly cleared: Promise<void>;
  /** The followed documents on screen at the last change of the visible editors. */
  private visibleBefore = new Set<string>();

  /**
   * @param folder where the followed files live (the extension's storage `follow/`): emptied now
   */
  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly settings: FollowSettings,
    private readonly log: Log,
    readonly folder: string,
  ) {
    this.follower = new Follower({
      backendOf: (run) => {
        const b = this.backendOf.get(run.profile);
        if (!b) throw new Error(`The backend of profile "${run.profile}" is not loaded.`);
        return b;
      },
      maxBytes: settings.keepBytes(),
      folderEveryMs: () => settings.webApiSeconds() * 1000,
    });
    this.follower.start((h) => this.delay(h));
    this.cleared = this.clearEarlier();
    this.subs.push(
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const t of e.closed) if (t.input instanceof vscode.TabInputText) this.tabClosed(t.input.uri);
      }),
      vscode.window.onDidChangeWindowState((s) => {
        if (s.focused) this.follower.poke();
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => this.shown()),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const d = e.textEditor.document;
        if (!this.docs.has(d.uri.toString())) return;
        this.atEnd.set(d.uri.toString(), e.selections.every((s) => s.active.line >= d.lineCount - 1));
      }),
      vscode.workspace.onDidChangeTextDocument((e) => this.revealEnd(e.document)),
    );
  }

  /** Called when a followed run's end has been read (the failure is explained then). */
  onEnded(listener: (run: Run, stream: OutputStream) => void): vscode.Disposable {
    this.endedListeners.add(listener);
    return new vscode.Disposable(() => this.endedListeners.delete(listener));
  }

  /** The followed documents' count (tests). */
  get followedCount(): number {
    return this.follower.size;
  }

  /** The run a followed document shows (the link provider), or undefined. */
  runIdOf(uri: vscode.Uri): string | undefined {
    return this.docs.get(uri.toString())?.run.id;
  }

  /** Opens (or shows) the followed document of a run's stream. */
  async open(run: Run, stream: OutputStream): Promise<vscode.TextEditor> {
    this.backendOf.set(run.profile, await this.backends.get(run.profile));
    await this.cleared;
    const file = followPath(this.folder, run, stream);
    const uri = vscode.Uri.file(file);
    let d = this.docs.get(uri.toString());
    if (!d) {
      const head = run.backend === 'ws' ? `[The web API has no live output: this document is refreshed every ${this.settings.webApiSeconds()} s while the run goes on.]\n` : '';
      const out = new FollowedFile(file, head, this.settings.keepBytes(), wholeFileWhere(run, stream), (e) => this.log.warn(`writing the followed output ${file}: ${errorMessage(e)}`));
      let opening!: () => void;
      const firstRead = new Promise<void>((resolve) => (opening = resolve));
      const nd: FollowedDoc = { uri, run, stream, out, opening };
      d = nd;
      this.docs.set(uri.toString(), nd);
      this.start(nd);
      // A run that has ended: its output is in the file before VS Code opens it, shown at once.
      if (isFinal(run.state)) await Promise.race([firstRead, delay(FIRST_READ_WAIT_MS)]);
    }
    await d.out.settled();
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    this.checkSeen(d);
    d.opening = undefined;
    // Read-only in this window (files.readonlyInclude covers the folder too, where it applies).
    await vscode.commands.executeCommand('workbench.action.files.setActiveEditorReadonlyInSession').then(undefined, () => undefined);
    this.atEnd.set(uri.toString(), true);
    this.follower.poke();
    return editor;
  }

  private start(d: FollowedDoc): void {
    d.handle = this.follower.add(d.run, d.stream, (e) => this.update(d, e));
    this.byHandle.set(d.handle, d);
    this.follower.poke();
  }

  private stop(d: FollowedDoc): void {
    if (!d.handle) return;
    d.handle.dispose();
    this.byHandle.delete(d.handle);
    d.handle = undefined;
  }

  /** The followed documents on screen now. */
  private visibleKeys(): Set<string> {
    return new Set(vscode.window.visibleTextEditors.map((e) => e.document.uri.toString()));
  }

  /** Documents just shown get the text held while they were hidden, then their pace is 1 s again. */
  private shown(): void {
    const visible = this.visibleKeys();
    for (const [key, d] of this.docs) {
      if (!visible.has(key)) continue;
      d.out.flush();
      if (!this.visibleBefore.has(key)) this.checkSeen(d);
    }
    this.visibleBefore = new Set([...visible].filter((k) => this.docs.has(k)));
    this.follower.poke();
  }

  /**
   * VS Code watches a file outside the workspace only while an editor shows it, and starts
   * watching after it has read it (at open, and when its tab is shown again): a write in between
   * goes unseen until the next one, and a run's end has no next one. So a second after a
   * followed document is opened or shown (then 2, 4 and 8 s later), once the file has not grown
   * since the last check, its end is compared with the file's, and the file is touched when they
   * differ: VS Code reads it again. (A file still growing needs no touch: its next write, seen
   * once VS Code watches, has VS Code read it whole.)
   */
  private checkSeen(d: FollowedDoc, attempt = 0): void {
    clearTimeout(d.seenTimer);
    d.seenChars = d.out.writtenChars;
    d.seenTimer = setTimeout(() => void this.seen(d, attempt), SEEN_CHECK_MS * 2 ** attempt);
  }

  private async seen(d: FollowedDoc, attempt: number): Promise<void> {
    d.seenTimer = undefined;
    await d.out.settled();
    const key = d.uri.toString();
    // Closed, or hidden again: checked when shown.
    if (this.docs.get(key) !== d || !this.visibleKeys().has(key)) return;
    const growing = d.out.writtenChars !== d.seenChars;
    const doc = vscode.workspace.textDocuments.find((t) => t.uri.toString() === key);
    if (!doc || (!growing && documentEndsWith(doc, d.out.writtenEnd))) return;
    if (!growing) await d.out.touch();
    if (attempt + 1 < SEEN_CHECKS) this.checkSeen(d, attempt + 1);
  }

  private update(d: FollowedDoc, e: FollowEvent): void {
    if (!this.docs.has(d.uri.toString())) return;
    d.opening?.();
    if (e.error) {
      const msg = errorMessage(e.error);
      if (msg !== d.lastError) this.log.warn(`following ${d.stream} of ${d.run.key ?? d.run.id}: ${msg} (reading again from the same offset)`);
      d.lastError = msg;
      return;
    }
    d.lastError = undefined;
    // Nobody sees a background tab: its text is kept, and written once it is shown.
    const hold = !d.opening && !this.visibleKeys().has(d.uri.toString());
    d.out.append(e.text, hold);
    if (e.ended) {
      d.out.end(`[The run ended: ${e.state?.state ?? 'ended'}.]\n`, hold);
      if (d.handle) this.byHandle.delete(d.handle);
      d.handle = undefined;
      for (const l of this.endedListeners) l(this.store.get(d.run.id) ?? d.run, d.stream);
    }
  }

  private finish(d: FollowedDoc, tail: string): void {
    this.stop(d);
    d.out.end(tail);
  }

  /** The store changed: a followed run removed from the list says so; a new state is passed on. */
  runsChanged(runs: readonly Run[]): void {
    const byId = new Map(runs.map((r) => [r.id, r]));
    const ended: FollowHandle[] = [];
    for (const d of this.docs.values()) {
      const now = byId.get(d.run.id);
      if (!now) {
        if (d.handle) this.finish(d, '[This run was removed from the Runs list: its output is no longer followed.]\n');
        continue;
      }
      d.run = now;
      this.follower.updateRun(now);
      // Its end is read now, hidden or not: the last bytes, the failure explained.
      if (d.handle && isFinal(now.state)) ended.push(d.handle);
    }
    this.follower.readSoon(ended);
  }

  /** A tab closed: once no tab shows a followed document, it is no longer followed and its file goes. */
  private tabClosed(uri: vscode.Uri): void {
    const key = uri.toString();
    const d = this.docs.get(key);
    if (!d) return;
    const shown = vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === key));
    if (shown) return;
    clearTimeout(d.seenTimer);
    this.stop(d);
    this.docs.delete(key);
    this.atEnd.delete(key);
    void d.out.remove();
  }

  /** Removes the files of an earlier session, and closes the tabs still showing them. */
  private async clearEarlier(): Promise<void> {
    const inFolder = (u: vscode.Uri): boolean => u.scheme === 'file' && u.fsPath.startsWith(this.folder + path.sep);
    const stale = vscode.window.tabGroups.all.flatMap((g) => g.tabs.filter((t) => t.input instanceof vscode.TabInputText && inFolder(t.input.uri)));
    if (stale.length) await Promise.resolve(vscode.window.tabGroups.close(stale)).catch(() => undefined);
    await fs.promises.rm(this.folder, { recursive: true, force: true }).catch((e: unknown) => this.log.warn(`removing ${this.folder}: ${errorMessage(e)}`));
  }

  /** A followed stream's wait between two reads. */
  private delay(h: FollowHandle): number | undefined {
    const d = this.byHandle.get(h);
    if (!d) return undefined;
    const visible = vscode.window.visibleTextEditors.some((e) => e.document.uri.toString() === d.uri.toString());
    return followDelayMs(visible, vscode.window.state.focused);
  }

  /** Keeps the cursor (and the view) at the end of editors that were at the end. */
  private revealEnd(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    if (!this.docs.has(key) || this.atEnd.get(key) === false) return;
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    for (const ed of vscode.window.visibleTextEditors) {
      if (ed.document !== doc) continue;
      ed.selection = new vscode.Selection(end, end);
      ed.revealRange(new vscode.Range(end, end), vscode.TextEditorRevealType.Default);
    }
  }

  /** Stops following; the files go (asynchronously: the next activation removes what is left). */
  dispose(): void {
    this.follower.dispose();
    for (const s of this.subs) s.dispose();
    for (const d of this.docs.values()) clearTimeout(d.seenTimer);
    const pending = [...this.docs.values()].map((d) => d.out.settled());
    this.docs.clear();
    this.byHandle.clear();
    void Promise.all(pending).then(() => fs.promises.rm(this.folder, { recursive: true, force: true })).catch(() => undefined);
  }
}

/** True when the document's last characters are `end` (read without copying the whole text). */
function documentEndsWith(doc: vscode.TextDocument, end: string): boolean {
  const last = doc.lineAt(doc.lineCount - 1).range.end;
  const from = doc.positionAt(Math.max(0, doc.offsetAt(last) - end.length));
  return doc.getText(new vscode.Range(from, last)) === end;
}
