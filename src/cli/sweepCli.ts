/**
 * The CLI's sweeps: `muse submit --param/--param-file [--zip] [--throttle]` sends one,
 * `muse runs` shows each as one row with its counts, `muse cancel SWEEP` cancels it.
 */
import { MuseError, isMuseError } from '../core/errors';
import { selectFiles } from '../core/fileSelection';
import type { Run, SubmitRequest } from '../core/model';
import type { Profile } from '../core/profiles';
import { submitSweep } from '../core/sweep/submitSweep';
import { cancelSweep, findSweep, groupSweeps, sweepCountsText } from '../core/sweep/sweepGroups';
import type { SweepGroup } from '../core/sweep/sweepGroups';
import { expandSweep, parseValues } from '../core/sweep/sweepSpec';
import type { SweepParam, SweepSpec } from '../core/sweep/sweepSpec';
import type { CliContext } from './context';

/** The sweep options of `muse submit`. */
export interface SweepOptions {
  param: string[];
  paramFile: string[];
  zip?: boolean;
  throttle?: string;
}

/** True when `muse submit` was asked for a sweep. */
export function isSweep(o: SweepOptions): boolean {
  return o.param.length > 0 || o.paramFile.length > 0;
}

/** `name=values` split at the first `=`. */
function nameAndValue(opt: string, text: string): [string, string] {
  const i = text.indexOf('=');
  const name = i > 0 ? text.slice(0, i).trim() : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new MuseError('usage', `${opt} ${text}: write ${opt} NAME=VALUES (NAME as in the command's {NAME}).`);
  }
  return [name, text.slice(i + 1)];
}

/**
 * The sweep spec from the options, and the request with the files the `--param-file` globs
 * matched added to it (each file is sent; its value is its name in the run folder).
 */
export async function sweepOfOptions(ctx: Pick<CliContext, 'resolvePath'>, profile: Profile, request: SubmitRequest, o: SweepOptions): Promise<{ spec: SweepSpec; request: SubmitRequest; throttle?: number }> {
  const params: SweepParam[] = o.param.map((p) => {
    const [name, text] = nameAndValue('--param', p);
    return { name, values: parseValues(text) };
  });
  const files = [...(request.files ?? [])];
  for (const p of o.paramFile) {
    const [name, glob] = nameAndValue('--param-file', p);
    const { files: found } = await selectFiles({ root: ctx.resolvePath('.'), scripts: [], include: [glob], exclude: profile.exclude ?? [], flatten: profile.kind === 'ws' });
    if (found.length === 0) throw new MuseError('usage', `--param-file ${p}: no file under the current folder matches ${glob}.`);
    for (const f of found) if (!files.some((x) => x.name === f.name)) files.push(f);
    params.push({ name, values: found.map((f) => f.name) });
  }
  let throttle: number | undefined;
  if (o.throttle !== undefined) {
    throttle = Number(o.throttle);
    if (!Number.isInteger(throttle) || throttle < 1) throw new MuseError('usage', `--throttle must be a whole number of tasks, 1 or more (got "${o.throttle}").`);
  }
  return { spec: { template: request.cmd, params, combine: o.zip ? 'zip' : 'product' }, request: { ...request, files }, throttle };
}

