import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { MuseError, errorMessage } from '../core/errors';
import type { Run } from '../core/model';
import { runRef } from '../core/runs';
import type { RunStore } from '../core/store';
import type { Auth } from './auth';
import type { Backends } from './backends';
import { knownFailureLine } from './failureDiagnostics';
import type { Renewal } from './renewal';
import type { ResultsFolders } from './resultsFolders';
import { runScriptName } from './runTreeModel';
import { RUN_SCHEME, fromRunUri, toRunUri } from './uris';
import type { RunDocKind } from './uris';
import { asUserGesture } from './userGesture';

/** Documents larger than this show their beginning and point to the file on disk. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** The `muse-run:` URI of one document of a run. */
export function runDocumentUri(run: Run, kind: RunDocKind): vscode.Uri {
  // Profile, then software and a short key: two runs of one script never share a tab path.
  const short = (run.key ?? run.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 8) || 'run';
  const script = runScriptName(run);
  return vscode.Uri.from(toRunUri(run.id, kind, [run.profile, `${run.software}-${script ? `${script}-` : ''}${short}`]));
}

/** Reads at most `max` bytes of a file as text, with a note when there is more. */
export async function readCapped(file: string, max = MAX_DOCUMENT_BYTES): Promise<string> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size, max));
    await fh.read(buf, 0, buf.length, 0);
    const text = buf.toString('utf8');
    return size > max ? `${text}\n\n[... ${size - max} more bytes: the whole file is ${file}]\n` : text;
  } finally {
    await fh.close();
  }
}

/**
 * Serves a run's stdout, stderr and state report as read-only documents. Files are streamed to
 * the run's results folder by the backend first; only the (capped) text reaches the editor.
 */
export class RunDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  static readonly scheme = RUN_SCHEME;
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  /** Stdout of ended runs does not change: kept, so reopening a tab does not download again. */
  private readonly finalText = new Map<string, string>();
  /**
   * Documents being opened by a user's command: their reads may renew a refused token by asking.
   * Other reads (VS Code reading an open tab again after a state change, tabs restored on
   * reload) are background work and never ask.
   */
  private readonly userOpens = new Map<string, number>();

  constructor(
    private readonly store: RunStore,
    private readonly backends: Backends,
    private readonly results: ResultsFolders,
    private readonly auth: Auth,
  ) {}

  /** Opens a run's document for a user's command (see `userOpens`). */
  async openForUser(run: Run, kind: RunDocKind): Promise<vscode.TextDocument> {
    const uri = runDocumentUri(run, kind);
    const k = uri.toString();
    this.userOpens.set(k, (this.userOpens.get(k) ?? 0) + 1);
    try {
      return await vscode.workspace.openTextDocument(uri);
    } finally {
      const n = (this.userOpens.get(k) ?? 1) - 1;
      if (n > 0) this.userOpens.set(k, n);
      else this.userOpens.delete(k);
    }
  }

  /** Asks VS Code to read a document again (a run changed state). */
  changed(run: Run): void {
    this.finalText.delete(run.id);
    for (const kind of ['stdout', 'stderr', 'report'] as const) this.emitter.fire(runDocumentUri(run, kind));
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const ref = fromRunUri(uri);
    if (!ref) throw new MuseError('usage', `Not a Muse run document: ${uri.toString()}`);
    const run = this.store.get(ref.runId);
    if (!run) throw new MuseError('notFound', 'This run is no longer in the Runs list.');
    const ctl = new AbortController();
    const sub = token.onCancellationRequested(() => ctl.abort());
    const forUser = this.userOpens.has(uri.toString());
    const renewal = this.auth.renewal(run.profile, forUser);
    const read = (): Promise<string> => (ref.kind === 'report' ? this.report(run, renewal, ctl.signal) : this.output(run, ref.kind, renewal, ctl.signal));
    try {
      // Only a document the user is opening may ask (userGesture.ts); VS Code's re-reads are background.
      return await (forUser ? asUserGesture(`open ${ref.kind}`, read) : read());
    } finally {
      sub.dispose();
    }
  }

  private async report(run: Run, renewal: Renewal, signal: AbortSignal): Promise<string> {
    const local = { ...run };
    if (!run.key) return JSON.stringify(local, null, 2);
    try {
      const backend = await this.backends.get(run.profile);
      const answer = await renewal.run(async () => {
        const a = (await backend.states([runRef(run)], { signal })).get(run.id);
        if (a instanceof Error) throw a;
        return a;
      });
      // Why it failed first, when known (failureDiagnostics.ts).
      return JSON.stringify({ why: knownFailureLine(run), run: local, report: answer?.report ?? answer }, null, 2);
    } catch (e) {
      return JSON.stringify({ run: local, error: errorMessage(e) }, null, 2);
    }
  }

  private async output(run: Run, stream: 'stdout' | 'stderr', renewal: Renewal, signal: AbortSignal): Promise<string> {
    const cacheKey = `${run.id}:${stream}`;
    const cached = this.finalText.get(cacheKey);
    if (cached !== undefined) return cached;
    if (!run.key) throw new MuseError('notReady', 'The run has no key yet.');
    const backend = await this.backends.get(run.profile);
    const dir = await this.results.ensureDir(run);
    let text: string;
    if (backend.output) {
      const output = backend.output.bind(backend);
      const dest = path.join(dir, `${stream}.txt`);
      await renewal.run(() => output(runRef(run), stream, dest, { signal }));
      text = await readCapped(dest);
    } else if (stream === 'stdout') {
      if (run.state !== 'ok') throw new MuseError('notReady', 'The output is available once the run has ended well.');
      const dest = this.results.resultsFile(run);
      const outcome = await renewal.run(() => backend.results(runRef(run), dest, { signal }));
      if (outcome.kind === 'stdout') text = outcome.text;
      else if (outcome.kind === 'file' && !outcome.path.endsWith('.zip')) text = await readCapped(outcome.path);
      else if (outcome.kind === 'file') text = `The results are a zip: ${outcome.path}\nUse "Muse: Open Run Content" to browse it.\n`;
      else text = `The results are kept for download with the key ${outcome.key}:\n${outcome.url}\n`;
    } else {
      throw new MuseError('unsupported', `The ${run.backend} backend does not serve stderr; open the run content (.zip) instead.`);
    }
    if (run.state === 'ok' || run.state === 'failed' || run.state === 'cancelled') this.finalText.set(cacheKey, text);
    return text;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
