/**
 * A small line diff for comparing two runs' outputs (there is no diff dependency). The common
 * beginning and end are matched first (two runs of one script mostly differ in a few lines),
 * then the middle by Myers' algorithm, whose time and memory grow with the number of differing
 * lines D (about D² numbers kept), not with the output's length. It is bounded: past `maxCells`
 * numbers (about 1,400 differing lines by default) the middle is shown as all removed then all
 * added, and `approximate` says so: memory stays flat for huge, wholly different outputs.
 */

/** One line of the diff: kept (` `), only in a (`-`), only in b (`+`). */
export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

export interface LineDiff {
  lines: DiffLine[];
  /** The middle was too large for the table: shown as removed + added, not matched line by line. */
  approximate: boolean;
}

/** 2 million numbers (8 MB): outputs that differ in up to about 1,400 lines are matched exactly. */
export const DEFAULT_MAX_CELLS = 2_000_000;

/** Splits text into lines; a final newline does not make an empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The line diff of `a` to `b`. */
export function lineDiff(a: readonly string[], b: readonly string[], maxCells = DEFAULT_MAX_CELLS): LineDiff {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const lines: DiffLine[] = [];
  for (let i = 0; i < start; i++) lines.push({ op: ' ', text: a[i]! });
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const middle = n0(midA, midB) ? undefined : myers(midA, midB, maxCells);
  const approximate = middle === undefined && midA.length > 0 && midB.length > 0;
  if (middle) lines.push(...middle);
  else {
    for (const t of midA) lines.push({ op: '-', text: t });
    for (const t of midB) lines.push({ op: '+', text: t });
  }
  for (let i = endA; i < a.length; i++) lines.push({ op: ' ', text: a[i]! });
  return { lines, approximate };
}

/** True when one side is empty: nothing to match. */
function n0(a: readonly string[], b: readonly string[]): boolean {
  return a.length === 0 || b.length === 0;
}

/**
 * Myers' O((N+M)·D) diff of two line arrays (D: lines removed + added), deletions before
 * insertions where both fit. The furthest-reaching x of each diagonal is kept per round for the
 * walk back: about D² numbers in all; undefined once that would pass `maxCells`.
 */
function myers(a: readonly string[], b: readonly string[], maxCells: number): DiffLine[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d]: v over diagonals -d-1..d+1 before round d (what the walk back reads).
  const trace: Int32Array[] = [];
  let cells = 0;
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    cells += 2 * d + 3;
    if (cells > maxCells) return undefined;
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  const out: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const t = trace[d]!;
    const at = (k: number): number => t[k + d + 1]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : at(prevK);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push({ op: ' ', text: a[--x]! });
      y--;
    }
    if (d > 0) {
      if (x === prevX) out.push({ op: '+', text: b[--y]! });
      else out.push({ op: '-', text: a[--x]! });
    }
  }
  return out.reverse();
}

/**
 * A unified diff (`--- a`, `+++ b`, `@@ -l,n +l,n @@` hunks with `context` lines around each
 * change), as lines. Empty when the texts are the same.
 */
export function unifiedDiff(a: string, b: string, opts: { labelA: string; labelB: string; context?: number; maxCells?: number }): string[] {
  const context = opts.context ?? 3;
  const { lines, approximate } = lineDiff(splitLines(a), splitLines(b), opts.maxCells);
  const changed = lines.map((l, i) => (l.op !== ' ' ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) return [];
  const out = [`--- ${opts.labelA}`, `+++ ${opts.labelB}`];
  if (approximate) out.push('(the outputs differ in too many lines to match line by line: the differing part is shown whole)');
  // Line numbers in a and b before each diff line.
  const posA: number[] = [];
  const posB: number[] = [];
  let la = 1;
  let lb = 1;
  for (const l of lines) {
    posA.push(la);
    posB.push(lb);
    if (l.op !== '+') la++;
    if (l.op !== '-') lb++;
  }
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, changed[k]! - context);
    let to = Math.min(lines.length, changed[k]! + context + 1);
    k++;
    while (k < changed.length && changed[k]! - context <= to) {
      to = Math.min(lines.length, changed[k]! + context + 1);
      k++;
    }
    const hunk = lines.slice(from, to);
    const countA = hunk.filter((l) => l.op !== '+').length;
    const countB = hunk.filter((l) => l.op !== '-').length;
    const startA = countA === 0 ? posA[from]! - 1 : posA[from]!;
    const startB = countB === 0 ? posB[from]! - 1 : posB[from]!;
    out.push(`@@ -${startA},${countA} +${startB},${countB} @@`);
    for (const l of hunk) out.push(`${l.op}${l.text}`);
  }
  return out;
}

/** The note shown when an output was longer than what is compared. */
export function lineDiffNote(maxBytes: number): string {
  return `Only the last ${Math.round(maxBytes / (1024 * 1024))} MB of each output are compared.`;
}
