/** `muse submit`: send a run, print its key at once, and with --wait follow it to its results. */
import type { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import type { Backend } from '../core/backend';
import { MuseError, errorMessage, isMuseError } from '../core/errors';
import { RETURNED_TYPES, isFinal } from '../core/model';
import type { ReturnedType, Run, SubmitRequest } from '../core/model';
import { readRunTail } from '../core/outputTail';
import type { Profile } from '../core/profiles';
import { selectFiles } from '../core/fileSelection';
import { applyStates, isClearRefusal, runRef, submitErrorText, submitRun } from '../core/runs';
import type { CliContext } from './context';
import { endedNotOkText, fetchResults, shortKey } from './resultCommands';
import { sleep } from './terminal';
import { isSweep, sendSweep } from './sweepCli';
import type { SweepOptions } from './sweepCli';

export interface SubmitOptions extends Partial<SweepOptions> {
  cmd?: string;
  file: string[];
  include?: string[];
  exclude?: string[];
  filesOrder?: string;
  cmdOption?: string;
  returnedType?: string;
  todownload?: boolean;
  sbatch: string[];
  module: string[];
  label?: string;
  wait?: boolean;
  output?: string;
}

/**
 * Builds the request from the command line (and the profile's defaults); usage errors for bad
 * input. The files: each `--file` (a file keeps its base name; a folder sends its files, named
 * from the folder's base name), then what the profile's and the command line's include globs
 * choose under the current folder, as the extension selects them (`.gitignore` honoured).
 */
export async function buildRequest(ctx: Pick<CliContext, 'resolvePath'>, profile: Profile, software: string | undefined, o: SubmitOptions): Promise<SubmitRequest> {
  const sw = software ?? profile.defaultSoftware;
  if (!sw) throw new MuseError('usage', 'Which software? Give it as the first argument (see "muse software").');
  if (o.cmd === undefined) throw new MuseError('usage', 'Give the command to run with --cmd (for instance --cmd "python /add.py 4 5").');
  const scripts: string[] = [];
  const folders: string[] = [];
  const names = new Set<string>();
  for (const f of o.file) {
    const abs = ctx.resolvePath(f);
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(abs);
    } catch {
      throw new MuseError('usage', `--file ${f}: no such file.`);
    }
    if (st.isDirectory()) {
      folders.push(abs);
      continue;
    }
    if (!st.isFile()) throw new MuseError('usage', `--file ${f}: not a regular file or a folder.`);
    const name = path.basename(abs);
    if (names.has(name)) throw new MuseError('usage', `--file: two files are named "${name}"; the run folder holds one file per name.`);
    names.add(name);
    scripts.push(abs);
  }
  const { files } = await selectFiles({
    root: ctx.resolvePath('.'),
    scripts,
    scriptsByBaseName: true,
    folders,
    include: [...(profile.include ?? []), ...(o.include ?? [])],
    exclude: [...(profile.exclude ?? []), ...(o.exclude ?? [])],
  });
  const sent = files.map((f) => f.name);
  let filesOrder: string[] | undefined;
  if (o.filesOrder !== undefined) {
    filesOrder = o.filesOrder.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of filesOrder) if (!sent.includes(n)) throw new MuseError('usage', `--files-order names "${n}", which is not one of the files sent (${sent.join(', ') || 'none'}).`);
  }
  let returnedType: ReturnedType | undefined = profile.returnedType;
  if (o.returnedType !== undefined) {
    if (!RETURNED_TYPES.includes(o.returnedType as ReturnedType)) {
      throw new MuseError('usage', `--returned-type must be one of ${RETURNED_TYPES.join(', ')} (got "${o.returnedType}").`);
    }
    returnedType = o.returnedType as ReturnedType;
  }
  if (o.todownload && (returnedType ?? 'stdout') === 'stdout') {
    throw new MuseError('usage', '--todownload works with --returned-type stdout.txt or run.zip only.');
  }
  const req: SubmitRequest = { software: sw, cmd: o.cmd, files };
  if (o.cmdOption !== undefined) req.cmdOption = o.cmdOption;
  if (filesOrder) req.filesOrder = filesOrder;
  if (returnedType) req.returnedType = returnedType;
  if (o.todownload) req.toDownload = true;
  const sbatch = o.sbatch.length > 0 ? o.sbatch : profile.sbatchList;
  const modules = o.module.length > 0 ? o.module : profile.moduleList;
  if (sbatch?.length) req.sbatchList = sbatch;
  if (modules?.length) req.moduleList = modules;
  return req;
}

