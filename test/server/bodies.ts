/**
 * Request bodies as Django REST framework reads them: JSON, x-www-form-urlencoded and
 * multipart (files streamed to disk, never held in memory), plus the query string.
 */
import busboy from 'busboy';
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { IncomingMessage } from 'http';

/** One field value: strings from forms, anything from JSON. */
export type FieldValue = unknown;

/** An uploaded file, saved on disk under its own folder (two uploads may share a name). */
export interface Upload {
  /** The file name the client sent (base name only). */
  name: string;
  /** Where it was saved. */
  path: string;
  bytes: number;
}

export interface ParsedBody {
  /** Field name -> values in arrival order (a repeated field has several). */
  fields: Map<string, FieldValue[]>;
  uploads: Upload[];
  /** Set when a file name was refused (the body is still read to the end). */
  badFileName?: string;
}

/** The biggest non-file body read into memory. */
const MAX_TEXT_BODY = 16 * 1024 * 1024;

/** Thrown for a body the server cannot read; answered as a 400. */
export class BadBody extends Error {}

/** A file name the server accepts: a plain base name, no separators, no dot-only names. */
export function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function addField(fields: Map<string, FieldValue[]>, name: string, value: FieldValue): void {
  const list = fields.get(name);
  if (list) list.push(value);
  else fields.set(name, [value]);
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_TEXT_BODY) throw new BadBody('Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Adds the query string's parameters (DRF reads `jwt` and friends from either place). */
export function addQuery(fields: Map<string, FieldValue[]>, search: URLSearchParams): void {
  for (const [k, v] of search) addField(fields, k, v);
}

/**
 * Reads the body of `req`. Files go to `uploadDir/<n>/<name>`; the folder is created only when
 * a file arrives.
 */
export async function parseBody(req: IncomingMessage, uploadDir: string): Promise<ParsedBody> {
  const fields = new Map<string, FieldValue[]>();
  const uploads: Upload[] = [];
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

  if (type === 'multipart/form-data') {
    let badFileName: string | undefined;
    await new Promise<void>((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, limits: { fieldSize: MAX_TEXT_BODY } });
      } catch (e) {
        reject(new BadBody(`Multipart form parse error - ${(e as Error).message}`));
        return;
      }
      const writes: Promise<void>[] = [];
      bb.on('field', (name, value) => addField(fields, name, value));
      bb.on('file', (_name, stream, info) => {
        const name = info.filename ?? '';
        if (!isSafeFileName(name)) {
          badFileName ??= name;
          stream.resume();
          return;
        }
        const dir = path.join(uploadDir, String(uploads.length));
        const upload: Upload = { name, path: path.join(dir, name), bytes: 0 };
        uploads.push(upload);
        // Synchronous mkdir: the file stream must be piped at once, or its first chunks are lost.
        fs.mkdirSync(dir, { recursive: true });
        const out = fs.createWriteStream(upload.path);
        writes.push(pipeline(stream, out).then(() => void (upload.bytes = out.bytesWritten)));
      });
      bb.on('error', (e) => reject(new BadBody(`Multipart form parse error - ${(e as Error).message}`)));
      bb.on('close', () => {
        Promise.all(writes).then(() => resolve(), reject);
      });
      req.on('aborted', () => reject(new BadBody('Request aborted.')));
      req.pipe(bb);
    });
    return { fields, uploads, badFileName };
  }

  const text = await readText(req);
  if (type === 'application/json') {
    if (text.trim() === '') return { fields, uploads };
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new BadBody(`JSON parse error - ${(e as Error).message}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new BadBody('JSON parse error - expected an object.');
    }
    for (const [k, v] of Object.entries(data)) addField(fields, k, v);
  } else if (type === 'application/x-www-form-urlencoded' || (type === '' && text.length > 0)) {
    addQuery(fields, new URLSearchParams(text));
  } else if (text.length > 0) {
    throw new BadBody(`Unsupported media type "${type}" in request.`);
  }
  return { fields, uploads };
}

/** The first value of a field as a string (JSON values are stringified), or undefined. */
export function fieldString(fields: Map<string, FieldValue[]>, name: string): string | undefined {
  const v = fields.get(name)?.[0];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * A list parameter (`files_order`, `sbatch_list`, `module_list`): a JSON list, a string
 * holding a JSON list, or repeated fields. Undefined when absent.
 */
export function fieldList(fields: Map<string, FieldValue[]>, name: string): string[] | undefined {
  const values = fields.get(name);
  if (!values || values.length === 0) return undefined;
  const out: string[] = [];
  for (const v of values) {
    if (Array.isArray(v)) {
      out.push(...v.map(String));
      continue;
    }
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    const t = s.trim();
    if (t.startsWith('[')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch {
        throw new BadBody(`"${name}" is not a valid JSON list.`);
      }
      if (!Array.isArray(parsed)) throw new BadBody(`"${name}" is not a list.`);
      out.push(...parsed.map(String));
    } else if (t !== '') {
      out.push(s);
    }
  }
  return out;
}

/** The fields as recorded for tests: strings or string lists, the jwt masked. */
export function recordFields(fields: Map<string, FieldValue[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, values] of fields) {
    const strs = values.map((v) => (k === 'jwt' ? '***' : typeof v === 'string' ? v : JSON.stringify(v)));
    out[k] = strs.length === 1 ? strs[0] : strs;
  }
  return out;
}
