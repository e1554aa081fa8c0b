import type * as vscode from 'vscode';
import { cancelledError } from '../../core/errors';
import type { Run } from '../../core/model';
import { ask } from '../prompts';
import { advicePicks, applyPicked, joinOptions, splitSbatchOptions, splitWords } from '../rerunChanges';
import { readStderrTail } from '../runSummary';
import { runAdvice } from '../runSummaryModel';
import { runLabel } from '../runTreeModel';
import type { Services } from '../services';
import { command } from './register';
import { prepareRerun, submitWithProgress } from './runCommands';
import { runFromArgs } from './runArgs';

/**
 * Rerun with Changes: the stored request (files found again in the workspace folder), the
 * advice of the last run offered first (one pick each, applied with `applyAdvice`), then the
 * command, Slurm options and modules prefilled in the usual input boxes. The new run records
 * which run it reruns.
 */
async function rerunWithChanges(s: Services, run: Run): Promise<Run | undefined> {
  const { profile, renewal, request } = await prepareRerun(s, run);
  const label = runLabel(run);
  const title = `Muse: rerun ${label} with changes`;

  let sbatch = request.sbatchList ?? [];
  const tail = run.state === 'failed' ? await readStderrTail(s.backends, run, s.log('summary')) : undefined;
  const advice = runAdvice(run, tail);
  if (advice.length > 0) {
    const picks = advicePicks(advice);
    const picked = await ask({
      kind: 'pick',
      id: 'rerun.advice',
      title,
      placeHolder: 'Advice from the last run (the Slurm options come next, to edit)',
      items: picks.map((p) => ({ label: p.label, detail: p.detail })),
    });
    if (picked === undefined) throw cancelledError('Rerun');
    sbatch = applyPicked(sbatch, picks.find((p) => p.label === picked));
  }

  const cmd = await ask({ kind: 'input', id: 'rerun.cmd', title, prompt: 'Command run in the run folder (inside the container)', value: request.cmd });
  if (cmd === undefined) throw cancelledError('Rerun');
  const sbatchText = await ask({ kind: 'input', id: 'rerun.sbatch', title, prompt: 'Slurm options (sbatch), separated by spaces; empty for none', value: joinOptions(sbatch) });
  if (sbatchText === undefined) throw cancelledError('Rerun');
  const modulesText = await ask({ kind: 'input', id: 'rerun.modules', title, prompt: 'Modules to load, separated by spaces; empty for none', value: joinOptions(request.moduleList ?? []) });
  if (modulesText === undefined) throw cancelledError('Rerun');

  request.cmd = cmd;
  request.sbatchList = splitSbatchOptions(sbatchText);
  request.moduleList = splitWords(modulesText);
  const backend = await s.backends.get(profile);
  return submitWithProgress(s, profile, backend, request, run.label ?? run.software, `${request.files?.length ?? 0} file(s)`, renewal, run.id);
}

/** Rerun with Changes... (tree, palette, the summary's button); plain Rerun stays in runCommands. */
export function registerRerunCommands(s: Services): vscode.Disposable[] {
  return [
    command(s, 'muse.rerunWithChanges', async (arg?: unknown) => {
      const r = await runFromArgs(s, arg, { placeHolder: 'Run to submit again, with changes' });
      return r ? rerunWithChanges(s, r) : undefined;
    }),
  ];
}