/** Transient errors the wait loop rides out (a few times in a row) instead of giving up. */
function isTransient(e: unknown): boolean {
  return isMuseError(e, 'network') || isMuseError(e, 'malformed') || (isMuseError(e, 'server') && (e.details.status ?? 500) >= 500);
}

/** Polls the run with a backoff until it ends. Ctrl-C stops the waiting, not the run. */
export async function waitForEnd(ctx: CliContext, backend: Backend, run: Run): Promise<Run> {
  const store = await ctx.store();
  let delay = backend.kind === 'local' ? 200 : 1000;
  const maxDelay = backend.kind === 'local' ? 2000 : 15000;
  let errorsInARow = 0;
  let lastState = run.state;
  for (;;) {
    let answer: Error | undefined;
    try {
      const answers = await backend.states([runRef(run)], { signal: ctx.signal });
      [run] = await applyStates(store, [run], answers);
      const a = answers.get(run.id);
      if (a instanceof Error) answer = a;
    } catch (e) {
      answer = e as Error;
    }
    if (answer) {
      if (isMuseError(answer, 'cancelled') || !isTransient(answer) || ++errorsInARow >= 6) throw answer;
      ctx.info(`(still waiting: ${errorMessage(answer)})`);
    } else {
      errorsInARow = 0;
    }
    if (isFinal(run.state)) return run;
    if (run.state !== lastState) {
      ctx.info(`${run.key}: ${run.state}${run.raw.slurmState ? ` (${run.raw.slurmState})` : ''}`);
      lastState = run.state;
    }
    await sleep(delay, ctx.signal);
    delay = Math.min(maxDelay, Math.round(delay * 1.5));
  }
}

/** Bytes read from the end of a failed run's stderr for the hint: far more than its last lines need. */
const STDERR_HINT_BYTES = 64 * 1024;

/** The last lines of a failed run's stderr, as a hint before the error line (best effort). */
async function showStderrTail(ctx: CliContext, backend: Backend, run: Run): Promise<void> {
  if (ctx.globals.quiet) return;
  try {
    const tail = await readRunTail(backend, run, 'stderr', STDERR_HINT_BYTES, { signal: ctx.signal, wholeOutput: true });
    const lines = (tail ?? '').trimEnd().split('\n').slice(-10);
    if (lines.join('').trim()) ctx.info(`stderr of the run (last lines):\n  ${lines.join('\n  ')}`);
  } catch {
    // Only a hint: the error line and "muse content" remain.
  }
}

/** What `sendRun` does beside sending: the label, following the run, where results go, the run it reruns. */
export interface SendOptions {
  label?: string;
  wait?: boolean;
  output?: string;
  rerunOf?: string;
}

/**
 * Submits `request` through `profile` (`muse submit`, `muse rerun`): prints the key at once, and
 * with `wait` follows the run to its end and fetches its results (a run that did not end OK is
 * an error, with the end of its stderr as a hint).
 */
export async function sendRun(ctx: CliContext, profile: Profile, request: SubmitRequest, o: SendOptions): Promise<Run> {
  const backend = ctx.backend(profile);
  const store = await ctx.store();
  const op = ctx.op();
  let run: Run;
  try {
    run = await submitRun(
      {
        backend,
        store,
        profile,
        request,
        label: o.label,
        rerunOf: o.rerunOf,
        onRecorded: (r) => {
          ctx.interruptNote = `The submit was already sent: a run may have been created on the server. It is recorded as ${r.id.slice(0, 8)} in "muse runs".`;
        },
      },
      op,
    );
  } catch (e) {
    op.end();
    // Say here too what the record says: whether the run may exist on the server.
    if (isMuseError(e, 'cancelled') || isClearRefusal(e)) throw e;
    throw new MuseError(isMuseError(e) ? e.code : 'network', submitErrorText(e), isMuseError(e) ? e.details : { cause: e });
  }
  op.end();
  ctx.interruptNote = `The run goes on: follow it with "muse state ${shortKey(run)}".`;
  ctx.out(run.key ?? run.id);
  ctx.info(`Submitted ${run.software} on "${profile.name}": ${run.key}${run.noContainer ? ' (no container image for it: ran the plain command)' : ''}`);
  if (!o.wait) {
    ctx.info(`Follow it with: muse state ${shortKey(run)}`);
    ctx.json({ run });
    return run;
  }
  run = await waitForEnd(ctx, backend, run);
  ctx.interruptNote = undefined;
  if (run.state !== 'ok') {
    ctx.json({ run });
    await showStderrTail(ctx, backend, run);
    throw new MuseError('runFailed', `${endedNotOkText(run)} See its run folder with "muse content ${shortKey(run)}".`);
  }
  await fetchResults(ctx, backend, run, o.output);
  return run;
}

