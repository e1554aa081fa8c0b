/**
 * Starting a local run: the shell line (in a container when a singularity/apptainer command and
 * an image are there, else the plain command), and the detached wrapper that runs it and
 * records its exit, so that the run outlives the process that started it.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { MuseError, errorMessage } from '../../errors';
import { EXIT_FILE, STDERR_FILE, STDOUT_FILE, type LaunchRecord } from './runFiles';
import { procStartTime } from './procInfo';
import type { SentScriptRun } from '../../sentScript';
import { shellQuote } from '../../shellQuote';
import { usageRecorderShell } from '../../usage/localUsage';


/** An executable file? */
async function isExecutable(p: string): Promise<boolean> {
  try {
    await fsp.access(p, fs.constants.X_OK);
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of `cmd` on `PATH` (or `cmd` itself when it holds a slash), if executable. */
export async function which(cmd: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  if (cmd.includes('/')) return (await isExecutable(cmd)) ? path.resolve(cmd) : undefined;
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

/**
 * The container runtime to use: the configured command (an error when it is not found, since
 * the user asked for it), else `apptainer` then `singularity` on PATH, else undefined.
 */
export async function findContainerRuntime(configured?: string): Promise<string | undefined> {
  if (configured) {
    const found = await which(configured);
    if (!found) {
      throw new MuseError('usage', `The container command "${configured}" (singularityCommand) was not found or is not executable.`);
    }
    return found;
  }
  return (await which('apptainer')) ?? (await which('singularity'));
}

/**
 * The shell line of a run, as the Muse server builds it: `singularity exec {cmd_option} {image}
 * {cmd}`. `cmd` and `cmd_option` are the user's own shell text and are pasted as such (the
 * same meaning as on the cluster); the runtime and image paths are ours and are quoted.
 */
export function commandLine(
  cmd: string,
  container?: { runtime: string; image: string; cmdOption?: string },
  sentScript?: SentScriptRun,
): string {
  // A sent script (example F) is made executable first, outside the container, and run in place of `cmd`.
  const run = sentScript ? sentScript.command : cmd;
  const setup = sentScript ? `${sentScript.setup}\n` : '';
  if (!container) return setup + run;
  const opt = container.cmdOption?.trim() ? ` ${container.cmdOption.trim()}` : '';
  return `${setup}${shellQuote(container.runtime)} exec${opt} ${shellQuote(container.image)} ${run}`;
}

/**
 * Refuses, with a sentence, a machine where the local runner cannot work: it runs each run
 * through a POSIX shell (`/bin/sh`) in its own process group, which Windows has not.
 */
export function checkLocalRunnerPlatform(platform: NodeJS.Platform = process.platform): void {
  if (platform === 'win32') {
    throw new MuseError(
      'unsupported',
      'The local runner needs a POSIX shell (/bin/sh) and process groups, which Windows does not have: ' +
        'run on a cluster through an SSH or web API profile, or use the local runner inside WSL or a Remote-SSH/WSL window.',
    );
  }
}

/** The lines that record what the run used (wall time, CPU time, peak memory of its tree). */
const USAGE = usageRecorderShell();

/**
 * The wrapper, run by `sh -c WRAPPER muse-run LINE` in the run folder. It survives a SIGTERM
 * sent to its group (the trap defers to the end of the command, which gets the signal), and
 * records the exit code with a write-then-rename so readers never see half a record. The usage
 * record is written before the exit record, so a reader that sees the exit finds the figures.
 */
const WRAPPER = [
  // The sampler starts before the trap: a fork of the wrapper would carry the trap until its
  // exec, and a TERM meant to stop it could be swallowed there.
  USAGE.before,
  "trap 'muse_sig=1' TERM INT HUP",
  'sh -c "$1" </dev/null',
  'code=$?',
  USAGE.after,
  'sig=',
  'if [ "$code" -gt 128 ] && [ "$code" -lt 193 ]; then sig=$(kill -l "$code" 2>/dev/null) || sig=; fi',
  `ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)`,
  'if [ -n "$sig" ]; then sigjson=",\\"signal\\": \\"$sig\\""; else sigjson=; fi',
  `printf '{"exitCode": %d%s, "endedAt": "%s"}\\n' "$code" "$sigjson" "$ended" > ${EXIT_FILE}.tmp && mv -f ${EXIT_FILE}.tmp ${EXIT_FILE}`,
].join('\n');

/** Environment of a run: ours, less the secrets a Muse process may hold and Electron's switch. */
function runEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^MUSE_.*(TOKEN|PASSWORD|SECRET)/i.test(k) || k === 'ELECTRON_RUN_AS_NODE') continue;
    env[k] = v;
  }
  return env;
}

/**
 * Starts `line` detached in `runDir` (own session and process group, stdout and stderr to the
 * `__WS__` files, no stdin), and returns what identifies the process later.
 */
export async function launchDetached(runDir: string, line: string): Promise<LaunchRecord> {
  const out = await fsp.open(path.join(runDir, STDOUT_FILE), 'a');
  const err = await fsp.open(path.join(runDir, STDERR_FILE), 'a');
  try {
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'muse-run', line], {
      cwd: runDir,
      detached: true, // setsid: its own process group, no controlling terminal, survives our exit
      stdio: ['ignore', out.fd, err.fd],
      env: runEnv(),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }).catch((e: unknown) => {
      throw new MuseError('io', `Cannot start the run: ${errorMessage(e)}`, { cause: e });
    });
    const pid = child.pid!;
    // Reap it if it ends while we live, but never keep this process alive for it.
    child.on('error', () => undefined);
    child.unref();
    return { pid, pgid: pid, procStart: await procStartTime(pid), startedAt: new Date().toISOString() };
  } finally {
    await out.close();
    await err.close();
  }
}
