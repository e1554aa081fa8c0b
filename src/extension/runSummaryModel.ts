/**
 * What the Run Summary shows, as plain data built from a stored run: what was asked, the
 * timeline, the usage bars with their figures in words, the exit and failure summary, and the
 * advice. No vscode import, so it is unit-tested without VS Code; `runSummaryHtml.ts` draws it.
 */
import { formatBytes } from '../core/format';
import { isFinal } from '../core/model';
import type { BackendKind, Run, RunUsage } from '../core/model';
import { adviseUsage } from '../core/usage/usageAdvice';
import type { UsageAdvice } from '../core/usage/usageAdvice';
import type { UsageFigures } from '../core/usage/usageFigures';
import { formatDuration, usageLine } from '../core/usage/usageText';
import { runLabel, runWaitText } from './runTreeModel';

/** One usage bar: `fraction` of the bar filled (0..1, may exceed 1: drawn full and marked). */
export interface UsageBar {
  name: 'CPU' | 'Memory' | 'Time';
  /** Used / asked; undefined when one side is unknown (then only the words show). */
  fraction?: number;
  /** The figures in words: `210 MB of 4.0 GB (5%)`, `CPU time 0:12`, `unknown`. */
  text: string;
}

/** One line of the timeline. */
export interface TimelineEntry {
  label: 'Submitted' | 'Started' | 'Ended' | 'Waited' | 'Ran for';
  text: string;
}

/** Everything the summary shows. Strings are plain text: the HTML side escapes them. */
export interface RunSummaryModel {
  runId: string;
  title: string;
  /** `done`, `failed (OUT_OF_MEMORY)`, `waiting · Priority · starts ~14:20`. */
  stateText: string;
  state: Run['state'];
  ended: boolean;
  asked: Array<[string, string]>;
  timeline: TimelineEntry[];
  bars: UsageBar[];
  /** The key figures on one line (`usageLine`), '' when none are known. */
  usageLine: string;
  /** An array's tasks, one line each (`task 3: CPU 92% ...`). */
  taskLines: string[];
  exit: Array<[string, string]>;
  advice: UsageAdvice[];
  /** What the run's backend does not report (the web API gives states, not figures). */
  notProvided?: string;
  /** True when Results can be opened (the run is done). */
  canOpenResults: boolean;
}

/** The figures each backend does not report, said once, here. */
const NOT_PROVIDED: Record<BackendKind, string | undefined> = {
  ws: 'The Muse web API reports the job id and its states only: CPU use, memory peak, time against the limit and queue wait are not provided for web API runs.',
  local: undefined,
  ssh: undefined,
};

/** The Slurm state word of a job or task (`CANCELLED by 0` -> `CANCELLED`); the run's own state when accounting gave none. */
function stateWord(run: Run, u: RunUsage | undefined): string {
  const word = u?.state ?? run.raw.slurmState;
  if (word) return (word.split(/\s+/)[0] ?? '').replace(/\+$/, '').toUpperCase();
  switch (run.state) {
    case 'ok':
      return 'COMPLETED';
    case 'failed':
      return 'FAILED';
    case 'cancelled':
      return 'CANCELLED';
    default:
      return 'RUNNING';
  }
}

/** A stored usage record in the shape the advice reads. */
export function usageAsFigures(run: Run, u: RunUsage, task?: string): UsageFigures {
  const id = run.raw.jobId ?? run.id;
  const f: UsageFigures = { ...u, key: id, baseId: id, state: stateWord(run, u), started: u.started ?? true };
  delete (f as { tasks?: unknown }).tasks;
  delete (f as { source?: unknown }).source;
  if (task !== undefined) f.task = task;
  if (f.memoryPeakBytes !== undefined && f.memoryRequestBytes) f.memoryFraction = f.memoryPeakBytes / f.memoryRequestBytes;
  if (f.elapsedSeconds !== undefined && typeof f.timeLimit === 'number' && f.timeLimit > 0) f.timeFraction = f.elapsedSeconds / f.timeLimit;
  return f;
}

/**
 * The advice for a run that ended: from its own figures, and from each array task's (one item
 * per option, the job's own first). `outputTail` is the end of its stderr (an oom kill shows
 * there). Nothing while the run has not ended or has no figures.
 */
