/**
 * The batch script of a run, and the checks of what users put in it (`sbatch_list`,
 * `module_list`, the command). The script is uploaded as a file, never typed into a shell line.
 */
import { MuseError } from '../../errors';
import type { SentScriptRun } from '../../sentScript';
import { shellQuote } from '../../shellQuote';

/** Output file names, as the ws names them in a run folder. */
export const STDOUT_FILE = '__WS__stdout.txt';
export const STDERR_FILE = '__WS__stderr.txt';
/** Per-task output of a job array (`%a` is the task id). */
export const ARRAY_STDOUT_PATTERN = '__WS__stdout_%a.txt';
export const ARRAY_STDERR_PATTERN = '__WS__stderr_%a.txt';
/** The batch script's name in the run folder. */
export const BATCH_FILE = '__MUSE__batch.sh';
/** A sweep's task table in the run folder: line i+1 is task i's command line. */
export const TASKS_FILE = '__MUSE__tasks.txt';

/**
 * The file of one output stream of a run: the single `__WS__stdout.txt`, or, for one task of an
 * array (a sweep's task), that task's `__WS__stdout_<task>.txt`.
 */
export function outputFileName(stream: 'stdout' | 'stderr', task?: number): string {
  if (task === undefined) return stream === 'stdout' ? STDOUT_FILE : STDERR_FILE;
  return `__WS__${stream}_${task}.txt`;
}

/** Options the backend sets itself: a user value would break stdout/stderr, the run folder or the job lookup. */
const RESERVED = new Set(['--job-name', '-J', '--chdir', '-D', '--output', '-o', '--error', '-e', '--wrap', '--parsable', '--open-mode']);

const LONG_EQ = /^(--[A-Za-z][A-Za-z0-9-]*)(?:=(.+))?$/;
const LONG_SP = /^(--[A-Za-z][A-Za-z0-9-]*) (.+)$/;
const SHORT = /^(-[A-Za-z])(?: ?(.+))?$/;
/** Characters that would mean shell syntax in a value; sbatch options never need them. */
const SHELLISH = /[`$;|&<>\\"'(){}\n\r\0]/;

/** A ws-style item without dashes (`mail-user=me@x.org`, `exclusive`): a long option. */
const BARE = /^[a-z][a-z0-9-]*(=.+)?$/;

/**
 * One `sbatch_list` item in the form written to the script: `--opt=value`, `--opt value`,
 * `-X value` as given, and the ws form `opt=value` / `opt` made `--opt=value` / `--opt`.
 */
export function normalizeSbatchOption(item: string): string {
  const s = typeof item === 'string' ? item.trim() : item;
  const withDashes = typeof s === 'string' && BARE.test(s) ? `--${s}` : s;
  validateSbatchOption(withDashes);
  return withDashes;
}

/** The option name of one `sbatch_list` item (`--array`, `-N`), after checking its shape. */
export function validateSbatchOption(item: string): { name: string; value?: string } {
  const bad = (why: string): never => {
    throw new MuseError('usage', `The sbatch option ${JSON.stringify(item)} is refused: ${why}. Write options as --opt=value, --opt value or -X value.`);
  };
  if (typeof item !== 'string' || item.trim() === '') bad('it is empty');
  if (/[\n\r\0]/.test(item)) bad('it contains a line break');
  const s = item.trim();
  if (SHELLISH.test(s)) bad('it contains shell characters (` $ ; | & < > \\ quotes or parentheses)');
  const m = LONG_EQ.exec(s) ?? LONG_SP.exec(s) ?? SHORT.exec(s);
  if (!m) bad('it does not look like an sbatch option');
  const name = m![1];
  const value = m![2];
  if (value !== undefined && /\s/.test(value)) bad('its value contains spaces');
  if (RESERVED.has(name)) bad(`${name} is set by Muse Runner itself (job name, run folder, stdout and stderr files)`);
  return { name, value };
}

/** True when the options ask for a job array (`--array` / `-a`). */
export function isArrayJob(sbatchList: readonly string[]): boolean {
  return sbatchList.some((o) => {
    const n = validateSbatchOption(normalizeSbatchOption(o)).name;
    return n === '--array' || n === '-a';
  });
}

/** Checks one `module_list` entry: a module name such as `python/3.11` or `gcc@12`. */
export function validateModule(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._+/@:-]+$/.test(name) || name.startsWith('-')) {
    throw new MuseError('usage', `The module name ${JSON.stringify(name)} is refused: a module name holds only letters, digits and . _ + / @ : -.`);
  }
  return name;
}

/**
 * Checks a command line given by the user (the run's `cmd` or `cmd_option`). It is the user's
 * own shell line, run as typed inside the job, so quotes and `$()` keep their shell meaning;
 * only what would break the script (line breaks, NUL) is refused.
 */
export function validateCommandLine(what: string, text: string): string {
  if (/[\n\r\0]/.test(text)) {
    throw new MuseError('usage', `The ${what} contains a line break or a NUL byte: write it on one line (use ; or && between commands).`);
  }
  return text.trim();
}

