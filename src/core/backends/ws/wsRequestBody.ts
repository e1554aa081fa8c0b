/**
 * Request bodies of the Muse web API: JSON for the login and for runs without files, and the
 * multipart form of a run with files (inputs streamed from disk with known lengths; the
 * sbatch/module lists and `files_order` as JSON strings, as the API reads them). Files with
 * folders go as one zip part (`wsInputZip.ts`).
 */
import * as fs from 'fs';
import { Transform, type Readable } from 'stream';
import type FormDataClass from 'form-data';
import { mapLimit } from '../../concurrency';
import type { OpOptions } from '../../backend';
import { MuseError, throwIfAborted } from '../../errors';
import type { InputFile, SubmitRequest } from '../../model';

/** The parameters of a run, as the ws API names them (camelCase here): a submit less the software, which is in the URL. */
export type WsRunParams = Omit<SubmitRequest, 'software'>;

/** A request body with its headers (content type and length). */
export interface BodyParts {
  body: string | Readable;
  headers: Record<string, string>;
}

/** Input files up to this size are read whole before sending, within the budget below. */
const SMALL_FILE = 256 * 1024;
const SMALL_FILES_BUDGET = 16 * 1024 * 1024;
const COALESCE_BYTES = 64 * 1024;

// form-data (mime-db, ~12 MB) is required on first use: a download, which needs none, stays small.
function newFormData(): FormDataClass {
  const FormData = require('form-data') as typeof FormDataClass;
  return new FormData();
}

/** A JSON body of `o`. */
export function jsonBody(o: unknown): BodyParts {
  const s = JSON.stringify(o);
  return { body: s, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(s)) } };
}

/**
 * The body of a run (cluster submit or sync run), with the token in it: JSON without files,
 * multipart (files streamed from disk, known length, upload progress) with them. Called once
 * per attempt: a retry needs a fresh stream.
 */
export async function runBody(p: WsRunParams, token: string, opts: OpOptions): Promise<BodyParts> {
  const files = p.files ?? [];
  const fields: Record<string, string | string[]> = {
    cmd: p.cmd ?? '',
    cmd_option: p.cmdOption ?? '',
    returned_type: p.returnedType ?? 'stdout',
    todownload: p.toDownload ? 'yes' : 'no',
  };
  if (p.sbatchList && p.sbatchList.length > 0) fields.sbatch_list = p.sbatchList;
  if (p.moduleList && p.moduleList.length > 0) fields.module_list = p.moduleList;
  if (files.length === 0) {
    if (p.filesOrder && p.filesOrder.length > 0) fields.files_order = JSON.stringify(p.filesOrder);
    return jsonBody({ ...fields, jwt: token });
  }
  // Files with folders (or every file past a count) travel as one zip part (wsInputZip.ts);
  // required here so that commands sending no file do not load the zip libraries.
  const { planWsParts, zipPart } = require('./wsInputZip') as typeof import('./wsInputZip');
  const plan = planWsParts(files, p.filesOrder);
  const plain = plan.parts.flatMap((part) => (part.kind === 'file' ? [part.file] : []));
  // Small files are read whole, big ones streamed from disk when their turn comes. All of it
  // asynchronously (the extension host must never wait on a slow disk), 16 at a time: sizes
  // first, then the small files that fit the budget, in the order given.
  const fail = (f: InputFile, e: unknown): never => {
    if (e instanceof MuseError) throw e;
    throw new MuseError('io', `Cannot read input file ${f.path}: ${(e as Error).message}`, { cause: e });
  };
  const stats = new Map<InputFile, fs.Stats>();
  await mapLimit(
    plan.parts.flatMap((part) => (part.kind === 'file' ? [part.file] : part.files)),
    16,
    async (f) => {
      throwIfAborted(opts.signal, 'The submission');
      const st = await fs.promises.stat(f.path).catch((e: unknown) => fail(f, e));
      if (!st.isFile()) throw new MuseError('usage', `Input ${f.path} is not a file.`);
      stats.set(f, st);
    },
  );
  const sizes = plain.map((f) => stats.get(f)!.size);
  let buffered = 0;
  const small = sizes.map((size) => {
    if (size > SMALL_FILE || buffered + size > SMALL_FILES_BUDGET) return false;
    buffered += size;
    return true;
  });
  const contents: { size: number; data?: Buffer }[] = await mapLimit(plain, 16, async (f, i) => {
    if (!small[i]) return { size: sizes[i] };
    throwIfAborted(opts.signal, 'The submission');
    const data = await fs.promises.readFile(f.path).catch((e: unknown) => fail(f, e));
    return { size: data.length, data };
  });
  const form = newFormData();
  let current: fs.ReadStream | undefined;
  let zipping: { stop(): void } | undefined;
  for (const [k, v] of Object.entries(fields)) {
    // Lists travel as JSON strings inside multipart, like files_order.
    form.append(k, Array.isArray(v) ? JSON.stringify(v) : v);
  }
  form.append('files_order', JSON.stringify(plan.order));
  form.append('jwt', token);
  let i = 0;
  for (const part of plan.parts) {
    if (part.kind === 'bundle') {
      const zip = zipPart(part.files.map((f) => ({ file: f, size: stats.get(f)!.size, mode: stats.get(f)!.mode, mtime: stats.get(f)!.mtime })));
      const openZip = (next: (s: Readable) => void): void => {
        const z = zip.open();
        zipping = z;
        z.stream.on('error', (e: Error) => form.emit('error', e));
        next(z.stream);
      };
      form.append('file', openZip, { filename: part.name, knownLength: zip.length, contentType: 'application/zip' });
      continue;
    }
    const f = part.file;
    const c = contents[i++];
    if (c.data) {
      form.append('file', c.data, { filename: f.name, contentType: 'application/octet-stream' });
      continue;
    }
    // A function opens the file only when its turn comes (no fd per file held open meanwhile).
    const open = (next: (s: Readable) => void): void => {
      current = fs.createReadStream(f.path, { highWaterMark: 256 * 1024 });
      next(current);
    };
    form.append('file', open, { filename: f.name, knownLength: c.size, contentType: 'application/octet-stream' });
  }
  const total = form.getLengthSync();
  let done = 0;
  // form-data emits three small pieces per part: coalesced into 64 KB chunks, the body goes
  // out in a few large socket writes instead of hundreds of small ones. Progress is counted
  // as undici pulls the bytes, so it follows the socket, not the disk.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const emit = (t: Transform): void => {
    const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    done += chunk.length;
    opts.onProgress?.({ phase: 'upload', done, total });
    t.push(chunk);
  };
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer | string, _enc, cb) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes >= COALESCE_BYTES) emit(this);
      cb();
    },
    flush(cb) {
      if (pendingBytes > 0) emit(this);
      cb();
    },
  });
  form.on('error', (e: Error) => out.destroy(new MuseError('io', `Cannot read an input file: ${e.message}`, { cause: e })));
  // A body dropped half-way (abort, failed request) must not keep an input file open.
  out.on('close', () => {
    if (!out.writableFinished) {
      current?.destroy();
      zipping?.stop();
    }
  });
  form.pipe(out);
  return { body: out, headers: { ...form.getHeaders(), 'content-length': String(total) } };
}
