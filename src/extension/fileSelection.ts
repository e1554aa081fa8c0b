/**
 * Which files go with a run: the script(s) plus the workspace files chosen by the profile's
 * include/exclude globs, never what `.gitignore` ignores. No vscode import (unit-tested).
 */
import * as fs from 'fs';
import * as path from 'path';
import ignore from 'ignore';
import picomatch from 'picomatch';
import { MuseError, throwIfAborted } from '../core/errors';
import type { InputFile } from '../core/model';
import { formatBytes } from '../core/format';

export { formatBytes };

/** Never sent, whatever the globs say: VCS folders, dependencies, our own results. */
export const ALWAYS_EXCLUDED = ['.git/**', '.hg/**', '.svn/**', 'node_modules/**', '.muse/**', '**/__pycache__/**'];

export interface SelectOptions {
  /** The workspace folder the globs are relative to (undefined: only the scripts are sent). */
  root?: string;
  /** Absolute paths of the files the user ran (always sent, first). */
  scripts: string[];
  include?: string[];
  exclude?: string[];
  /** ws runs take plain file names: flatten, and refuse two files with one name. */
  flatten?: boolean;
  /** Stops the walk beyond this many files (a glob like `**` in a huge folder). */
  maxFiles?: number;
  signal?: AbortSignal;
}

export interface Selection {
  files: InputFile[];
  totalBytes: number;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** Reads `.gitignore` files from the root down to each folder walked (nested ones too). */
async function readGitignore(dir: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(path.join(dir, '.gitignore'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Selects the files of a run. Scripts outside the root keep their base name. Symlinks are not
 * followed (a link to `/` must not send the disk).
 */
export async function selectFiles(opts: SelectOptions): Promise<Selection> {
  const maxFiles = opts.maxFiles ?? 10_000;
  const seen = new Map<string, string>(); // run-folder name -> absolute path
  const files: InputFile[] = [];
  let totalBytes = 0;

  const add = async (abs: string, rel: string): Promise<void> => {
    const name = opts.flatten ? path.basename(abs) : rel;
    const prev = seen.get(name);
    if (prev !== undefined) {
      if (prev === abs) return;
      throw new MuseError('usage', `Two files would both be named "${name}" in the run folder (${prev} and ${abs}). Exclude one of them.`);
    }
    const st = await fs.promises.stat(abs);
    seen.set(name, abs);
    files.push({ path: abs, name });
    totalBytes += st.size;
  };

  const root = opts.root ? path.resolve(opts.root) : undefined;
  for (const s of opts.scripts) {
    const abs = path.resolve(s);
    const rel = root && isInside(root, abs) ? toPosix(path.relative(root, abs)) : path.basename(abs);
    await add(abs, rel);
  }

  const include = (opts.include ?? []).filter((g) => g.trim() !== '');
  if (!root || include.length === 0) return { files, totalBytes };

  const isIncluded = picomatch(include, { dot: true });
  const isExcluded = picomatch([...ALWAYS_EXCLUDED, ...(opts.exclude ?? [])], { dot: true });

  // Depth-first walk; each folder's ignore rules are those of its parents plus its own .gitignore.
  const walk = async (dir: string, rules: { base: string; ig: ReturnType<typeof ignore> }[]): Promise<void> => {
    throwIfAborted(opts.signal, 'File selection');
    const own = await readGitignore(dir);
    const here = own !== undefined ? [...rules, { base: dir, ig: ignore().add(own) }] : rules;
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const rel = toPosix(path.relative(root, abs));
      const isDir = e.isDirectory();
      if (!isDir && !e.isFile()) continue; // symlinks, sockets, devices
      if (isExcluded(rel) || (isDir && isExcluded(`${rel}/`)) || (isDir && isExcluded(`${rel}/x`))) continue;
      if (here.some((r) => r.ig.ignores(toPosix(path.relative(r.base, abs)) + (isDir ? '/' : '')))) continue;
      if (isDir) {
        await walk(abs, here);
      } else if (isIncluded(rel)) {
        if (files.length >= maxFiles) {
          throw new MuseError('usage', `More than ${maxFiles} files match the include globs (${include.join(', ')}). Narrow them or add exclude globs.`);
        }
        await add(abs, rel);
      }
    }
  };
  await walk(root, []);
  return { files, totalBytes };
}

function isInside(root: string, abs: string): boolean {
  const rel = path.relative(root, abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** `1 file, 512 B` / `3 files, 12.4 KB` */
export function summarizeSelection(sel: Selection): string {
  const n = sel.files.length;
  return `${n} file${n === 1 ? '' : 's'}, ${formatBytes(sel.totalBytes)}`;
}
