/**
 * What a local run used: wall time, CPU time (user + system of the process tree) and peak
 * memory, recorded by the detached wrapper with what every Linux has (no `/usr/bin/time`, no
 * extra package) and read back from the run folder:
 * - wall time: `/proc/uptime` before and after the command (1/100 s, immune to clock changes);
 * - CPU time: the shell builtin `times` after the command: its second line is the user and
 *   system time of every child the wrapper waited for, and each shell of the tree adds its own
 *   waited-for children (processes that detach from the tree are not counted);
 * - peak memory: a sampler beside the command reads `/proc/<pid>/status` of the command's
 *   process tree, early and then every `intervalSeconds`, and keeps the largest of the tree's
 *   summed VmRSS and any one process's VmHWM (its own peak, which catches spikes between samples).
 * Without /proc (not Linux) the figures are simply absent.
 */
import * as fsp from 'fs/promises';
import * as path from 'path';
import { shellQuote } from '../shellQuote';
import type { UsageTextInput } from './usageText';

/** The usage record in the run folder, written once the command ended (write then rename). */
export const LOCAL_USAGE_FILE = '__MUSE__usage.txt';
/** The sampler's running peak, folded into the record at the end. */
export const LOCAL_PEAK_FILE = '__MUSE__peak.txt';

/**
 * The sampler, run as `sh -c SAMPLER muse-usage <wrapper pid> <interval> <peak file>`. It sums
 * the processes under the wrapper, leaving out the wrapper itself and its own subtree (its cat,
 * awk and sleep), and stops when the wrapper is gone or kills it.
 */
const SAMPLER = [
  'w=$1; iv=$2; out=$3; me=$$; peak=0',
  'sample() {',
  '  p=$(cat /proc/[0-9]*/status 2>/dev/null | awk -v w="$w" -v me="$me" \'',
  '    /^Name:/ { n++ } /^Pid:/ { pid[n] = $2 } /^PPid:/ { pp[n] = $2 } /^VmRSS:/ { rss[n] = $2 } /^VmHWM:/ { hwm[n] = $2 }',
  '    END {',
  '      for (i = 1; i <= n; i++) { par[pid[i]] = pp[i]; r[pid[i]] = rss[i] + 0; h[pid[i]] = hwm[i] + 0 }',
  '      sum = 0; top = 0',
  '      for (p in par) {',
  '        q = p; ok = 0',
  '        while (q != "" && q != 0) { if (q == me) break; if (q == w) { ok = (p != w); break }; q = par[q] }',
  '        if (ok) { sum += r[p]; if (h[p] > top) top = h[p] }',
  '      }',
  '      print (sum > top ? sum : top)',
  '    }\')',
  '  if [ "${p:-0}" -gt "$peak" ] 2>/dev/null; then peak=$p; printf \'peak-kb %s\\n\' "$peak" >"$out.tmp" && mv -f "$out.tmp" "$out"; fi',
  '}',
  // Early samples first, so a run of a second still gets a peak; then the steady interval.
  'for d in 0.05 0.1 0.2 0.5; do kill -0 "$w" 2>/dev/null || exit 0; sample; sleep "$d"; done',
  'while kill -0 "$w" 2>/dev/null; do sample; sleep "$iv"; done',
].join('\n');

/**
 * The shell lines the detached wrapper puts around the command: `before` ahead of it, `after`
 * right after it (once `code=$?` is kept: these lines change `$?`). The wrapper must be a POSIX
 * shell whose `times` is a builtin (dash, bash, busybox ash all are) and must run `after` in
 * itself, not in a subshell, so that `times` sees the command's tree.
 */
