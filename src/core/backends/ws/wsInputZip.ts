/**
 * Input files with folders for the Muse web API. The API takes plain file names and unzips
 * every zip it receives in the run folder, in `files_order`: so the files whose name has a
 * folder part (and, past `BUNDLE_ALL_ABOVE` files, every file but the user's own zips) travel
 * as ONE stored zip part named `__MUSE__files.zip`, placed in `files_order` where the files it
 * holds were. The zip is streamed from disk as the body is sent (its length computed
 * beforehand, never built in memory).
 */
import * as fs from 'fs';
import { Readable } from 'stream';
import * as yazl from 'yazl';
import { MuseError } from '../../errors';
import type { InputFile } from '../../model';
import { checkInputName } from '../../transfer/stage';

/** The name of the zip part that carries files with folders (a suffix when a user file has it). */
export const BUNDLE_NAME = '__MUSE__files.zip';
/** Past this many input files, every file but the user's zips goes in the zip part. */
export const BUNDLE_ALL_ABOVE = 50;

/** One part of the multipart body: a file as it is, or a zip of several. */
export type WsPart = { kind: 'file'; file: InputFile } | { kind: 'bundle'; name: string; files: InputFile[] };

/** The parts in upload order (that of the files) and the `files_order` that names them. */
export interface WsPartPlan {
  parts: WsPart[];
  order: string[];
}

const isZipName = (name: string): boolean => name.toLowerCase().endsWith('.zip');

/**
 * Which files go in a zip part and where it sits in `files_order`. The user's order (default:
 * the order of `files`, then any file it leaves out) is kept: each run of files bound for the
 * zip becomes one zip part at the place of its first file. A user zip between them ends the
 * run (a second part follows it), so that what that zip unpacks is overwritten by the files
 * listed after it, exactly as if every file had been sent alone. Names are checked like the
 * run folder's (no `..`, no absolute path, no backslash): `usage` error.
 */
export function planWsParts(files: InputFile[], filesOrder?: string[]): WsPartPlan {
  const byName = new Map<string, InputFile>();
  for (const f of files) {
    const name = checkInputName(f.name);
    if (byName.has(name)) throw new MuseError('usage', `Two input files are both named "${name}".`);
    byName.set(name, { ...f, name });
  }
  const order: string[] = [];
  for (const raw of filesOrder && filesOrder.length > 0 ? filesOrder : files.map((f) => f.name)) {
    const name = checkInputName(raw);
    if (!byName.has(name)) {
      throw new MuseError('usage', `files_order names "${raw}", which is not among the input files (${[...byName.keys()].join(', ') || 'none'}).`);
    }
    if (!order.includes(name)) order.push(name);
  }
  for (const name of byName.keys()) if (!order.includes(name)) order.push(name);

  const all = byName.size > BUNDLE_ALL_ABOVE;
  const zipped = (name: string): boolean => name.includes('/') || (all && !isZipName(name));
  let suffix = 1;
  const nextBundleName = (): string => {
    for (;;) {
      const n = suffix === 1 ? BUNDLE_NAME : BUNDLE_NAME.replace(/\.zip$/, `-${suffix}.zip`);
      suffix++;
      if (!byName.has(n)) return n;
    }
  };
  const inOrder: WsPart[] = [];
  const partOf = new Map<string, WsPart>();
  let open: Extract<WsPart, { kind: 'bundle' }> | undefined;
  for (const name of order) {
    const f = byName.get(name)!;
    if (zipped(name)) {
      if (!open) {
        open = { kind: 'bundle', name: nextBundleName(), files: [] };
        inOrder.push(open);
      }
      open.files.push(f);
      partOf.set(name, open);
    } else {
      const part: WsPart = { kind: 'file', file: f };
      inOrder.push(part);
      partOf.set(name, part);
      if (isZipName(name)) open = undefined;
    }
  }
  // Uploaded in the order of `files` (a zip part where its first file was); files_order says
  // the order of copying.
  const parts = [...new Set([...byName.keys()].map((name) => partOf.get(name)!))];
  return { parts, order: inOrder.map((p) => (p.kind === 'file' ? p.file.name : p.name)) };
}

/** What the zip part needs of each file: its size (checked as it is read), mode and time. */
export interface ZipMember {
  file: InputFile;
  size: number;
  mode: number;
  mtime: Date;
}

/** A zip part: its exact length, and a function that starts streaming it (called once). */
export interface ZipPart {
  length: number;
  open(): { stream: Readable; stop(): void };
}

/**
 * Both zips end with the zip64 end record: yazl's length estimate adds it once the central
 * directory passes 64 KB (about 800 names) while its writer adds it only past 4 GB, so without
 * forcing it a zip of 1,000 files is 76 bytes shorter than announced. Every unzip reads it.
 */
const END = { forceZip64Format: true, comment: '' };

/** Files up to this size are read ahead, this many at once (yazl asks for one file at a time). */
const SMALL = 256 * 1024;
const AHEAD = 16;

function addMembers(zip: yazl.ZipFile, members: ZipMember[], open: (m: ZipMember, i: number) => Readable | undefined): void {
  members.forEach((m, i) => {
    zip.addReadStreamLazy(m.file.name, { size: m.size, mode: m.mode, mtime: m.mtime, compress: false }, (cb) => {
      const s = open(m, i);
      if (s) cb(null, s);
    });
  });
}

/**
 * A stored (uncompressed) zip of `members`: stored, so its length is known before a byte is
 * read (the body has a content length and upload progress), and no CPU goes into deflating on
 * the extension host. Files are opened one at a time, when their turn comes; a file whose size
 * changed since it was measured fails the body (yazl checks the byte count).
 */
export function zipPart(members: ZipMember[]): ZipPart {
  // The length, from a zip that never reads: its entries' streams are never given.
  const dry = new yazl.ZipFile();
  addMembers(dry, members, () => undefined);
  let length = -1;
  // The typings omit the size argument that yazl gives its callback.
  (dry.end as (o: object, cb: (n: number) => void) => void).call(dry, END, (n) => {
    length = n;
  });
  if (length < 0) throw new MuseError('io', 'Cannot compute the length of the input zip.');
  return {
    length,
    open() {
      const zip = new yazl.ZipFile();
      let current: Readable | undefined;
      // Small files are read AHEAD at a time (a thousand small files one after the other would
      // wait on the disk a thousand times in a row); big ones are streamed when their turn comes.
      const ahead = new Map<number, Promise<Buffer>>();
      const prefetch = (from: number): void => {
        for (let j = from; j < Math.min(members.length, from + AHEAD); j++) {
          if (members[j].size <= SMALL && !ahead.has(j)) {
            const p = fs.promises.readFile(members[j].file.path);
            p.catch(() => undefined); // reported when its turn comes
            ahead.set(j, p);
          }
        }
      };
      addMembers(zip, members, (m, i) => {
        prefetch(i);
        const early = ahead.get(i);
        ahead.delete(i);
        current = early
          ? Readable.from((async function* () { yield await early; })())
          : fs.createReadStream(m.file.path, { highWaterMark: 256 * 1024 });
        current.on('error', (e) => zip.emit('error', e));
        return current;
      });
      zip.end(END);
      const stream = zip.outputStream as unknown as Readable;
      zip.on('error', (e: Error) => stream.destroy(new MuseError('io', `Cannot read an input file for ${BUNDLE_NAME}: ${e.message}`, { cause: e })));
      return {
        stream,
        stop: () => {
          current?.destroy();
          stream.destroy();
        },
      };
    },
  };
}
