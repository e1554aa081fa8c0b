/**
 * Follow Output: a running run's stdout (or stderr) as a read-only document that grows as the
 * job writes. The core's follower reads every followed document's stream with ONE timer
 * (about 1 s while one is visible and the window focused, slower while hidden, nothing once
 * all are closed); the text only grows at its end, and VS Code turns the new content into an
 * append (it diffs a provider's new text against the document), so the view stays where the
 * user scrolled, and follows the end while the cursor is on the last line, like the Output panel.
 */
import * as vscode from 'vscode';
import type { Backend, OutputStream } from '../core/backend';
import { errorMessage } from '../core/errors';
import { Follower, wholeFileWhere } from '../core/follow/follower';
import type { FollowEvent, FollowHandle } from '../core/follow/follower';
import { KeptText } from '../core/follow/keptText';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import type { Backends } from './backends';
import type { Log } from './log';
import { runScriptName } from './runTreeModel';
import { safeSegment } from './uris';

export const FOLLOW_SCHEME = 'muse-follow';

/** The `muse-follow:` URI of a run's followed stream (the path ends in a real file name: title, language). */
export function followUri(run: Run, stream: OutputStream): vscode.Uri {
  const short = (run.key ?? run.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 8) || 'run';
  const script = runScriptName(run);
  const folder = safeSegment(`${run.software}-${script ? `${script}-` : ''}${short}`);
  return vscode.Uri.from({ scheme: FOLLOW_SCHEME, path: `/${safeSegment(run.profile)}/${folder}/${stream}.log`, query: new URLSearchParams({ run: run.id, stream }).toString() });
}

/** Reads back a `muse-follow:` URI. */
export function fromFollowUri(uri: vscode.Uri): { runId: string; stream: OutputStream } | undefined {
  if (uri.scheme !== FOLLOW_SCHEME) return undefined;
  const q = new URLSearchParams(uri.query);
  const runId = q.get('run');
  const stream = q.get('stream');
  if (!runId || (stream !== 'stdout' && stream !== 'stderr')) return undefined;
  return { runId, stream };
}

/** What the timer waits: about 1 s visible and focused, 5 s visible unfocused, 15 s hidden. */
export function followDelayMs(visible: boolean, focused: boolean): number {
  return visible ? (focused ? 1000 : 5000) : 15000;
}

interface FollowedDoc {
  uri: vscode.Uri;
  run: Run;
  stream: OutputStream;
  kept: KeptText;
  /** Lines shown above the output (the web API's rate), fixed once the document is open. */
  head: string;
  /** Appended after the output: how it ended, or why it stopped. */
  tail: string;
  handle?: FollowHandle;
  lastError?: string;
  /** Changed while in no visible editor: given to VS Code once it shows. */
  stale?: boolean;
}

export interface FollowSettings {
  /** Characters kept per document (`muse.followMaxMegabytes`). */
  keepBytes(): number;
  /** Least seconds between two fetches of a web API run folder (`muse.followWebApiSeconds`). */
  webApiSeconds(): number;
}

