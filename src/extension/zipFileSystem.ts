import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ZipEntryInfo } from '../core/transfer/zip';
import { loadCore } from './coreBundle';
import { ZIP_SCHEME, fromZipUri } from './uris';
import { indexZipEntries } from './zipIndex';
import type { ZipIndex } from './zipIndex';

/** Entries larger than this are not read into the editor (stream them with Extract instead). */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * The run-folder zip as a read-only file system (`muse-zip://<run id>/path`): browsable in the
 * explorer and the editor without extracting. Every write throws `NoPermissions`.
 */
export class ZipFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  static readonly scheme = ZIP_SCHEME;
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  private readonly indexes = new Map<string, Promise<ZipIndex>>();

  /** @param locate the zip file of a run id, once downloaded (undefined otherwise). */
  constructor(private readonly locate: (runId: string) => Promise<string | undefined>) {}

  private async index(uri: vscode.Uri): Promise<{ idx: ZipIndex; inner: string }> {
    const ref = fromZipUri(uri);
    if (!ref) throw vscode.FileSystemError.FileNotFound(uri);
    const zipPath = await this.locate(ref.runId);
    if (!zipPath) throw vscode.FileSystemError.Unavailable(`The content of this run is not downloaded: use "Muse: Open Run Content" first.`);
    const st = await fs.promises.stat(zipPath).catch(() => undefined);
    if (!st) throw vscode.FileSystemError.FileNotFound(uri);
    const known = this.indexes.get(ref.runId);
    const cur = known ? await known.catch(() => undefined) : undefined;
    if (cur && cur.zipPath === zipPath && cur.mtimeMs === st.mtimeMs) return { idx: cur, inner: ref.inner };
    const { listZip } = loadCore();
    const p = listZip(zipPath).then((list: ZipEntryInfo[]) => indexZipEntries(zipPath, st.mtimeMs, list));
    this.indexes.set(ref.runId, p);
    p.catch(() => this.indexes.delete(ref.runId));
    return { idx: await p, inner: ref.inner };
  }

  /** Forgets a run's listing (its zip was downloaded again). */
  invalidate(runId: string): void {
    this.indexes.delete(runId.toLowerCase());
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const { idx, inner } = await this.index(uri);
    const readonly = vscode.FilePermission.Readonly;
    if (idx.dirs.has(inner)) {
      const e = idx.entries.get(inner);
      const t = e ? e.mtime.getTime() : idx.mtimeMs;
      return { type: vscode.FileType.Directory, ctime: t, mtime: t, size: 0, permissions: readonly };
    }
    const e = idx.entries.get(inner);
    if (!e) throw vscode.FileSystemError.FileNotFound(uri);
    return { type: vscode.FileType.File, ctime: e.mtime.getTime(), mtime: e.mtime.getTime(), size: e.size, permissions: readonly };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const { idx, inner } = await this.index(uri);
    if (!idx.dirs.has(inner)) throw vscode.FileSystemError.FileNotADirectory(uri);
    const names = [...(idx.children.get(inner) ?? [])].sort();
    return names.map((n) => {
      const full = inner ? `${inner}/${n}` : n;
      return [n, idx.dirs.has(full) ? vscode.FileType.Directory : vscode.FileType.File];
    });
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const { idx, inner } = await this.index(uri);
    const e = idx.entries.get(inner);
    if (!e || idx.dirs.has(inner)) throw vscode.FileSystemError.FileNotFound(uri);
    if (e.size > MAX_READ_BYTES) {
      throw vscode.FileSystemError.Unavailable(`${path.basename(inner)} is ${e.size} bytes: extract the run content to open it.`);
    }
    const { openZipEntry } = loadCore();
    const stream = await openZipEntry(idx.zipPath, inner);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of stream as AsyncIterable<Buffer>) {
      total += c.length;
      if (total > MAX_READ_BYTES) throw vscode.FileSystemError.Unavailable('Entry larger than it declares.');
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  watch(): vscode.Disposable {
    // The zip does not change under us; a new download gets a fresh listing through invalidate().
    return new vscode.Disposable(() => undefined);
  }

  createDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  writeFile(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  delete(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  rename(oldUri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(oldUri);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
