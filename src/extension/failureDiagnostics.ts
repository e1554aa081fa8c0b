/**
 * A failure explained, in the editor: the cause of each run that ended failed (core
 * failure/*), read once per run; the traceback's location as a diagnostic on the local file
 * (Problems panel) until the next run of that file; and links from paths in output documents to
 * the local files that were sent (a document link provider), opening them at the line.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { failureLine } from '../core/failure/explainFailure';
import type { FailureCause } from '../core/failure/explainFailure';
import { failureOfRun } from '../core/failure/failureOfRun';
import { findRunFileRefs } from '../core/failure/runFilePaths';
import type { RunFileRef } from '../core/failure/runFilePaths';
import { GrowingRefs, droppedOf } from '../core/follow/growingRefs';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import type { Backends } from './backends';
import type { Log } from './log';
import { RUN_SCHEME, fromRunUri } from './uris';

/** Causes already read, by run id: the tree tooltip and the report read them without waiting. */
const known = new Map<string, { run: Run; cause: FailureCause }>();

/** `failed: ZeroDivisionError at add.py:12` for a run whose failure was read, else undefined. */
export function knownFailureLine(run: Pick<Run, 'id' | 'state'>): string | undefined {
  const k = known.get(run.id);
  return k ? failureLine(run, k.cause) : undefined;
}

/** The local file a run-folder name stands for: the first workspace folder that holds it. */
async function localFile(name: string): Promise<vscode.Uri | undefined> {
  for (const f of vscode.workspace.workspaceFolders ?? []) {
    if (f.uri.scheme !== 'file') continue;
    const p = path.join(f.uri.fsPath, ...name.split('/'));
    const st = await fs.promises.stat(p).catch(() => undefined);
    if (st?.isFile()) return vscode.Uri.file(p);
  }
  return undefined;
}