export function usageRecorderShell(intervalSeconds = 1): { before: string; after: string } {
  const before = [
    'muse_up0=; read muse_up0 muse_x 2>/dev/null </proc/uptime',
    `sh -c ${shellQuote(SAMPLER)} muse-usage $$ ${Number(intervalSeconds)} ${LOCAL_PEAK_FILE} </dev/null >/dev/null 2>&1 &`,
    'muse_sampler=$!',
  ].join('\n');
  const after = [
    // Before the sampler is reaped, so its own CPU time is not counted.
    `times >${LOCAL_USAGE_FILE}.tmp`,
    'muse_up1=; read muse_up1 muse_x 2>/dev/null </proc/uptime',
    // A TERM that reaches the sampler between its fork and its exec is taken by the wrapper's own
    // trap (inherited until the exec) and lost: send it again until the sampler is gone, KILL
    // after 3 s, so the wrapper never waits for it forever.
    'kill "$muse_sampler" 2>/dev/null; muse_n=0',
    'while kill -0 "$muse_sampler" 2>/dev/null && [ "$muse_n" -lt 30 ]; do sleep 0.1; kill "$muse_sampler" 2>/dev/null; muse_n=$((muse_n + 1)); done',
    'kill -9 "$muse_sampler" 2>/dev/null; wait "$muse_sampler" 2>/dev/null',
    `printf 'uptime %s %s\\n' "$muse_up0" "$muse_up1" >>${LOCAL_USAGE_FILE}.tmp`,
    `if [ -r ${LOCAL_PEAK_FILE} ]; then cat ${LOCAL_PEAK_FILE} >>${LOCAL_USAGE_FILE}.tmp; rm -f ${LOCAL_PEAK_FILE}; fi`,
    `mv -f ${LOCAL_USAGE_FILE}.tmp ${LOCAL_USAGE_FILE}`,
  ].join('\n');
  return { before, after };
}

/** What a local run used; a figure that was not recorded is absent. */
export interface LocalUsage {
  wallSeconds?: number;
  /** User + system CPU time of the process tree. */
  cpuSeconds?: number;
  userSeconds?: number;
  systemSeconds?: number;
  memoryPeakBytes?: number;
}

/** `0m1.234s` (bash), `0m1.230000s` (dash), `1m2,5s` (a comma locale) -> seconds. */
function timesValue(s: string): number | undefined {
  const m = /^(\d+)m(\d+(?:[.,]\d+)?)s$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2].replace(',', '.')) : undefined;
}

/** Reads the usage record written by `usageRecorderShell`. */
export function parseLocalUsage(text: string): LocalUsage {
  const out: LocalUsage = {};
  const timesLines: Array<[number, number]> = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    const pair = t.split(/\s+/);
    if (pair.length === 2) {
      const u = timesValue(pair[0]);
      const s = timesValue(pair[1]);
      if (u !== undefined && s !== undefined) {
        timesLines.push([u, s]);
        continue;
      }
    }
    const up = /^uptime (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(t);
    if (up) {
      const wall = Number(up[2]) - Number(up[1]);
      if (wall >= 0) out.wallSeconds = Math.round(wall * 100) / 100;
      continue;
    }
    const peak = /^peak-kb (\d+)$/.exec(t);
    if (peak && Number(peak[1]) > 0) out.memoryPeakBytes = Number(peak[1]) * 1024;
  }
  // `times` prints the shell's own times, then its children's: the children are the run.
  if (timesLines.length >= 2) {
    const [u, s] = timesLines[1];
    out.userSeconds = u;
    out.systemSeconds = s;
    out.cpuSeconds = Math.round((u + s) * 1000) / 1000;
  }
  return out;
}

/** The usage record of a local run, or undefined while there is none (running, or recorded before this existed). */
export async function readLocalUsage(runDir: string): Promise<LocalUsage | undefined> {
  try {
    return parseLocalUsage(await fsp.readFile(path.join(runDir, LOCAL_USAGE_FILE), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The local figures in the shape the usage text takes: no CPU or memory was asked, so there is
 * CPU time rather than an efficiency, and a peak without a request.
 */
export function localUsageText(u: LocalUsage): UsageTextInput {
  const out: UsageTextInput = {};
  if (u.cpuSeconds !== undefined) out.cpuSeconds = u.cpuSeconds;
  if (u.memoryPeakBytes !== undefined) out.memoryPeakBytes = u.memoryPeakBytes;
  if (u.wallSeconds !== undefined) out.elapsedSeconds = u.wallSeconds;
  return out;
}
