/**
 * `muse rerun KEY`: sends a stored run's request again, with changes (command, Slurm options,
 * modules) and, with --apply-advice, the advice of its usage applied; the new run records which
 * run it reruns.
 */
import type { Command } from 'commander';
import { MuseError } from '../core/errors';
import { isFinal } from '../core/model';
import type { Run, SubmitRequest } from '../core/model';
import { refreshRuns } from '../core/runs';
import { rerunRequest } from '../core/rerunRequest';
import { applyAdvice } from '../core/usage/applyAdvice';
import type { UsageAdvice } from '../core/usage/usageAdvice';
import type { CliContext } from './context';
import { runAndBackend } from './resultCommands';
import { sendRun } from './submitCommand';
import { adviceFor } from './usageLines';

export interface RerunOptions {
  cmd?: string;
  sbatch: string[];
  module: string[];
  applyAdvice?: boolean;
  from?: string;
  label?: string;
  wait?: boolean;
  output?: string;
}

/** `options` with `item` in place of the options that say the same thing (`--mem` replaces `--mem-per-cpu` too). */
function replaceOption(options: readonly string[], item: string): string[] {
  try {
    return applyAdvice(options, { option: item });
  } catch {
    throw new MuseError('usage', `--sbatch ${item}: not a Slurm option (write it as --sbatch --mem=6G or --sbatch mem=6G).`);
  }
}

/**
 * The request of a rerun: the stored one (its files found again under `root`), then the
 * changes: `--cmd` replaces the command, each `--sbatch` replaces the options of its name,
 * `--module` replaces the module list, and each advice item replaces the option it names.
 */
export async function changedRequest(run: Pick<Run, 'software' | 'request'>, root: string, o: RerunOptions, advice: readonly UsageAdvice[] = []): Promise<SubmitRequest> {
  const req = await rerunRequest(run, root);
  if (o.cmd !== undefined) req.cmd = o.cmd;
  let sbatch = [...(req.sbatchList ?? [])];
  for (const item of o.sbatch) sbatch = replaceOption(sbatch, item);
  for (const a of advice) sbatch = applyAdvice(sbatch, a);
  req.sbatchList = sbatch;
  if (o.module.length > 0) req.moduleList = [...o.module];
  return req;
}

const RERUN_HELP = `
The stored request is sent again: the same software, command, files (found again under the
current folder, or --from DIR, by their names in the run folder), Slurm options and modules,
with the changes given. --sbatch replaces the options that say the same thing (--mem=6G
replaces --mem=4G and --mem-per-cpu=...; --time=30 replaces -t 10). --apply-advice applies
what "muse state KEY" advises (more memory after an out-of-memory kill, more time after a
TIMEOUT, less memory or fewer CPUs when most went unused).

  muse rerun 3f2a --apply-advice --wait
  muse rerun 3f2a --sbatch --mem=8G --cmd "python fit.py --iters 500"
`;

export function registerRerunCommand(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  const collect = (v: string, prev: string[]): string[] => [...prev, v];
  program
    .command('rerun')
    .description('submit a stored run again, with changes (command, Slurm options, modules) or its advice applied')
    .argument('<key>', 'run id, backend key, or a unique prefix')
    .option('--cmd <command>', 'a new command in place of the stored one')
    .option('--sbatch <option>', 'Slurm option replacing the stored options of that name (e.g. --sbatch --mem=8G); repeatable', collect, [])
    .option('--module <name>', 'environment module, in place of the stored list; repeatable', collect, [])
    .option('--apply-advice', 'apply the advice of the run\'s usage (see "muse state KEY")')
    .option('--from <dir>', 'folder where the run\'s files are found again (default: the current folder)')
    .option('--label <text>', 'a label shown in "muse runs"')
    .option('--wait', 'wait for the new run to end, then fetch its results')
    .option('-o, --output <path>', 'with --wait: where result files go (file or folder; default: the current folder)')
    .addHelpText('after', RERUN_HELP)
    .action(async (key: string, o: RerunOptions, cmd: Command) => {
      const ctx = ctxOf(cmd);
      let { run, backend } = await runAndBackend(ctx, key);
      let advice: UsageAdvice[] = [];
      if (o.applyAdvice) {
        if (!isFinal(run.state) && run.key) [run] = await refreshRuns(backend, await ctx.store(), [run], { signal: ctx.signal });
        if (!isFinal(run.state)) throw new MuseError('usage', `The run ${key} has not ended (${run.state}): its advice comes once it ends.`);
        advice = await adviceFor(backend, run, ctx.signal);
        if (advice.length === 0) ctx.info('No advice for this run (its figures are fine, or unknown): the request is sent with the other changes only.');
        for (const a of advice) ctx.info(`Applying: ${a.option} (${a.text})`);
      }
      const request = await changedRequest(run, ctx.resolvePath(o.from ?? '.'), o, advice);
      await sendRun(ctx, ctx.profileForRun(run), request, { label: o.label ?? run.label, wait: o.wait, output: o.output, rerunOf: run.id });
    });
}
