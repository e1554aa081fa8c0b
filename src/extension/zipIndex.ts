/** The folder tree of a zip listing, for the read-only zip file system. No vscode import. */
import type { ZipEntryInfo } from '../core/transfer/zip';

/** A zip's entries by name, and its folders (with or without their own entry). */
export interface ZipIndex {
  zipPath: string;
  mtimeMs: number;
  entries: Map<string, ZipEntryInfo>;
  /** Folder path ('' is the root) -> names of its children. */
  children: Map<string, Set<string>>;
  /** Folders, whether or not the zip has an entry for them. */
  dirs: Set<string>;
}

/** Builds the folder tree of a zip listing (folders without their own entry included). */
export function indexZipEntries(zipPath: string, mtimeMs: number, list: ZipEntryInfo[]): ZipIndex {
  const idx: ZipIndex = { zipPath, mtimeMs, entries: new Map(), children: new Map([['', new Set()]]), dirs: new Set(['']) };
  for (const e of list) {
    const name = e.name.replace(/\/+$/, '');
    if (!name) continue;
    idx.entries.set(name, e);
    const segs = name.split('/');
    for (let i = 0; i < segs.length; i++) {
      const parent = segs.slice(0, i).join('/');
      const self = segs.slice(0, i + 1).join('/');
      if (!idx.children.has(parent)) idx.children.set(parent, new Set());
      idx.children.get(parent)!.add(segs[i]);
      if (i < segs.length - 1 || e.isDirectory) {
        idx.dirs.add(self);
        if (!idx.children.has(self)) idx.children.set(self, new Set());
      }
    }
  }
  return idx;
}

