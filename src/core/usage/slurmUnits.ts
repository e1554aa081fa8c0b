/**
 * Slurm's units as sacct and squeue print them, read into plain numbers, and written back in the
 * forms sbatch accepts (`--mem=6G`, `--time=1-12:00:00`). Every reader gives `undefined` for a
 * value Slurm leaves unknown (empty, `Unknown`, `INVALID`, `None`, `N/A`): a job cancelled
 * before it started has no figures, and they must never read as 0.
 */

/**
 * Field delimiter the project asks of sacct and squeue (`--delimiter`, `-o`): the ASCII unit
 * separator, which no job name, node list or reason holds (sbatch refuses control characters in
 * names). Defined here, the lowest layer that reads Slurm's output; the Slurm backend uses it too.
 */
export const FIELD_DELIMITER = '\x1f';

const UNKNOWN_WORDS = new Set(['', 'UNKNOWN', 'INVALID', 'NONE', 'N/A', '(NULL)', 'NONE ASSIGNED']);

/** True for the words Slurm prints where it has no value. */
export function isUnknownValue(s: string | undefined): boolean {
  return UNKNOWN_WORDS.has((s ?? '').trim().toUpperCase());
}

const UNIT_BYTES: Record<string, number> = {
  '': 1024 * 1024, // sbatch and ReqMem count in megabytes when no unit is written
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/** A memory size from sacct: bytes, and whether it counts per node or per CPU (ReqMem before 21.08). */
export interface SlurmMemory {
  bytes: number;
  /** `n` / `c` suffix of ReqMem before Slurm 21.08; absent in the later forms (the job's memory). */
  per?: 'node' | 'cpu';
}

/**
 * Reads a memory size: `4000Mn` / `4000Mc` (ReqMem before 21.08, per node / per CPU), `3500M`,
 * `4G`, `512K`, `1.5T`, `0`, a bare number (megabytes, as sbatch reads `--mem`). `defaultUnit`
 * is the unit of a bare number: `M` for ReqMem and sbatch, `K` would suit raw RSS counts.
 */
export function parseSlurmMemory(s: string | undefined, defaultUnit: 'K' | 'M' = 'M'): SlurmMemory | undefined {
  if (isUnknownValue(s)) return undefined;
  const m = /^(\d+(?:\.\d+)?)([KMGTP]?)([nc]?)$/i.exec(s!.trim());
  if (!m) return undefined;
  const unit = (m[2] || defaultUnit).toUpperCase();
  const bytes = Math.round(Number(m[1]) * UNIT_BYTES[unit]);
  const per = m[3] === '' ? undefined : m[3].toLowerCase() === 'n' ? 'node' : 'cpu';
  return per ? { bytes, per } : { bytes };
}

/**
 * Reads a duration as sacct prints Elapsed, TotalCPU and Timelimit: `MM:SS.mmm` (TotalCPU under
 * an hour), `MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`, `D-HH`, `D-HH:MM`, with optional fractions of a
 * second. Seconds, or undefined for `INVALID`, empty, `UNLIMITED`, `Partition_Limit` and what
 * it cannot read (use `parseTimeLimit` where unlimited means something).
 */
export function parseSlurmDuration(s: string | undefined): number | undefined {
  if (isUnknownValue(s)) return undefined;
  const m = /^(?:(\d+)-)?(\d+(?::\d+){0,2}(?:\.\d+)?)$/.exec(s!.trim());
  if (!m) return undefined;
  const parts = m[2].split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) return undefined;
  if (m[1] !== undefined) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    const [h, min = 0, sec = 0] = parts;
    return Number(m[1]) * 86400 + h * 3600 + min * 60 + sec;
  }
  if (parts.length === 3) return parts[0] * 3600 + parts[1] * 60 + parts[2]; // HH:MM:SS
  if (parts.length === 2) return parts[0] * 60 + parts[1]; // MM:SS(.mmm)
  return undefined; // a bare number is minutes to sbatch, never printed by sacct
}

/**
 * Reads a Timelimit: seconds, `'unlimited'` for `UNLIMITED` (and `INFINITE`), undefined for
 * `Partition_Limit` (the partition's, which sacct does not say), `INVALID` and empty.
 */
export function parseTimeLimit(s: string | undefined): number | 'unlimited' | undefined {
  const t = (s ?? '').trim().toUpperCase();
  if (t === 'UNLIMITED' || t === 'INFINITE') return 'unlimited';
  return parseSlurmDuration(s);
}

/**
 * Reads a TRES string (`billing=2,cpu=2,gres/gpu=1,mem=4G,node=1`) into a map of name to the
 * value as printed; an empty or unknown string gives an empty map.
 */
export function parseTres(s: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (isUnknownValue(s)) return out;
  for (const part of s!.trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** The GPUs of a TRES string: `gres/gpu=N`, else the sum of typed `gres/gpu:a100=N` entries. */
export function tresGpus(tres: Map<string, string>): number | undefined {
  const plain = tres.get('gres/gpu');
  if (plain !== undefined && /^\d+$/.test(plain)) return Number(plain);
  let sum: number | undefined;
  for (const [k, v] of tres) {
    if (k.startsWith('gres/gpu:') && /^\d+$/.test(v)) sum = (sum ?? 0) + Number(v);
  }
  return sum;
}

/**
 * Reads a timestamp as sacct and squeue print it (`2026-12-01T10:00:00`, the cluster's local
 * time, read as this machine's local time) into epoch milliseconds; undefined for `Unknown`,
 * `None`, `N/A` and empty.
 */
export function parseSlurmTime(s: string | undefined): number | undefined {
  if (isUnknownValue(s)) return undefined;
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/.exec(s!.trim());
  if (!m) return undefined;
  // The numeric constructor: local time as the string form, without its slow string parsing.
  const ms = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] !== undefined ? +m[6] : 0).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** A count (`AllocCPUS`): undefined when unknown or not a number. */
export function parseCount(s: string | undefined): number | undefined {
  const t = (s ?? '').trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * A memory size for sbatch (`--mem`), rounded up to a size a person reads at a glance: whole
 * gigabytes from 1 GB (`6G`), multiples of 128 MB below (`384M`).
 */
export function formatMemoryOption(bytes: number): string {
  const mb = bytes / 1024 ** 2;
  if (mb <= 1024 - 128) return `${Math.max(128, Math.ceil(mb / 128) * 128)}M`;
  return `${Math.max(1, Math.ceil(mb / 1024))}G`;
}

/**
 * A duration for sbatch (`--time`), rounded up to the minute: `H:MM:SS`, or `D-HH:MM:SS` from a
 * day on (both forms sbatch reads).
 */
export function formatTimeOption(seconds: number): string {
  const total = Math.max(60, Math.ceil(seconds / 60) * 60);
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return days > 0 ? `${days}-${pad(h)}:${pad(m)}:00` : `${h}:${pad(m)}:00`;
}