export function runAdvice(run: Run, outputTail?: string): UsageAdvice[] {
  if (!isFinal(run.state)) return [];
  const u = run.raw.usage;
  const ctx = { outputTail, sbatchOptions: run.request.sbatchList };
  const all: UsageAdvice[] = [];
  if (u) {
    all.push(...adviseUsage(usageAsFigures(run, u), ctx));
    for (const t of u.tasks ?? []) all.push(...adviseUsage(usageAsFigures(run, t, t.task), ctx));
  }
  const seen = new Set<string>();
  return all.filter((a) => {
    const name = a.option.split('=')[0];
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

function percent(f: number): string {
  return `${Math.round(f * 100)}%`;
}

/** The three bars, from the stored figures; a bar whose figures are unknown says so in words. */
export function usageBars(u: RunUsage | undefined): UsageBar[] {
  if (!u) return [];
  if (u.started === false) return [{ name: 'CPU', text: 'did not start: no usage figures' }];
  const bars: UsageBar[] = [];
  if (u.cpuEfficiency !== undefined) {
    const cpus = u.allocCpus !== undefined ? ` of ${u.allocCpus} CPU${u.allocCpus === 1 ? '' : 's'}` : '';
    const time = u.cpuSeconds !== undefined ? ` (CPU time ${formatDuration(u.cpuSeconds)})` : '';
    bars.push({ name: 'CPU', fraction: u.cpuEfficiency, text: `${percent(u.cpuEfficiency)} efficiency${cpus}${time}` });
  } else if (u.cpuSeconds !== undefined) {
    bars.push({ name: 'CPU', text: `CPU time ${formatDuration(u.cpuSeconds)} (no CPU count asked: no efficiency)` });
  } else {
    bars.push({ name: 'CPU', text: 'unknown' });
  }
  const peak = u.memoryPeakBytes;
  const req = u.memoryRequestBytes;
  if (peak !== undefined && req) {
    bars.push({ name: 'Memory', fraction: peak / req, text: `peak ${formatBytes(peak)} of ${formatBytes(req)} asked (${percent(peak / req)})` });
  } else if (peak !== undefined) {
    bars.push({ name: 'Memory', text: `peak ${formatBytes(peak)} (no request to compare with)` });
  } else {
    bars.push({ name: 'Memory', text: req ? `peak unknown of ${formatBytes(req)} asked` : 'unknown' });
  }
  const el = u.elapsedSeconds;
  if (el !== undefined && typeof u.timeLimit === 'number' && u.timeLimit > 0) {
    bars.push({ name: 'Time', fraction: el / u.timeLimit, text: `${formatDuration(el)} of ${formatDuration(u.timeLimit)} limit (${percent(el / u.timeLimit)})` });
  } else if (el !== undefined) {
    bars.push({ name: 'Time', text: `${formatDuration(el)}${u.timeLimit === 'unlimited' ? ' (no limit)' : ''}` });
  } else {
    bars.push({ name: 'Time', text: 'unknown' });
  }
  return bars;
}

function when(ms: number | undefined, iso: string | undefined): string | undefined {
  const t = ms ?? (iso ? Date.parse(iso) : undefined);
  return t !== undefined && Number.isFinite(t) ? new Date(t).toLocaleString() : undefined;
}

/** Submitted, started, ended, time waited, time run: each only when known. */
export function runTimeline(run: Run): TimelineEntry[] {
  const u = run.raw.usage;
  const out: TimelineEntry[] = [];
  const add = (label: TimelineEntry['label'], text: string | undefined): void => {
    if (text) out.push({ label, text });
  };
  add('Submitted', when(u?.submittedAt, run.submittedAt ?? run.createdAt));
  add('Started', when(u?.startedAt, undefined));
  add('Ended', when(u?.endedAt, run.endedAt));
  if (u?.waitSeconds !== undefined) add('Waited', formatDuration(u.waitSeconds));
  if (u?.elapsedSeconds !== undefined) add('Ran for', formatDuration(u.elapsedSeconds));
  return out;
}

const STATE_TEXT: Record<Run['state'], string> = {
  submitting: 'submitting',
  waiting: 'waiting',
  ok: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  unknown: 'unknown',
};

/** The summary of `run`; `outputTail` (its stderr's end, when read) feeds the oom check. */
export function runSummaryModel(run: Run, outputTail?: string): RunSummaryModel {
  const r = run.request;
  const asked: Array<[string, string]> = [
    ['Profile', `${run.profile} (${run.backend})`],
    ['Software', run.software],
    ['Command', r.cmd || '(none)'],
  ];
  if (r.cmdOption) asked.push(['Container options', r.cmdOption]);
  asked.push(['Files', r.files.length ? r.files.join(', ') : '(none)']);
  asked.push(['Slurm options', r.sbatchList.length ? r.sbatchList.join(' ') : '(none)']);
  asked.push(['Modules', r.moduleList.length ? r.moduleList.join(' ') : '(none)']);
  if (run.key) asked.push(['Key', run.key]);
  if (run.rerunOf) asked.push(['Rerun of', run.rerunOf]);

  const slurm = run.raw.usage?.state ?? run.raw.slurmState;
  let stateText = STATE_TEXT[run.state] + (slurm && slurm.toUpperCase() !== 'COMPLETED' ? ` (${slurm})` : '');
  stateText = runWaitText(run, Date.now()) ?? stateText;

  const exit: Array<[string, string]> = [['State', stateText]];
  if (run.raw.exitCode !== undefined) exit.push(['Exit code', String(run.raw.exitCode)]);
  if (run.raw.signal) exit.push(['Signal', run.raw.signal]);
  if (run.raw.jobId) exit.push(['Slurm job', run.raw.jobId]);
  const node = run.raw.usage?.nodeList ?? run.raw.node;
  if (node) exit.push(['Node', node]);
  if (run.raw.message) exit.push(['Message', run.raw.message]);
  if (run.lastError) exit.push(['Last error', run.lastError]);

  const u = run.raw.usage;
  const taskLines = (u?.tasks ?? []).map((t) => `task ${t.task}: ${t.state ? `${t.state} · ` : ''}${usageLine(t) || 'no figures'}`);
  return {
    runId: run.id,
    title: runLabel(run),
    stateText,
    state: run.state,
    ended: isFinal(run.state),
    asked,
    timeline: runTimeline(run),
    bars: usageBars(u),
    usageLine: u ? usageLine(u) : '',
    taskLines,
    exit,
    advice: runAdvice(run, outputTail),
    notProvided: u ? undefined : NOT_PROVIDED[run.backend],
    canOpenResults: run.state === 'ok' && !!run.key,
  };
}