/** Sends a sweep: prints its id at once (stdout), its task count and first commands (stderr). */
export async function sendSweep(ctx: CliContext, profile: Profile, request: SubmitRequest, o: SweepOptions & { label?: string; wait?: boolean }): Promise<Run[]> {
  if (o.wait) throw new MuseError('usage', '--wait follows one run: follow a sweep with "muse runs" (its row shows its counts).');
  const sweep = await sweepOfOptions(ctx, profile, request, o);
  const tasks = expandSweep(sweep.spec);
  ctx.info(`${tasks.length} task(s)${sweep.throttle ? `, at most ${sweep.throttle} at once` : ''}; the first commands:\n  ${tasks.slice(0, 3).map((t) => t.command).join('\n  ')}${tasks.length > 3 ? '\n  ...' : ''}`);
  const op = ctx.op();
  let runs: Run[];
  try {
    runs = await submitSweep(
      {
        backend: ctx.backend(profile),
        store: await ctx.store(),
        profile,
        request: sweep.request,
        spec: sweep.spec,
        throttle: sweep.throttle,
        label: o.label,
        onRecorded: (r) => {
          ctx.interruptNote = `The sweep was already being sent: its tasks sent so far are listed by "muse runs" (sweep ${r[0]?.sweep?.id.slice(0, 8)}).`;
        },
      },
      op,
    );
  } finally {
    op.end();
  }
  ctx.interruptNote = undefined;
  const id = runs[0].sweep!.id;
  ctx.out(id);
  const jobs = new Set(runs.map((r) => r.raw.jobId?.split('_')[0]).filter(Boolean));
  ctx.info(`Submitted sweep ${id.slice(0, 8)} on "${profile.name}": ${runs.length} task(s)${profile.kind === 'ssh' && jobs.size === 1 ? ` as Slurm job array ${[...jobs][0]}` : ''}. Follow it with: muse runs`);
  ctx.json({ sweep: { id, count: runs.length, throttle: sweep.throttle }, runs });
  return runs;
}

/** A row of `muse runs`: a run, or a sweep standing for its tasks. */
export type RunsEntry = { kind: 'run'; run: Run } | { kind: 'sweep'; group: SweepGroup };

/** The runs with each sweep's tasks gathered into one entry, newest first. */
export function runsEntries(runs: readonly Run[]): RunsEntry[] {
  const entries: RunsEntry[] = runs.filter((r) => !r.sweep).map((run) => ({ kind: 'run', run }));
  for (const group of groupSweeps(runs)) entries.push({ kind: 'sweep', group });
  const at = (e: RunsEntry) => (e.kind === 'run' ? e.run.createdAt : e.group.createdAt);
  return entries.sort((a, b) => (at(a) < at(b) ? 1 : at(a) > at(b) ? -1 : 0));
}

/** The cells of a sweep's row, and (with `tasks`) of its tasks' rows, in `muse runs`'s columns. */
export function sweepRows(g: SweepGroup, tasks: boolean): string[][] {
  const rows = [[g.id.slice(0, 8), sweepCountsText(g.counts), g.profile, g.tasks[0]?.software ?? '', g.createdAt.replace('T', ' ').slice(0, 19), `sweep of ${g.count}: ${g.label}`]];
  if (tasks) {
    for (const t of g.tasks) {
      const params = Object.entries(t.sweep!.params).map(([k, v]) => `${k}=${v}`).join(' ');
      rows.push([`  ${t.id.slice(0, 8)}`, t.state, t.profile, t.software, t.createdAt.replace('T', ' ').slice(0, 19), `  #${t.sweep!.index} ${params}`]);
    }
  }
  return rows;
}

/**
 * The sweep `key` names (its id or a unique prefix), for when no single run does. Throws the
 * run lookup's error when no sweep fits either.
 */
export function sweepForKey(runs: readonly Run[], key: string, runLookupError: unknown): SweepGroup {
  try {
    return findSweep(groupSweeps(runs), key);
  } catch (e) {
    if (isMuseError(e, 'notFound')) throw runLookupError;
    throw e;
  }
}

/** `muse cancel SWEEP`: one scancel of the array over SSH, else each task not ended. */
export async function cancelSweepCommand(ctx: CliContext, group: SweepGroup): Promise<void> {
  const profile = ctx.profileForRun(group.tasks[0]);
  const n = await cancelSweep(ctx.backend(profile), await ctx.store(), group, { signal: ctx.signal });
  ctx.info(n === 0 ? `Every task of sweep ${group.id.slice(0, 8)} has ended: nothing to cancel.` : `Cancel asked for ${n} task(s) of sweep ${group.id.slice(0, 8)}.`);
  ctx.json({ sweep: group.id, cancelled: n });
}