export class FollowDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly docs = new Map<string, FollowedDoc>();
  private readonly backendOf = new Map<string, Backend>();
  private readonly follower: Follower;
  private readonly subs: vscode.Disposable[] = [];
  /** Documents whose editors had the cursor on the last line: they follow the end. */
  private readonly atEnd = new Map<string, boolean>();
  private readonly endedListeners = new Set<(run: Run, stream: OutputStream) => void>();

  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly settings: FollowSettings,
    private readonly log: Log,
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
    this.follower.start(() => this.delay());
    this.subs.push(
      vscode.workspace.onDidCloseTextDocument((d) => this.closed(d.uri)),
      // Text read before VS Code registered the document (a change fired in between is lost):
      // asked again once it is open.
      vscode.workspace.onDidOpenTextDocument((doc) => {
        const d = this.docs.get(doc.uri.toString());
        if (d && doc.getText() !== this.content(d)) this.emitter.fire(doc.uri);
      }),
      vscode.window.onDidChangeWindowState((s) => {
        if (s.focused) this.follower.poke();
      }),
      vscode.window.onDidChangeVisibleTextEditors((eds) => {
        for (const ed of eds) {
          const d = this.docs.get(ed.document.uri.toString());
          if (d?.stale) this.changed(d);
        }
        this.follower.poke();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const d = e.textEditor.document;
        if (d.uri.scheme !== FOLLOW_SCHEME) return;
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

  /** Opens (or shows) the followed document of a run's stream. */
  async open(run: Run, stream: OutputStream): Promise<vscode.TextEditor> {
    this.backendOf.set(run.profile, await this.backends.get(run.profile));
    const doc = await vscode.workspace.openTextDocument(followUri(run, stream));
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    this.atEnd.set(doc.uri.toString(), true);
    const d = this.docs.get(doc.uri.toString());
    if (d && doc.getText() !== this.content(d)) this.emitter.fire(doc.uri);
    this.follower.poke();
    return editor;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const ref = fromFollowUri(uri);
    if (!ref) return '';
    const key = uri.toString();
    let d = this.docs.get(key);
    if (!d) {
      const run = this.store.get(ref.runId);
      if (!run) return 'This run is no longer in the Runs list.\n';
      d = {
        uri,
        run,
        stream: ref.stream,
        kept: new KeptText(this.settings.keepBytes(), wholeFileWhere(run, ref.stream)),
        head: run.backend === 'ws' ? `[The web API has no live output: this document is refreshed every ${this.settings.webApiSeconds()} s while the run goes on.]\n` : '',
        tail: '',
      };
      this.docs.set(key, d);
      this.start(d);
    }
    return this.content(d);
  }

  private content(d: FollowedDoc): string {
    return d.head + d.kept.text + d.tail;
  }

  private start(d: FollowedDoc): void {
    if (!this.backendOf.has(d.run.profile)) {
      // A tab restored on reload: load its backend first.
      this.backends.get(d.run.profile).then(
        (b) => {
          this.backendOf.set(d.run.profile, b);
          this.start(d);
        },
        (e: unknown) => this.finish(d, `[Cannot follow this output: ${errorMessage(e)}]\n`),
      );
      return;
    }
    d.handle = this.follower.add(d.run, d.stream, (e) => this.update(d, e));
    this.follower.poke();
  }

  private update(d: FollowedDoc, e: FollowEvent): void {
    if (e.error) {
      const msg = errorMessage(e.error);
      if (msg !== d.lastError) this.log.warn(`following ${d.stream} of ${d.run.key ?? d.run.id}: ${msg} (reading again from the same offset)`);
      d.lastError = msg;
      return;
    }
    d.lastError = undefined;
    if (e.text) d.kept.append(e.text);
    if (e.ended) {
      const state = e.state?.state ?? 'ended';
      d.tail = `${d.kept.text === '' || d.kept.text.endsWith('\n') ? '' : '\n'}[The run ended: ${state}.]\n`;
      d.handle = undefined;
      for (const l of this.endedListeners) l(this.store.get(d.run.id) ?? d.run, d.stream);
    }
    if (e.text || e.ended) this.changed(d);
  }

  /**
   * Tells VS Code a document changed. It then asks for the whole text again (a content provider
   * cannot append), so a document in no visible editor (a background tab) is not re-provided at
   * every cycle: it is once it shows.
   */
  private changed(d: FollowedDoc): void {
    const key = d.uri.toString();
    if (!vscode.window.visibleTextEditors.some((ed) => ed.document.uri.toString() === key)) {
      d.stale = true;
      return;
    }
    d.stale = false;
    this.emitter.fire(d.uri);
  }

  private finish(d: FollowedDoc, tail: string): void {
    d.handle?.dispose();
    d.handle = undefined;
    d.tail = `${d.kept.text === '' || d.kept.text.endsWith('\n') ? '' : '\n'}${tail}`;
    this.changed(d);
  }

  /** The store changed: a followed run removed from the list says so; a new state is passed on. */
  runsChanged(runs: readonly Run[]): void {
    const byId = new Map(runs.map((r) => [r.id, r]));
    for (const d of this.docs.values()) {
      const now = byId.get(d.run.id);
      if (!now) {
        if (d.handle) this.finish(d, '[This run was removed from the Runs list: its output is no longer followed.]\n');
        continue;
      }
      d.run = now;
      this.follower.updateRun(now);
    }
  }

  private closed(uri: vscode.Uri): void {
    const d = this.docs.get(uri.toString());
    if (!d) return;
    d.handle?.dispose();
    this.docs.delete(uri.toString());
    this.atEnd.delete(uri.toString());
  }

  /** The wait before the next read, or undefined (nothing followed: no timer at all). */
  private delay(): number | undefined {
    if (this.follower.size === 0) return undefined;
    const visible = vscode.window.visibleTextEditors.some((e) => e.document.uri.scheme === FOLLOW_SCHEME && this.docs.get(e.document.uri.toString())?.handle);
    return followDelayMs(visible, vscode.window.state.focused);
  }

  /** Keeps the cursor (and the view) at the end of editors that were at the end. */
  private revealEnd(doc: vscode.TextDocument): void {
    if (doc.uri.scheme !== FOLLOW_SCHEME || this.atEnd.get(doc.uri.toString()) === false) return;
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    for (const ed of vscode.window.visibleTextEditors) {
      if (ed.document !== doc) continue;
      ed.selection = new vscode.Selection(end, end);
      ed.revealRange(new vscode.Range(end, end), vscode.TextEditorRevealType.Default);
    }
  }

  dispose(): void {
    this.follower.dispose();
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }
}
