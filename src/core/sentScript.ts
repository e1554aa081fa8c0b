/**
 * A command whose first word is the name of a file sent with the run (seed example F:
 * `cmd=usrcmd.sh` with `usrcmd.sh` among the files). The web API runs such a file from the run
 * folder; the SSH and local backends do the same through this rule: the file is made
 * executable and run by its shebang line, or by `sh` when it has none.
 */
import { promises as fs } from 'fs';
import type { InputFile } from './model';
import { shellQuote } from './shellQuote';

/** How a sent script is run in the run folder. */
export interface SentScriptRun {
  /** The file's name in the run folder, as sent. */
  file: string;
  /** The command to run instead of the user's: `./usrcmd.sh ARGS`, or `sh ./usrcmd.sh ARGS` without a shebang. */
  command: string;
  /** A shell line to run first in the run folder, outside any container: makes the file executable. */
  setup: string;
}

/** The first word of a command, when it is a plain word (no quotes, `$`, redirections...). */
const FIRST_WORD = /^\s*([A-Za-z0-9_@%+=:,./-]+)(?=\s|$)/;

/**
 * The pure rule: when the first word of `cmd` is `name` or `./name` for one of `sentNames`,
 * how to run that file. `hasShebang` says whether the file starts with `#!`.
 */
export function sentScriptRun(cmd: string, sentNames: readonly string[], hasShebang: (name: string) => boolean): SentScriptRun | undefined {
  const m = FIRST_WORD.exec(cmd);
  if (!m) return undefined;
  const word = m[1];
  const name = word.startsWith('./') ? word.slice(2) : word;
  if (!name || !sentNames.includes(name)) return undefined;
  const file = `./${name}`;
  const rest = cmd.slice(m[0].length);
  const runner = hasShebang(name) ? shellQuote(file) : `sh ${shellQuote(file)}`;
  return { file: name, command: runner + rest, setup: `chmod u+x ${shellQuote(file)}` };
}

/** True when the file starts with `#!`; an unreadable file is reported by the upload that follows. */
async function startsWithShebang(file: string): Promise<boolean> {
  const h = await fs.open(file, 'r').catch(() => undefined);
  if (!h) return false;
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await h.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf.toString('latin1') === '#!';
  } finally {
    await h.close();
  }
}

/**
 * How to run `cmd` when its first word names one of the `files` sent with the run (the last
 * file sent under a name wins, as in the run folder); undefined for any other command.
 * Reads the first two bytes of that file only.
 */
export async function resolveSentScript(cmd: string, files: readonly InputFile[]): Promise<SentScriptRun | undefined> {
  const byName = new Map(files.map((f) => [f.name, f.path]));
  const first = sentScriptRun(cmd, [...byName.keys()], () => false);
  if (!first) return undefined;
  const shebang = await startsWithShebang(byName.get(first.file)!);
  return sentScriptRun(cmd, [first.file], () => shebang);
}
