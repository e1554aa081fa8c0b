/**
 * What differs between two runs' requests: command, options, Slurm and module lists, software,
 * profile, and the input files (added, removed, changed by the content hash recorded at submit).
 * Plain data and text lines, shared by `muse diff` and the extension's Compare.
 */
import type { Run } from '../model';

/** One field that differs (values as shown; `undefined` when a run has none). */
export interface FieldDiff {
  field: string;
  a: string;
  b: string;
}

/** How one input file differs. `unknown`: in both, but a hash is missing on one side. */
export interface FileDiff {
  name: string;
  change: 'added' | 'removed' | 'changed' | 'unknown';
}

export interface RequestDiff {
  fields: FieldDiff[];
  files: FileDiff[];
  /** Files in both runs whose hashes match. */
  sameFiles: number;
}

function list(xs: readonly string[]): string {
  return xs.length === 0 ? '(none)' : xs.join(' ');
}

function params(r: Run): string {
  const p = r.sweep?.params;
  if (!p || Object.keys(p).length === 0) return '(none)';
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The fields compared, in the order shown. */
const FIELDS: ReadonlyArray<readonly [string, (r: Run) => string]> = [
  ['command', (r) => r.request.cmd],
  ['options', (r) => r.request.cmdOption],
  ['software', (r) => r.software],
  ['profile', (r) => `${r.profile} (${r.backend})`],
  ['sbatch', (r) => list(r.request.sbatchList)],
  ['modules', (r) => list(r.request.moduleList)],
  ['returned', (r) => `${r.request.returnedType}${r.request.toDownload ? ' (kept for download)' : ''}`],
  ['sweep parameters', params],
];

/**
 * What differs between run `a` and run `b` ("added": in b, not in a). A file is compared by the
 * hash recorded at submit; without one on either side its content is `unknown`, never "same".
 */
export function requestDiff(a: Run, b: Run): RequestDiff {
  const fields: FieldDiff[] = [];
  for (const [field, get] of FIELDS) {
    const va = get(a);
    const vb = get(b);
    if (va !== vb) fields.push({ field, a: va, b: vb });
  }
  const files: FileDiff[] = [];
  let sameFiles = 0;
  const inA = new Set(a.request.files);
  const inB = new Set(b.request.files);
  for (const name of a.request.files) {
    if (!inB.has(name)) {
      files.push({ name, change: 'removed' });
      continue;
    }
    const ha = a.fileHashes?.[name];
    const hb = b.fileHashes?.[name];
    if (ha === undefined || hb === undefined) files.push({ name, change: 'unknown' });
    else if (ha !== hb) files.push({ name, change: 'changed' });
    else sameFiles++;
  }
  for (const name of b.request.files) if (!inA.has(name)) files.push({ name, change: 'added' });
  return { fields, files, sameFiles };
}

const FILE_WORDS: Record<FileDiff['change'], string> = {
  added: 'added',
  removed: 'removed',
  changed: 'changed (content differs)',
  unknown: 'not compared (no content hash recorded)',
};

/**
 * The differences as text lines for a terminal or a read-only document, `-`/`+` for a/b:
 * ```
 * command:  - python add.py 1 2
 *           + python add.py 3 4
 * file add.py: changed (content differs)
 * ```
 * One line says so when nothing differs.
 */
export function requestDiffLines(d: RequestDiff): string[] {
  const out: string[] = [];
  const width = Math.max(0, ...d.fields.map((f) => f.field.length)) + 2;
  for (const f of d.fields) {
    out.push(`${`${f.field}:`.padEnd(width)}- ${oneLine(f.a)}`);
    out.push(`${''.padEnd(width)}+ ${oneLine(f.b)}`);
  }
  for (const f of d.files) out.push(`file ${f.name}: ${FILE_WORDS[f.change]}`);
  if (out.length === 0) out.push(`The requests are the same${d.sameFiles > 0 ? ` (${d.sameFiles} input file${d.sameFiles === 1 ? '' : 's'} with the same content)` : ''}.`);
  else if (d.sameFiles > 0) out.push(`${d.sameFiles} other input file${d.sameFiles === 1 ? '' : 's'}: same content`);
  return out;
}

/** A value on one line: a newline in a command would break the layout (shown as `\n`). */
function oneLine(s: string): string {
  return s === '' ? '(empty)' : s.replace(/\r?\n/g, '\\n');
}
