/**
 * Why a run waits: the reason of each pending job from one `squeue -h -t PD -o '%i<D>%r'`, and
 * the expected start from one `squeue --start -h -o '%i<D>%S'` (backfill's estimate), for all
 * pending jobs of a cluster at once, and the short text the tree shows.
 */
import { FIELD_DELIMITER, isUnknownValue, parseSlurmTime } from './slurmUnits';

/** squeue's format for the reasons of pending jobs (with `-h -t PD`), joined by the delimiter. */
export const PENDING_REASON_FORMAT = ['%i', '%r'] as const;
/** squeue's format for expected starts (with `--start -h`), joined by the delimiter. */
export const PENDING_START_FORMAT = ['%i', '%S'] as const;

/** Why one job (or pending array range) waits. */
export interface WaitInfo {
  /** As squeue prints it: `123`, `123_[5-9]`. */
  jobId: string;
  /** The sbatch job id. */
  baseId: string;
  /** The reason word (`Priority`, `Resources`, `Dependency`, `BeginTime`, `QOSMaxJobsPerUserLimit`...). */
  reason?: string;
  /** Expected start, epoch milliseconds, when Slurm gives one. */
  expectedStart?: number;
}

function rowsOf(text: string, delimiter: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const cut = line.indexOf(delimiter);
    if (cut < 0) continue;
    const id = line.slice(0, cut).trim();
    if (!/^\d/.test(id)) continue;
    out.push([id, line.slice(cut + delimiter.length).trim()]);
  }
  return out;
}

/**
 * Joins both squeue outputs into one map keyed by the job id as squeue prints it. `None` and
 * empty reasons, and `N/A` starts, stay unknown. `startText` may be left out (no `--start` call).
 */
export function parsePendingJobs(reasonText: string, startText = '', delimiter = FIELD_DELIMITER): Map<string, WaitInfo> {
  const out = new Map<string, WaitInfo>();
  const entry = (jobId: string): WaitInfo => {
    let w = out.get(jobId);
    if (!w) {
      w = { jobId, baseId: /^\d+/.exec(jobId)![0] };
      out.set(jobId, w);
    }
    return w;
  };
  for (const [id, reason] of rowsOf(reasonText, delimiter)) {
    const word = reason.replace(/^\(|\)$/g, '');
    if (!isUnknownValue(word)) entry(id).reason = word;
    else entry(id);
  }
  for (const [id, start] of rowsOf(startText, delimiter)) {
    const at = parseSlurmTime(start);
    if (at !== undefined) entry(id).expectedStart = at;
  }
  return out;
}

/** The wait of a run's job: its own entry, else the first entry of its array (`123_[5-9]`). */
export function waitOfJob(pending: ReadonlyMap<string, WaitInfo>, baseId: string): WaitInfo | undefined {
  const own = pending.get(baseId);
  if (own) return own;
  for (const w of pending.values()) if (w.baseId === baseId) return w;
  return undefined;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `14:20` today, `2026-12-02 14:20` another day (local time). */
export function formatStartTime(at: number, now = Date.now()): string {
  const d = new Date(at);
  const n = new Date(now);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** The tree's text of a waiting run: `waiting · Priority · starts ~14:20`. */
export function waitText(w: WaitInfo | undefined, now = Date.now()): string {
  const parts = ['waiting'];
  if (w?.reason) parts.push(w.reason);
  if (w?.expectedStart !== undefined) parts.push(`starts ~${formatStartTime(w.expectedStart, now)}`);
  return parts.join(' · ');
}
