/**
 * Which files go with a run: the scripts (or files) named, the files of folders named, and the
 * files under a root chosen by include/exclude globs; never what `.gitignore` ignores nor the
 * always-excluded folders. The extension (workspace folder as root) and the CLI (current folder
 * as root) both select through here. No vscode import.
 */
import * as fs from 'fs';
import * as path from 'path';
import ignore from 'ignore';
import picomatch from 'picomatch';
import { MuseError, throwIfAborted } from './errors';
import { formatBytes } from './format';
import type { InputFile } from './model';

/** Never sent, whatever the globs say: VCS folders, dependencies, our own results. */
export const ALWAYS_EXCLUDED = ['.git/**', '.hg/**', '.svn/**', 'node_modules/**', '.muse/**', '**/__pycache__/**'];

export interface SelectOptions {
  /** The folder the globs are relative to (undefined: no glob is applied). */
  root?: string;
  /**
   * Absolute paths of the files the user ran or named (always sent, first). Inside `root` they
   * keep their path relative to it, elsewhere their base name.
   */
  scripts: string[];
  /** Scripts keep their base name even inside `root` (the CLI's `--file`). */
  scriptsByBaseName?: boolean;
  /**
   * Absolute paths of folders sent whole (after `.gitignore` and the exclude globs): each file
   * is named by the folder's base name and its path inside it (`data/raw/a.csv`).
   */
  folders?: string[];
  include?: string[];
  exclude?: string[];
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

async function readGitignore(dir: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(path.join(dir, '.gitignore'), 'utf8');
  } catch {
    return undefined;
  }
}

type IgnoreRules = { base: string; ig: ReturnType<typeof ignore> }[];

/** The `.gitignore` rules of `from` and each folder down to `to` (excluded), when `to` is below `from`. */
async function rulesAbove(from: string, to: string): Promise<IgnoreRules> {
  const rules: IgnoreRules = [];
  if (!isInside(from, to)) return rules;
  let dir = from;
  for (const part of path.relative(from, to).split(path.sep)) {
    const own = await readGitignore(dir);
    if (own !== undefined) rules.push({ base: dir, ig: ignore().add(own) });
    dir = path.join(dir, part);
  }
  return rules;
}

/**
 * Selects the files of a run. Symlinks are not followed (a link to `/` must not send the disk).
 * A file reached twice (a script also matched by a glob) is sent once, under its first name.
 */
export async function selectFiles(opts: SelectOptions): Promise<Selection> {
  const maxFiles = opts.maxFiles ?? 10_000;
  const seen = new Map<string, string>(); // run-folder name -> absolute path
  const sent = new Set<string>(); // absolute paths already chosen
  const files: InputFile[] = [];
  let totalBytes = 0;

  const add = async (abs: string, rel: string): Promise<void> => {
    if (sent.has(abs)) return;
    const name = rel;
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new MuseError('usage', `Two files would both be named "${name}" in the run folder (${prev} and ${abs}). Exclude one of them.`);
    }
    const st = await fs.promises.stat(abs);
    seen.set(name, abs);
    sent.add(abs);
    files.push({ path: abs, name });
    totalBytes += st.size;
  };
  const addWalked = async (abs: string, rel: string, why: string): Promise<void> => {
    if (files.length >= maxFiles && !sent.has(abs)) {
      throw new MuseError('usage', `More than ${maxFiles} files ${why}. Narrow them or add exclude globs.`);
    }
    await add(abs, rel);
  };

  const root = opts.root ? path.resolve(opts.root) : undefined;
  for (const s of opts.scripts) {
    const abs = path.resolve(s);
    const rel = root && !opts.scriptsByBaseName && isInside(root, abs) ? toPosix(path.relative(root, abs)) : path.basename(abs);
    await add(abs, rel);
  }

  const isExcluded = picomatch([...ALWAYS_EXCLUDED, ...(opts.exclude ?? [])], { dot: true });
  const excluded = (rel: string, isDir: boolean): boolean => isExcluded(rel) || (isDir && (isExcluded(`${rel}/`) || isExcluded(`${rel}/x`)));

  /**
   * Depth-first walk of `dir`, in name order; each folder's ignore rules are those of its
   * parents plus its own `.gitignore`. `globPath` is what the exclude globs see for an entry.
   */
  const walk = async (
    dir: string,
    rules: IgnoreRules,
    globPath: (abs: string) => string,
    onFile: (abs: string, rel: string) => Promise<void>,
  ): Promise<void> => {
    throwIfAborted(opts.signal, 'File selection');
    const own = await readGitignore(dir);
    const here = own !== undefined ? [...rules, { base: dir, ig: ignore().add(own) }] : rules;
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const isDir = e.isDirectory();
      if (!isDir && !e.isFile()) continue; // symlinks, sockets, devices
      const rel = globPath(abs);
      if (excluded(rel, isDir)) continue;
      if (here.some((r) => r.ig.ignores(toPosix(path.relative(r.base, abs)) + (isDir ? '/' : '')))) continue;
      if (isDir) await walk(abs, here, globPath, onFile);
      else await onFile(abs, rel);
    }
  };

  for (const f of opts.folders ?? []) {
    const folder = path.resolve(f);
    const parent = path.dirname(folder);
    // Inside the root, the exclude globs read paths as they do for the include walk.
    const inRoot = root !== undefined && (folder === root || isInside(root, folder));
    const globPath = (abs: string): string => toPosix(path.relative(inRoot ? root : parent, abs));
    const nameOf = (abs: string): string => toPosix(path.relative(parent, abs));
    const rules = inRoot ? await rulesAbove(root, folder) : [];
    await walk(folder, rules, globPath, (abs) => addWalked(abs, nameOf(abs), `are in ${f}`));
  }

  const include = (opts.include ?? []).filter((g) => g.trim() !== '');
  if (!root || include.length === 0) return { files, totalBytes };
  const isIncluded = picomatch(include, { dot: true });
  const rootPath = (abs: string): string => toPosix(path.relative(root, abs));
  await walk(root, [], rootPath, async (abs, rel) => {
    if (isIncluded(rel)) await addWalked(abs, rel, `match the include globs (${include.join(', ')})`);
  });
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
