/**
 * What the Runs tree shows, as plain data: labels, descriptions, icons, tooltips and the composed
 * `contextValue`s the menus match. No vscode import, so it is unit-tested without VS Code.
 */
import { isFinal } from '../core/model';
import type { Run, RunState } from '../core/model';
import type { Profile } from '../core/profiles';
import { usageLine } from '../core/usage/usageText';
import { waitText } from '../core/usage/waitReason';

/** What a run's backend can do, as far as the tree's menus care. */
export interface RunAbilities {
  cancel: boolean;
  /** The backend can serve stdout/stderr (`Backend.output`). */
  output: boolean;
}

/**
 * `run;<state>` followed by the abilities the item offers, each as `;name`, so that menus
 * match them with `viewItem =~ /;cancellable/`. Order is fixed: keyed, cancellable, results,
 * output, content, removable.
 */
export function runContextValue(run: Run, can: RunAbilities): string {
  const parts = ['run', run.state];
  const keyed = !!run.key;
  if (keyed) parts.push('keyed');
  if (keyed && can.cancel && !isFinal(run.state) && run.state !== 'unknown') parts.push('cancellable');
  if (keyed && run.state === 'ok') parts.push('results');
  if (keyed && can.output && run.state !== 'submitting') parts.push('output');
  if (keyed) parts.push('content');
  if (run.state !== 'submitting') parts.push('removable');
  return parts.join(';');
}

/** `profile;<kind>;signedIn|signedOut|ready`. */
export function profileContextValue(profile: Profile, signedIn: boolean | undefined, needsSignIn = false): string {
  const auth = profile.kind === 'ws' ? (signedIn ? 'signedIn' : 'signedOut') : needsSignIn ? 'needsSignIn' : 'ready';
  return `profile;${profile.kind};${auth}`;
}

/** The script (or first file) the run was made from, for its label. */
export function runScriptName(run: Run): string | undefined {
  if (run.label) return run.label;
  const first = run.request.files[0];
  if (first) return first.split('/').pop();
  return undefined;
}

/** `sw_example · add.py` */
export function runLabel(run: Run): string {
  const script = runScriptName(run);
  return script ? `${run.software} · ${script}` : run.software;
}

const STATE_TEXT: Record<RunState, string> = {
  submitting: 'submitting',
  waiting: 'waiting',
  ok: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  unknown: 'unknown',
};

/** A short duration: `42s`, `3m 05s`, `2h 07m`, `3d 4h`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Time the run has taken so far (or took), from submission (or creation) to its end (or now). */
export function runElapsedMs(run: Run, nowMs: number): number {
  const start = Date.parse(run.submittedAt ?? run.createdAt);
  const end = run.endedAt ? Date.parse(run.endedAt) : isFinal(run.state) ? Date.parse(run.updatedAt) : nowMs;
  return Number.isFinite(start) && Number.isFinite(end) ? end - start : 0;
}

/** `waiting · Priority · starts ~14:20` for a run whose wait Slurm explained, else undefined. */
export function runWaitText(run: Run, nowMs: number): string | undefined {
  if (run.state !== 'waiting' || !run.raw.wait) return undefined;
  const id = run.raw.jobId ?? '';
  return waitText({ jobId: id, baseId: id, ...run.raw.wait }, nowMs);
}

/** The short form of a run id, as a rerun names the run it reruns (`rerun of 3f2a1b2c`). */
export function shortRunId(id: string): string {
  return id.slice(0, 8);
}

/**
 * `waiting · RUNNING · 1m 05s · job 2459394`; a pending run says why it waits
 * (`waiting · Priority · starts ~14:20 · ...`); a rerun ends with `rerun of 3f2a1b2c`.
 */
export function runDescription(run: Run, nowMs: number): string {
  const parts: string[] = [];
  const slurm = run.raw.slurmState;
  const waiting = runWaitText(run, nowMs);
  if (waiting) parts.push(waiting);
  else {
    parts.push(STATE_TEXT[run.state]);
    if (slurm && !isFinal(run.state)) parts.push(slurm);
  }
  if (run.state !== 'submitting') parts.push(formatElapsed(runElapsedMs(run, nowMs)));
  if (run.raw.jobId) parts.push(`job ${run.raw.jobId}`);
  if (run.rerunOf) parts.push(`rerun of ${shortRunId(run.rerunOf)}`);
  return parts.join(' · ');
}

/** A codicon id and, for final states, the theme colour to paint it with. */
export function runIcon(state: RunState): { id: string; color?: string } {
  switch (state) {
    case 'submitting':
      return { id: 'cloud-upload' };
    case 'waiting':
      return { id: 'loading~spin' };
    case 'ok':
      return { id: 'pass', color: 'testing.iconPassed' };
    case 'failed':
      return { id: 'error', color: 'testing.iconFailed' };
    case 'cancelled':
      return { id: 'circle-slash', color: 'disabledForeground' };
    default:
      return { id: 'question', color: 'list.warningForeground' };
  }
}

/** Escapes text for Markdown (tooltips show server text: no links or markup from it). */
export function mdEscape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

/** The tooltip: facts in a table, the last error, and the state report as JSON. */
export function runTooltipMarkdown(run: Run, nowMs: number): string {
  const rows: [string, string | undefined][] = [
    ['State', `${STATE_TEXT[run.state]}${run.raw.slurmState ? ` (${run.raw.slurmState})` : ''}`],
    ['Profile', `${run.profile} (${run.backend})`],
    ['Software', run.software],
    ['Command', run.request.cmd || undefined],
    ['Key', run.key],
    ['Slurm job', run.raw.jobId],
    ['Node', run.raw.node],
    ['Exit code', run.raw.exitCode !== undefined ? String(run.raw.exitCode) : undefined],
    ['Elapsed', formatElapsed(runElapsedMs(run, nowMs))],
    ['Usage', run.raw.usage ? usageLine(run.raw.usage) || undefined : undefined],
    ['Waiting', runWaitText(run, nowMs)],
    ['Rerun of', run.rerunOf],
    ['Files', run.request.files.length ? run.request.files.join(', ') : undefined],
    ['Submitted', run.submittedAt],
    ['Ended', run.endedAt],
  ];
  const lines = [`**${mdEscape(runLabel(run))}**`, '', '| | |', '|---|---|'];
  for (const [k, v] of rows) if (v) lines.push(`| ${k} | ${mdEscape(v)} |`);
  if (run.noContainer) lines.push('', '_Ran without a container._');
  if (run.raw.reason) lines.push('', `Pending reason: ${mdEscape(run.raw.reason)}`);
  if (run.raw.message) lines.push('', mdEscape(run.raw.message));
  if (run.lastError) lines.push('', `$(warning) ${mdEscape(run.lastError)}`);
  return lines.join('\n');
}

/** Runs grouped by profile, in the order of `profileNames` first, then any other profile seen. */
export function groupRunsByProfile(runs: Run[], profileNames: string[]): { profile: string; runs: Run[] }[] {
  const groups = new Map<string, Run[]>();
  for (const name of profileNames) groups.set(name, []);
  for (const r of runs) {
    const g = groups.get(r.profile);
    if (g) g.push(r);
    else groups.set(r.profile, [r]);
  }
  return [...groups].filter(([, rs]) => rs.length > 0).map(([profile, rs]) => ({ profile, runs: rs }));
}

/** Runs not ended yet (the badge and the status bar count them). */
export function countActive(runs: readonly Run[]): number {
  return runs.filter((r) => !isFinal(r.state) && r.state !== 'unknown').length;
}
