/**
 * A small line diff for comparing two runs' outputs (there is no diff dependency). The common
 * beginning and end are matched first (two runs of one script mostly differ in a few lines),
 * then the middle by a longest-common-subsequence table. The table is bounded: when the two
 * middles are larger than `maxCells` lines x lines, the middle is shown as all removed then all
 * added, and `approximate` says so. Memory stays flat for huge outputs; results stay exact for
 * the few hundred differing lines this is for.
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

/** 2 million cells: an 8 MB table, e.g. two middles of about 1,400 lines each. */
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
  const n = midA.length;
  const m = midB.length;
  let approximate = false;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > maxCells) {
    approximate = n > 0 && m > 0;
    for (const t of midA) lines.push({ op: '-', text: t });
    for (const t of midB) lines.push({ op: '+', text: t });
  } else {
    // suffix LCS lengths: t[i][j] = LCS of midA[i..] and midB[j..]
    const w = m + 1;
    const t = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        t[i * w + j] = midA[i] === midB[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (midA[i] === midB[j]) {
        lines.push({ op: ' ', text: midA[i]! });
        i++;
        j++;
      } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) {
        lines.push({ op: '-', text: midA[i++]! });
      } else {
        lines.push({ op: '+', text: midB[j++]! });
      }
    }
    while (i < n) lines.push({ op: '-', text: midA[i++]! });
    while (j < m) lines.push({ op: '+', text: midB[j++]! });
  }
  for (let i = endA; i < a.length; i++) lines.push({ op: ' ', text: a[i]! });
  return { lines, approximate };
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
