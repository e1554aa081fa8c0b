/**
 * The command a run starts with, from the profile's templates (`python3 {file}`), keyed by
 * VS Code language id or by file extension. No vscode import (unit-tested).
 */
import * as path from 'path';
import { shellQuote } from '../core/shellQuote';

/** Used when the profile has no template for the language. */
export const DEFAULT_TEMPLATES: Readonly<Record<string, string>> = {
  python: 'python3 {file}',
  r: 'Rscript {file}',
  shellscript: 'bash {file}',
  perl: 'perl {file}',
  julia: 'julia {file}',
  '.py': 'python3 {file}',
  '.r': 'Rscript {file}',
  '.sh': 'bash {file}',
};

/**
 * The command for a script: the template for its language id, else for its extension (`.py`),
 * else the defaults; `{file}` becomes the script's run-folder name, shell-quoted.
 * A file with no template runs as `./name`.
 */
export function commandFor(
  templates: Record<string, string> | undefined,
  languageId: string | undefined,
  runFolderName: string,
): string {
  const ext = path.extname(runFolderName).toLowerCase();
  const lang = languageId?.toLowerCase();
  const pick = (t: Record<string, string> | undefined): string | undefined => {
    if (!t) return undefined;
    const lower = Object.fromEntries(Object.entries(t).map(([k, v]) => [k.toLowerCase(), v]));
    return (lang && lower[lang]) || (ext && (lower[ext] ?? lower[ext.slice(1)])) || undefined;
  };
  const template = pick(templates) ?? pick(DEFAULT_TEMPLATES) ?? './{file}';
  const quoted = shellQuote(runFolderName);
  return template.includes('{file}') ? template.split('{file}').join(quoted) : `${template} ${quoted}`;
}
