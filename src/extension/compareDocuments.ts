/**
 * The two sides of a Compare, as read-only documents for VS Code's diff editor:
 * `muse-compare:/<A label>/<B label>/<a|b>/stdout.txt?a=<id>&b=<id>&side=a&stream=stdout`.
 * Each side is the request differences as a header block (the same text on both sides, so the
 * diff marks only the outputs) and then that run's output, read through the run documents
 * (`muse-run:`, RunDocuments: same fetching, caching and size cap as opening the output alone).
 */
import * as vscode from 'vscode';
import { requestDiff, requestDiffLines } from '../core/compare/requestDiff';
import { MuseError } from '../core/errors';
import type { OutputStream } from '../core/backend';
import type { Run } from '../core/model';
import type { RunStore } from '../core/store';
import type { RunDocuments } from './runDocuments';
import { runLabel } from './runTreeModel';
import { safeSegment } from './uris';

export const COMPARE_SCHEME = 'muse-compare';

/** Where the output starts in each side, after the header block. */
export const HEADER_END = '# ---- output ----';

export interface CompareRef {
  a: string;
  b: string;
  side: 'a' | 'b';
  stream: OutputStream;
}

/** A short name for a run in a compare header and title: its label and short key. */
export function compareName(run: Run): string {
  return `${runLabel(run)} (${(run.key ?? run.id).slice(0, 8)})`;
}

/** The URI of one side of the compare of `a` with `b`. */
export function compareUri(a: Run, b: Run, side: 'a' | 'b', stream: OutputStream): vscode.Uri {
  const folders = [safeSegment(compareName(a)), safeSegment(compareName(b)), side];
  return vscode.Uri.from({
    scheme: COMPARE_SCHEME,
    path: `/${folders.join('/')}/${stream}.txt`,
    query: new URLSearchParams({ a: a.id, b: b.id, side, stream }).toString(),
  });
}

/** Reads back a compare URI; undefined when it is not one. */
export function fromCompareUri(uri: vscode.Uri): CompareRef | undefined {
  if (uri.scheme !== COMPARE_SCHEME) return undefined;
  const q = new URLSearchParams(uri.query);
  const a = q.get('a');
  const b = q.get('b');
  const side = q.get('side');
  const stream = q.get('stream');
  if (!a || !b || (side !== 'a' && side !== 'b') || (stream !== 'stdout' && stream !== 'stderr')) return undefined;
  return { a, b, side, stream };
}

/** The header block shown above both outputs: which run is which side, what differs in their requests. */
export function compareHeader(a: Run, b: Run): string {
  const lines = [`# Left (-): ${compareName(a)}`, `# Right (+): ${compareName(b)}`, '#', ...requestDiffLines(requestDiff(a, b)).map((l) => `# ${l}`), HEADER_END];
  return lines.join('\n') + '\n';
}

export class CompareDocuments implements vscode.TextDocumentContentProvider {
  constructor(
    private readonly store: RunStore,
    private readonly documents: RunDocuments,
  ) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const ref = fromCompareUri(uri);
    if (!ref) throw new MuseError('usage', `Not a Muse compare document: ${uri.toString()}`);
    const a = this.store.get(ref.a);
    const b = this.store.get(ref.b);
    if (!a || !b) throw new MuseError('notFound', 'One of the compared runs is no longer in the Runs list.');
    const run = ref.side === 'a' ? a : b;
    let body: string;
    try {
      body = (await this.documents.openForUser(run, ref.stream)).getText();
    } catch (e) {
      // One side that cannot be read still shows the other, and says why.
      body = `[The ${ref.stream} of ${compareName(run)} cannot be read: ${(e as Error).message}]\n`;
    }
    return compareHeader(a, b) + body;
  }
}