const FILES_HELP = `
Files sent with the run:
  --file FILE     sent under its base name, whatever the globs say.
  --file FOLDER   its files, named FOLDER/sub/path (the web API gets them in one zip that it
                  unpacks in the run folder). .gitignore files are honoured, and the
                  folders .git, .hg, .svn, node_modules, .muse and __pycache__ are never sent.
  --include GLOB  also sends the files under the current folder that match (like the
                  profile's "include", which applies too), with their path relative to it.
  --exclude GLOB  never sends the files of folders and globs that match (with the profile's
                  "exclude"). Globs are relative to the current folder: --include 'data/**/*.csv'.
`;

const SWEEP_HELP = `
A sweep (one run per task; over SSH, one Slurm job array):
  --param a=1,2,5        values of {a} in --cmd: a list, a range 0:1:0.25 (end included),
                         or a JSON list '["x y", "z"]'; each value is passed as ONE argument.
  --param-file f=GLOB    one task per file matching GLOB under the current folder, as {f}
                         (the files are sent with the sweep).
  --zip                  pair the i-th values of each parameter (default: every combination).
  --throttle T           at most T tasks running at once.
  muse submit sw --cmd "python /add.py {a} {b}" --param a=1,2 --param b=10,20,30
`;

export function registerSubmitCommand(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  const collect = (v: string, prev: string[]): string[] => [...prev, v];
  program
    .command('submit')
    .description('submit a run; prints its key at once (--wait: follow it and fetch the results)')
    .argument('[software]', 'software name (see "muse software"); default: the profile\'s defaultSoftware')
    .option('--cmd <command>', 'command run inside the container (quote it)')
    .option('--file <path>', 'input file copied into the run folder (a zip is also unzipped), or a folder: its files, under its name; repeatable', collect, [])
    .option('--include <glob>', 'also send the files under the current folder that match (added to the profile\'s "include"); repeatable', collect, [])
    .option('--exclude <glob>', 'never send the files that match (added to the profile\'s "exclude"); repeatable', collect, [])
    .option('--files-order <a,b>', 'order in which the files are copied (and unzipped)')
    .option('--cmd-option <options>', 'singularity options, e.g. "--bind /data:/data"')
    .option('--returned-type <type>', `what the run returns: ${RETURNED_TYPES.join(', ')} (default stdout)`)
    .option('--todownload', 'keep the results on the server for later (stdout.txt, run.zip): prints a download key')
    .option('--sbatch <option>', 'Slurm option (e.g. --sbatch mail-user=me@x.org); repeatable', collect, [])
    .option('--module <name>', 'environment module to load; repeatable', collect, [])
    .option('--label <text>', 'a label shown in "muse runs"')
    .option('--param <name=values>', 'a sweep: the values of {name} in --cmd (1,2,5 or 0:1:0.25); repeatable', collect, [])
    .option('--param-file <name=glob>', 'a sweep: one task per file matching the glob, as {name}; repeatable', collect, [])
    .option('--zip', 'a sweep: pair the parameters\' values instead of every combination')
    .option('--throttle <n>', 'a sweep: at most n tasks running at once')
    .option('--wait', 'wait for the run to end, then fetch its results')
    .option('-o, --output <path>', 'with --wait: where result files go (file or folder; default: the current folder)')
    .addHelpText('after', FILES_HELP + SWEEP_HELP)
    .action(async (software: string | undefined, o: SubmitOptions, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const profile = ctx.profile();
      const request = await buildRequest(ctx, profile, software, o);
      const sweep = { param: o.param ?? [], paramFile: o.paramFile ?? [], zip: o.zip, throttle: o.throttle };
      if (isSweep(sweep)) await sendSweep(ctx, profile, request, { ...sweep, label: o.label, wait: o.wait });
      else if (o.zip || o.throttle !== undefined) throw new MuseError('usage', '--zip and --throttle apply to a sweep: give its values with --param NAME=VALUES.');
      else await sendRun(ctx, profile, request, o);
    });
}