export class RunFailures implements vscode.DocumentLinkProvider, vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('muse');
  private readonly pending = new Map<string, Promise<FailureCause | undefined>>();
  /** Which run set the diagnostic of each local file (a later run of the file clears it). */
  private readonly diagnosedBy = new Map<string, string>();
  private readonly subs: vscode.Disposable[] = [];
  /** The links found so far in each open followed document. */
  private readonly followedRefs = new Map<string, GrowingRefs>();

  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly log: Log,
    /** The followed documents: their folder (links there too) and the run each shows. */
    private readonly followed?: { folder: string; runIdOf(uri: vscode.Uri): string | undefined },
  ) {
    this.subs.push(
      this.diagnostics,
      vscode.languages.registerDocumentLinkProvider(
        [{ scheme: RUN_SCHEME }, ...(followed ? [{ scheme: 'file', pattern: new vscode.RelativePattern(vscode.Uri.file(followed.folder), '**/*.log') }] : [])],
        this,
      ),
      vscode.workspace.onDidCloseTextDocument((d) => this.followedRefs.delete(d.uri.toString())),
    );
  }

  /** The cause of a run's failure, read once (undefined for a run that did not fail). */
  explain(run: Run): Promise<FailureCause | undefined> {
    if (run.state !== 'failed' && run.state !== 'cancelled') return Promise.resolve(undefined);
    const k = known.get(run.id);
    if (k) return Promise.resolve(k.cause);
    let p = this.pending.get(run.id);
    if (!p) {
      p = (async () => {
        // Read on its own at a run's end: it never asks for an SSH sign-in (background).
        const cause = await failureOfRun(await this.backends.get(run.profile), run, { background: true });
        if (cause) {
          known.set(run.id, { run, cause });
          await this.diagnose(run, cause);
        }
        return cause;
      })().catch((e: unknown) => {
        this.log.warn(`explaining the failure of ${run.key ?? run.id}: ${errorMessage(e)}`);
        return undefined;
      });
      this.pending.set(run.id, p);
      void p.finally(() => this.pending.delete(run.id));
    }
    return p;
  }

  /** The line for the end notification (`failed: ZeroDivisionError at add.py:12`). */
  async notificationLine(run: Run): Promise<string | undefined> {
    const cause = await this.explain(run);
    return cause && failureLine(run, cause);
  }

  /** Runs that just appeared: each sent file's diagnostic from an older run is cleared. */
  runsChanged(runs: readonly Run[]): void {
    for (const [file, runId] of this.diagnosedBy) {
      const older = runs.find((r) => r.id === runId);
      const newer = runs.find((r) => r.id !== runId && older && r.createdAt > older.createdAt && r.request.files.some((n) => file.endsWith(`/${n}`) || file === n));
      if (!older || newer) {
        this.diagnostics.delete(vscode.Uri.file(file));
        this.diagnosedBy.delete(file);
      }
    }
  }

  private async diagnose(run: Run, cause: FailureCause): Promise<void> {
    if (!cause.location) return;
    const uri = await localFile(cause.location.name);
    if (!uri) return;
    const line = Math.max(0, cause.location.line - 1);
    const d = new vscode.Diagnostic(new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER), `${cause.detail || cause.summary} (Muse run ${run.key?.slice(0, 8) ?? run.id})`, vscode.DiagnosticSeverity.Error);
    d.source = 'Muse';
    this.diagnostics.set(uri, [d]);
    this.diagnosedBy.set(uri.fsPath, run.id);
  }

  /** Links from paths naming sent files (relative, or in the remote run folder) to the local files. */
  async provideDocumentLinks(doc: vscode.TextDocument): Promise<vscode.DocumentLink[]> {
    const followedRun = this.followed?.runIdOf(doc.uri);
    const runId = followedRun ?? fromRunUri(doc.uri)?.runId;
    const run = runId ? this.store.get(runId) : undefined;
    if (!run || run.request.files.length === 0) return [];
    const runDir = run.backend === 'ws' ? undefined : run.location;
    const refs = followedRun ? this.growingRefs(doc, run) : findRunFileRefs(doc.getText(), run.request.files, runDir);
    const files = new Map<string, vscode.Uri | undefined>();
    const links: vscode.DocumentLink[] = [];
    for (const r of refs) {
      if (!files.has(r.name)) files.set(r.name, await localFile(r.name));
      const uri = files.get(r.name);
      if (!uri) continue;
      const target = r.line ? uri.with({ fragment: `L${r.line}` }) : uri;
      const link = new vscode.DocumentLink(new vscode.Range(doc.positionAt(r.start), doc.positionAt(r.end)), target);
      link.tooltip = `Open ${r.name}${r.line ? ` at line ${r.line}` : ''} (the local file that was sent)`;
      links.push(link);
    }
    return links;
  }

  /** A followed document only grows at its end: only its new lines are scanned (growingRefs.ts). */
  private growingRefs(doc: vscode.TextDocument, run: Run): RunFileRef[] {
    const key = doc.uri.toString();
    let g = this.followedRefs.get(key);
    if (!g) this.followedRefs.set(key, (g = new GrowingRefs(run.request.files)));
    const last = doc.lineCount - 1;
    // The output starts after the head lines (the web API's note) and the "not shown" line.
    let bodyStart = 0;
    let dropped = 0;
    for (let i = 0; i < Math.min(2, last); i++) {
      const line = doc.lineAt(i).text;
      const n = droppedOf(line);
      if (n !== undefined) {
        dropped = n;
        bodyStart = doc.offsetAt(new vscode.Position(i + 1, 0));
        break;
      }
      if (!line.startsWith('[The web API')) break;
      bodyStart = doc.offsetAt(new vscode.Position(i + 1, 0));
    }
    return g.refs(
      {
        bodyStart,
        dropped,
        lastLineStart: doc.offsetAt(new vscode.Position(last, 0)),
        length: doc.offsetAt(doc.lineAt(last).range.end),
        read: (from, to) => doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(to))),
      },
      run.backend === 'ws' ? undefined : run.location,
    );
  }

  /** The diagnostics shown now (tests). */
  diagnosticsOf(uri: vscode.Uri): readonly vscode.Diagnostic[] {
    return this.diagnostics.get(uri) ?? [];
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