export interface BatchScriptInput {
  jobName: string;
  /** Absolute path of the run folder on the cluster. */
  runDir: string;
  cmd: string;
  cmdOption?: string;
  sbatchList?: readonly string[];
  moduleList?: readonly string[];
  /** Path of the image on the cluster; absent with `noContainer`. */
  image?: string;
  noContainer?: boolean;
  singularityCommand?: string;
  /**
   * Set when `cmd`'s first word names a file sent with the run (`resolveSentScript`): the file
   * is made executable before the command, and run from the run folder in place of `cmd`.
   */
  sentScript?: SentScriptRun;
  /**
   * A sweep as one job array: `--array=<arraySpec>`, each task running line
   * `SLURM_ARRAY_TASK_ID + 1` of `TASKS_FILE` (uploaded with the inputs) in place of `cmd`.
   */
  sweep?: { arraySpec: string };
}

/** Characters an `#SBATCH` line can carry without quoting. */
const SBATCH_SAFE = /^[A-Za-z0-9_@%+=:,./~-]+$/;

/**
 * Builds the batch script text. Throws a `usage` MuseError on bad input: it is what the user
 * typed or configured (exit 2 in the CLI), not a safety refusal of something met on the way.
 */
export function buildBatchScript(input: BatchScriptInput): string {
  const userCmd = validateCommandLine('command', input.cmd ?? '');
  if (!userCmd) throw new MuseError('usage', 'The command to run is empty.');
  const cmd = input.sentScript ? validateCommandLine('command', input.sentScript.command) : userCmd;
  const cmdOption = validateCommandLine('command option', input.cmdOption ?? '');
  const sbatchList = (input.sbatchList ?? []).map(normalizeSbatchOption);
  const names = sbatchList.map((o) => validateSbatchOption(o).name);
  // As on the ws: mail-user alone means mails for every state change.
  if (names.includes('--mail-user') && !names.includes('--mail-type')) sbatchList.push('--mail-type=ALL');
  const modules = (input.moduleList ?? []).map(validateModule);
  if (!SBATCH_SAFE.test(input.jobName)) throw new MuseError('usage', `The job name ${JSON.stringify(input.jobName)} holds characters an #SBATCH line cannot carry.`);
  if (!SBATCH_SAFE.test(input.runDir) || !input.runDir.startsWith('/')) {
    throw new MuseError('usage', `The run folder ${JSON.stringify(input.runDir)} must be an absolute path without spaces, quotes or shell characters (set remoteRoot in the profile).`);
  }
  if (input.sweep && isArrayJob(sbatchList)) {
    throw new MuseError('usage', 'A sweep is submitted as a job array already: remove --array from the sbatch options.');
  }
  if (input.sweep && !/^[0-9,%-]+$/.test(input.sweep.arraySpec)) throw new MuseError('usage', `The array spec ${JSON.stringify(input.sweep.arraySpec)} is not valid.`);
  const array = input.sweep !== undefined || isArrayJob(sbatchList);
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=${input.jobName}`,
    `#SBATCH --chdir=${input.runDir}`,
    `#SBATCH --output=${array ? ARRAY_STDOUT_PATTERN : STDOUT_FILE}`,
    `#SBATCH --error=${array ? ARRAY_STDERR_PATTERN : STDERR_FILE}`,
    ...(input.sweep ? [`#SBATCH --array=${input.sweep.arraySpec}`] : []),
    ...sbatchList.map((o) => `#SBATCH ${o}`),
  ];
  if (modules.length > 0) {
    // `module` is a shell function set up by login scripts, which batch shells may not have read.
    lines.push('type module >/dev/null 2>&1 || . /etc/profile >/dev/null 2>&1');
    for (const m of modules) lines.push(`module load ${shellQuote(m)}`);
  }
  // Outside the container: the run folder is the job's own, whatever the image mounts.
  if (input.sentScript) lines.push(validateCommandLine('setup line', input.sentScript.setup));
  let prefix = '';
  if (!input.noContainer) {
    if (!input.image) throw new MuseError('usage', 'No container image is set for this software: add it to the profile\'s "images", or set "noContainer".');
    const sing = input.singularityCommand?.trim() || 'singularity';
    if (!/^[A-Za-z0-9_./+-]+$/.test(sing)) throw new MuseError('usage', `The singularity command ${JSON.stringify(sing)} must be a program name or path.`);
    prefix = [shellQuote(sing), 'exec', cmdOption, shellQuote(input.image)].filter(Boolean).join(' ');
  }
  if (input.sweep) {
    // The task's own line, evaluated as the plain script would have run it (its values are
    // quoted words already: sweepSpec.ts); the table is data, never pasted into this script.
    lines.push(`muse_cmd=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${TASKS_FILE})`);
    lines.push(`muse_pre=${shellQuote(prefix)}`);
    lines.push('eval "$muse_pre $muse_cmd"');
  } else {
    lines.push(prefix ? `${prefix} ${cmd}` : cmd);
  }
  return lines.join('\n') + '\n';
}
