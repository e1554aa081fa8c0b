/**
 * Paths in a run's output that name files of its run folder: a relative name (`add.py`,
 * `./src/add.py`) or the run folder's absolute path on the cluster (`/home/u/muse-runs/KEY/add.py`)
 * mapped back to the run-folder name of a file that was sent (`src/add.py`), which the caller
 * finds again on this machine (the workspace folder, the CLI's folder). Pure.
 */

/** A reference to a sent file found in output text. */
export interface RunFileRef {
  /** Offsets of the path (and its `:line` / `, line N`) in the text. */
  start: number;
  end: number;
  /** The run-folder name of the sent file. */
  name: string;
  /** 1-based line, when the output gives one. */
  line?: number;
}

/**
 * The run-folder name `p` names, when it is one of `sent`: relative to the run folder, or an
 * absolute path inside `runDir`. Undefined for anything else (library files, other folders).
 */
export function runFileName(p: string, sent: readonly string[], runDir?: string): string | undefined {
  let rel = p.replace(/\\/g, '/');
  const dir = runDir?.replace(/\\/g, '/').replace(/\/+$/, '');
  if (dir && rel.startsWith(dir + '/')) rel = rel.slice(dir.length + 1);
  else if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) return undefined;
  rel = rel.replace(/^(\.\/)+/, '');
  return sent.includes(rel) ? rel : undefined;
}

// `File "x.py", line 12` (Python), and `path:12` / `path:12:3` (compilers, shells, most tools).
const PY_FRAME = /File "([^"\n]+)", line (\d+)/g;
// A match starts only where a path can start (not inside a run of path characters): the same
// matches, but linear in the text (without it, every long word is retried from each of its
// characters: seconds on a few MB of output, in the extension host's link provider).
const PATH_LINE = /(?<![\w./\\-])((?:[A-Za-z]:)?[\w./\\-]*[\w-]\.[A-Za-z0-9]+)(?::(\d+))?/g;

/** The references to sent files in `text`, in text order (at most `max`). */
export function findRunFileRefs(text: string, sent: readonly string[], runDir?: string, max = 2000): RunFileRef[] {
  if (sent.length === 0) return [];
  const refs: RunFileRef[] = [];
  const taken: Array<[number, number]> = [];
  for (const m of text.matchAll(PY_FRAME)) {
    const name = runFileName(m[1]!, sent, runDir);
    if (!name) continue;
    const start = m.index! + m[0].indexOf('"') + 1;
    refs.push({ start, end: m.index! + m[0].length, name, line: Number(m[2]) });
    taken.push([m.index!, m.index! + m[0].length]);
    if (refs.length >= max) break;
  }
  for (const m of text.matchAll(PATH_LINE)) {
    if (refs.length >= max) break;
    const s = m.index!;
    if (taken.some(([a, b]) => s >= a && s < b)) continue;
    const name = runFileName(m[1]!, sent, runDir);
    if (!name) continue;
    const ref: RunFileRef = { start: s, end: s + m[0].length, name };
    if (m[2]) ref.line = Number(m[2]);
    refs.push(ref);
  }
  return refs.sort((a, b) => a.start - b.start);
}
