/**
 * Quoting of shell arguments, the one rule for every shell line Muse Runner builds: remote
 * commands (sshd hands an exec request to the user's login shell as one line), batch scripts,
 * the local runner's `sh -c` line and command templates. Every argument is quoted here and
 * joined; user text is never pasted into a shell line as it is.
 */
import { MuseError } from './errors';

/** Characters that need no quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one argument for a POSIX shell (sh, bash, dash, zsh): single quotes, with `'` written
 * as `'\''`. Inside single quotes nothing is special (`$()`, backticks, `\`, newlines, UTF-8
 * bytes), so the argument reaches the program byte for byte.
 * A NUL byte cannot be passed in an argument at all: it is refused.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new MuseError('refused', `A command argument contains a NUL byte, which no shell can pass: ${JSON.stringify(arg)}.`);
  }
  if (arg !== '' && SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Builds a command line from its arguments, each quoted. */
export function shellCommand(args: readonly string[]): string {
  if (args.length === 0) throw new Error('shellCommand: no arguments');
  return args.map(shellQuote).join(' ');
}

/**
 * Quotes a remote path that may start with `~/`: the tilde is left outside the quotes so the
 * remote shell expands it, the rest is quoted.
 */
export function shellPath(p: string): string {
  if (p === '~') return '~';
  if (p.startsWith('~/')) return `~/${shellQuote(p.slice(2))}`;
  return shellQuote(p);
}
