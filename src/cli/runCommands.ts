/** `muse runs`, `muse state`, `muse cancel`, `muse remove`: the run list and one run's life. */
import type { Command } from 'commander';
import { can, cannot } from '../core/backend';
import { MuseError, errorMessage, isMuseError } from '../core/errors';
import { isFinal } from '../core/model';
import type { Run } from '../core/model';
import { applyStates, refreshRuns, runRef } from '../core/runs';
import type { CliContext } from './context';
import { showFailure } from './logsCommand';
import { runAndBackend, shortKey } from './resultCommands';
import { adviceFor, usageAndWaitLines } from './usageLines';
import { cancelSweepCommand, runsEntries, sweepForKey, sweepRows } from './sweepCli';

/** The cells of one run's row. */
function runRow(r: Run): string[] {
  return [
    shortKey(r),
    r.state,
    r.profile,
    r.software,
    r.createdAt.replace('T', ' ').slice(0, 19),
    (r.label ?? r.request.cmd.slice(0, 40)) + (r.rerunOf ? ` (rerun of ${r.rerunOf.slice(0, 8)})` : ''),
  ];
}

/**
 * One line per run, for humans; a sweep is one line with its counts (followed by one line per
 * task with `tasks`).
 */
export function formatRunTable(runs: Run[], opts: { tasks?: boolean } = {}): string {
  const rows = runsEntries(runs).flatMap((e) => (e.kind === 'run' ? [runRow(e.run)] : sweepRows(e.group, opts.tasks === true)));
  const head = ['KEY', 'STATE', 'PROFILE', 'SOFTWARE', 'CREATED (UTC)', 'LABEL / CMD'];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** Several lines about one run, for humans. */
export function formatRunDetails(r: Run): string {
  const lines: [string, string | undefined][] = [
    ['key', r.key],
    ['id', r.id],
    ['state', r.state],
    ['profile', `${r.profile} (${r.backend})`],
    ['software', r.software],
    ['command', r.request.cmd],
    ['files', r.request.files.length ? r.request.files.join(', ') : undefined],
    ['returned', `${r.request.returnedType}${r.request.toDownload ? ' (to download)' : ''}`],
    ['label', r.label],
    ['rerun of', r.rerunOf?.slice(0, 8)],
    ['server state', [r.raw.cr, r.raw.latestCr, r.raw.slurmState].filter(Boolean).join(' / ') || undefined],
    ['job', [r.raw.jobId, r.raw.jobName].filter(Boolean).join(' ') || undefined],
    ['exit code', r.raw.exitCode !== undefined ? String(r.raw.exitCode) : undefined],
    ['location', r.location],
    ['download key', r.downloadKey],
    ['created', r.createdAt],
    ['ended', r.endedAt],
    ['last error', r.lastError],
  ];
  return lines.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${(k + ':').padEnd(14)}${v}`).join('\n');
}

/** Refreshes the runs that have not ended, one batched call per profile; problems become warnings. */
async function refreshActive(ctx: CliContext, runs: Run[]): Promise<void> {
  const store = await ctx.store();
  const byProfile = new Map<string, Run[]>();
  for (const r of runs) {
    if (isFinal(r.state) || !r.key) continue;
    byProfile.set(r.profile, [...(byProfile.get(r.profile) ?? []), r]);
  }
  for (const [name, rs] of byProfile) {
    try {
      await refreshRuns(ctx.backend(ctx.profileForRun(rs[0])), store, rs, { signal: ctx.signal });
    } catch (e) {
      ctx.warn(`could not refresh the runs of "${name}": ${errorMessage(e)}`);
    }
  }
}

export function registerRunCommands(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  program
    .command('runs')
    .description('list the runs (newest first; the 20 newest unless --all; a sweep is one row), refreshing those not ended')
    .option('--all', 'list every run, and the tasks of each sweep')
    .option('--no-refresh', 'do not ask the backends for fresh states')
    .action(async (o: { all?: boolean; refresh: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      // The 20 newest rows, a sweep counting as one (with all its tasks).
      const entries = runsEntries(store.list());
      const shown = o.all ? entries : entries.slice(0, 20);
      let runs = shown.flatMap((e) => (e.kind === 'run' ? [e.run] : e.group.tasks));
      if (o.refresh) {
        await refreshActive(ctx, runs);
        const ids = new Set(runs.map((r) => r.id));
        runs = store.list().filter((r) => ids.has(r.id));
      }
      ctx.json(runs);
      if (runs.length === 0) ctx.info('No runs yet. Submit one with: muse submit SOFTWARE --cmd "..."');
      else ctx.out(formatRunTable(runs, { tasks: o.all }));
      const hidden = entries.length - shown.length;
      if (hidden > 0) ctx.info(`(${hidden} older row(s) not shown: muse runs --all)`);
    });

  program
    .command('state')
    .description('ask the backend for the state of a run, and show it: why it waits, what it used against what it asked, advice')
    .argument('<key>', 'run id, backend key, or a unique prefix')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      let { run, backend } = await runAndBackend(ctx, key);
      if (!run.key) {
        ctx.info('This run has no key: the submit did not get an answer.');
      } else {
        const answers = await backend.states([runRef(run)], { signal: ctx.signal });
        const a = answers.get(run.id);
        [run] = await applyStates(store, [run], answers);
        if (a instanceof Error) throw a;
      }
      const advice = await adviceFor(backend, run, ctx.signal);
      ctx.json({ ...run, usage: run.raw.usage, wait: run.raw.wait, advice });
      ctx.out([formatRunDetails(run), ...usageAndWaitLines(run, advice)].join('\n'));
      await showFailure(ctx, backend, run);
    });

  program
    .command('cancel')
    .description('cancel a run that has not ended, or every task of a sweep (where the backend can)')
    .argument('<key>', 'run id, backend key, sweep id, or a unique prefix')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      let found;
      try {
        found = await runAndBackend(ctx, key);
      } catch (e) {
        // Not one run: a sweep's id (or prefix), or the run lookup's own error.
        if (!isMuseError(e, 'notFound') && !isMuseError(e, 'usage')) throw e;
        return cancelSweepCommand(ctx, sweepForKey(store.list(), key, e));
      }
      const { run, backend } = found;
      if (isFinal(run.state)) throw new MuseError('usage', `The run ${run.key ?? run.id} has already ended (${run.state}).`);
      if (!can(backend, 'cancel')) throw cannot(backend.kind, 'cancel', { profile: run.profile });
      if (!run.key) throw new MuseError('usage', 'This run has no key (the submit got no answer): there is nothing to cancel.');
      await backend.cancel(runRef(run), { signal: ctx.signal });
      const [now] = await refreshRuns(backend, store, [run], { signal: ctx.signal }).catch(() => [run]);
      ctx.info(`Cancel asked for ${run.key}; it is now ${now.state}.`);
      ctx.json(now);
    });

  program
    .command('remove')
    .description('forget runs from the list (the runs themselves are left where they are)')
    .argument('<keys...>', 'run ids, backend keys, or unique prefixes')
    .action(async (keys: string[], _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      const runs = keys.map((k) => store.resolve(k));
      await store.remove(runs.map((r) => r.id));
      for (const r of runs) ctx.info(`Removed ${r.key ?? r.id} from the list.`);
      ctx.json({ removed: runs.map((r) => r.id) });
    });
}
