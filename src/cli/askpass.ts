/**
 * OpenSSH's answer to "no terminal": an SSH_ASKPASS program, run with the question as its one
 * argument, prints the answer on stdout. It keeps secrets out of the environment and of the
 * command line (a password manager, a hardware token's tool or a test's TOTP script answers).
 */
import { execFile } from 'child_process';
import { MuseError } from '../core/errors';

/**
 * The SSH_ASKPASS program to ask with, or undefined: used when SSH_ASKPASS_REQUIRE is `force`
 * or `prefer`, or when there is no terminal; never with SSH_ASKPASS_REQUIRE=never (as in ssh).
 */
export function askpassProgram(env: NodeJS.ProcessEnv, hasTerminal: boolean): string | undefined {
  const program = env.SSH_ASKPASS;
  const require = env.SSH_ASKPASS_REQUIRE;
  if (!program || require === 'never') return undefined;
  if (require === 'force' || require === 'prefer') return program;
  return hasTerminal ? undefined : program;
}

/**
 * Runs `program question` (no shell) and resolves with the first line it prints; a non-zero
 * exit means the user declined (undefined). Ctrl-C (`signal`) stops it.
 */
export function runAskpass(program: string, question: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile(program, [question], { env, signal, maxBuffer: 64 * 1024 }, (err, stdout) => {
      if (signal?.aborted) return reject(new MuseError('cancelled', 'Interrupted.'));
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT' || code === 'EACCES') {
        return reject(new MuseError('usage', `SSH_ASKPASS (${program}) cannot be run: ${err!.message}.`));
      }
      if (err) return resolve(undefined);
      resolve(stdout.split(/\r?\n/)[0]);
    });
  });
}
