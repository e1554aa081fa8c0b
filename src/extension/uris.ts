/**
 * The extension's URI schemes, as plain components (scheme, authority, path, query) so that
 * they are built and parsed without VS Code; `vscode.Uri.from(parts)` turns them into URIs.
 *
 * - `muse-run:/<profile>/<software>-<short key>/<stdout.txt|stderr.txt|report.json>?run=<id>&kind=<kind>`:
 *   a run's output as a read-only document. The path ends in a real file name, so the tab title
 *   and language fit; the folders tell two runs' tabs apart.
 * - `muse-zip://<run id>/<path in the zip>`: the run-folder zip, browsed without extracting.
 */

export const RUN_SCHEME = 'muse-run';
export const ZIP_SCHEME = 'muse-zip';

/** Which document of a run. */
export type RunDocKind = 'stdout' | 'stderr' | 'report';

export const RUN_DOC_FILE: Record<RunDocKind, string> = {
  stdout: 'stdout.txt',
  stderr: 'stderr.txt',
  report: 'report.json',
};

export interface UriParts {
  scheme: string;
  authority?: string;
  path: string;
  query?: string;
}

/** A path segment safe for a URI path and a tab title (no `/`, no control characters). */
export function safeSegment(text: string, fallback = 'run'): string {
  // eslint-disable-next-line no-control-regex
  const s = text.replace(/[\u0000-\u001f\u007f/\\?#%]+/g, '_').replace(/^\.+$/, '_').trim();
  return (s || fallback).slice(0, 80);
}

/**
 * The parts of a `muse-run:` URI for one document of one run. `label` is one folder or several
 * (e.g. `[profile, software-shortKey]`): tabs of two runs then differ by path, which VS Code
 * shows to tell them apart, while the file name (title, language) stays `stdout.txt`. The run
 * is read back from the query only, so URIs of any older path shape still open.
 */
export function toRunUri(runId: string, kind: RunDocKind, label: string | string[] = 'run'): UriParts {
  const folders = (Array.isArray(label) ? label : [label]).map((l) => safeSegment(l));
  return {
    scheme: RUN_SCHEME,
    path: `/${(folders.length > 0 ? folders : ['run']).join('/')}/${RUN_DOC_FILE[kind]}`,
    query: new URLSearchParams({ run: runId, kind }).toString(),
  };
}

/** Reads back a `muse-run:` URI; undefined when it is not one of ours or is malformed. */
export function fromRunUri(uri: { scheme: string; query: string }): { runId: string; kind: RunDocKind } | undefined {
  if (uri.scheme !== RUN_SCHEME) return undefined;
  const q = new URLSearchParams(uri.query);
  const runId = q.get('run');
  const kind = q.get('kind');
  if (!runId || (kind !== 'stdout' && kind !== 'stderr' && kind !== 'report')) return undefined;
  return { runId, kind };
}

/** The parts of a `muse-zip:` URI: an entry (or the root, with `inner` empty) of a run's content zip. */
export function toZipUri(runId: string, inner = ''): UriParts {
  const clean = inner.split('/').filter((s) => s !== '' && s !== '.').join('/');
  return { scheme: ZIP_SCHEME, authority: runId.toLowerCase(), path: `/${clean}` };
}

/** Reads back a `muse-zip:` URI: the run id and the entry path inside the zip (no leading slash). */
export function fromZipUri(uri: { scheme: string; authority: string; path: string }): { runId: string; inner: string } | undefined {
  if (uri.scheme !== ZIP_SCHEME || !uri.authority) return undefined;
  const segs = uri.path.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) return undefined;
  return { runId: uri.authority, inner: segs.join('/') };
}
