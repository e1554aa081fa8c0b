/**
 * A local HTTP server speaking the Muse web API ("ws") as /work/shared/muse-api.md and the
 * seed page describe it, for tests and demos. Runs go through the local runner; JWTs are
 * HS256 tokens it signs itself; fault switches make it fail the way real servers do.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { RETURNED_TYPES, isFinal } from '../../src/core/model';
import type { ReturnedType, StateReport, SubmitRequest } from '../../src/core/model';
import type { RunRef } from '../../src/core/backend';
import { isMuseError } from '../../src/core/errors';
import { BadBody, addQuery, fieldList, fieldString, parseBody, recordFields } from './bodies';
import type { FieldValue, ParsedBody } from './bodies';
import { FaultSet } from './faults';
import type { Fault } from './faults';
import { TokenIssuer } from './jwt';
import { LocalBackend } from '../../src/core/backends/local/localBackend';

export type { Fault, FaultKind } from './faults';

/** Options of `startMuseServer`. */
export interface MuseServerOptions {
  /** Where runs, uploads and downloads are kept (created when missing). */
  dataDir: string;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Accounts for `jwt/obtain`; default `{ alice: 'secret' }`. */
  users?: Record<string, string>;
  /** Lifetime of tokens from `jwt/obtain` (default 3600 s). */
  tokenTtlSeconds?: number;
  /** Software name -> Singularity image; the command runs in it through `singularityCommand`. */
  images?: Record<string, string>;
  /** The `singularity` command (default `singularity` on PATH). */
  singularityCommand?: string;
}

type Json = Record<string, unknown>;

/** One request as the server saw it (for assertions: counts, fields sent, files sent). */
export interface RecordedRequest {
  method: string;
  /** The URL path, without the query (query parameters are in `fields`). */
  path: string;
  contentType?: string;
  /** Non-file fields of the body and the query; the `jwt` value is replaced by `***`. */
  fields: Record<string, string | string[]>;
  /** Names of the uploaded files, in arrival order. */
  files: string[];
}

export interface MuseTestServer {
  /** The base URL, `http://127.0.0.1:PORT/api/`. */
  url: string;
  /** A token for `user`, valid `ttlSeconds` (default: the server's token lifetime; negative: expired). */
  issueToken(user: string, ttlSeconds?: number): string;
  faults: { set(f: Fault): void; clear(): void };
  /** Every request received, oldest first (the array is kept: tests may empty it). */
  requests: RecordedRequest[];
  /** Stops listening and drops open connections; runs already started go on. */
  close(): Promise<void>;
}

/** The request parameters as the state report echoes them. */
interface RequestEcho {
  cmd: string;
  cmd_option: string;
  ordered_filename_list: string[];
  returned_type: ReturnedType;
  todownload: boolean;
  sbatch_list: string[];
  module_list: string[];
}

/** What the server remembers of one run (kept in `dataDir/ws-runs/<key>.json`). */
interface WsRun {
  key: string;
  software: string;
  user: string;
  echo: RequestEcho;
  jobName: string;
  jobId: number;
  /** How the runner finds the run again. */
  ref: RunRef;
  createdAt: string;
  /** Kept once a `todownload=yes` result was prepared, so the same key is answered again. */
  downloadKey?: string;
}

/** Per-request state: the fault that applies, the base URL seen by the client. */
interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  record: RecordedRequest;
  base: string;
  truncate: boolean;
}

/** An answer with the documented error body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly more: unknown[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const SOFTWARE_INFO: Record<string, { desc: string; shortname: string; urls: Record<string, string>; keywords: string[] }> = {
  sw_example: {
    desc: 'Example software: add.py sums the numbers it is given (arguments, or stdin.txt) and prints the sum.',
    shortname: 'Example',
    urls: { doc: 'http://147.100.179.250/api/software/list/', source: 'http://147.100.179.250/api/' },
    keywords: ['example', 'test', 'python'],
  },
};

const KEY_RE = '[0-9a-fA-F-]{36}';
const NAME_RE = '[A-Za-z0-9_.-]+';
const DOWNLOAD_KEY_RE = /^\d{8}_\d{6}_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SYNC_POLL_MS = 100;

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function contentTypeOf(file: string): string {
  if (file.endsWith('.zip')) return 'application/zip';
  if (file.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/** `yes`/`no` as the docs send them, and the booleans and `true`/`false` clients may send. */
function parseYesNo(v: string | undefined): boolean {
  if (v === undefined || v === '') return false;
  const t = v.trim().toLowerCase();
  if (t === 'yes' || t === 'true' || t === '1') return true;
  if (t === 'no' || t === 'false' || t === '0') return false;
  throw new HttpError(400, `Bad "todownload" value "${v}": expected "yes" or "no".`, 'ParseError', ['todownload']);
}

/** Starts the server; resolves once it listens. */
export async function startMuseServer(opts: MuseServerOptions): Promise<MuseTestServer> {
  const dataDir = path.resolve(opts.dataDir);
  const dirs = {
    runs: path.join(dataDir, 'ws-runs'),
    uploads: path.join(dataDir, 'ws-uploads'),
    results: path.join(dataDir, 'ws-results'),
    downloads: path.join(dataDir, 'ws-downloads'),
    tmp: path.join(dataDir, 'ws-tmp'),
    local: path.join(dataDir, 'local-runs'),
  };
  for (const d of Object.values(dirs)) await fs.promises.mkdir(d, { recursive: true });

  const users = opts.users ?? { alice: 'secret' };
  const ttl = opts.tokenTtlSeconds ?? 3600;
  const tokens = new TokenIssuer();
  const faults = new FaultSet();
  const requests: RecordedRequest[] = [];
  // Runs go through the real local runner: the same run folders, states and outputs as `muse` locally.
  const engine = new LocalBackend({ root: dirs.local, images: opts.images, singularityCommand: opts.singularityCommand });
  const runs = new Map<string, WsRun>();
  let jobCounter = 114 + (await fs.promises.readdir(dirs.runs)).length;
  let closed = false;

  const softwareNames = (): string[] => [...new Set(['sw_example', ...Object.keys(opts.images ?? {})])];

  // ---- answers ----------------------------------------------------------------------------

  /** Writes `body` with its Content-Length; under `truncate`, half of it and a dropped connection. */
  function sendBuffer(ctx: Ctx, status: number, body: Buffer, headers: Record<string, string>): void {
    const { res } = ctx;
    res.writeHead(status, { ...headers, 'Content-Length': String(body.length) });
    if (ctx.truncate) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }

  function sendJson(ctx: Ctx, status: number, obj: unknown): void {
    sendBuffer(ctx, status, Buffer.from(JSON.stringify(obj)), { 'Content-Type': 'application/json' });
  }

  function sendError(ctx: Ctx, e: HttpError): void {
    sendJson(ctx, e.status, { error: e.message, more: e.more, type: e.type, ...e.extra });
  }

  /** Streams a file from disk (never read whole into memory), with its Content-Length. */
  async function sendFile(ctx: Ctx, file: string, downloadName: string, after?: () => void): Promise<void> {
    const { res } = ctx;
    const size = (await fs.promises.stat(file)).size;
    res.writeHead(200, {
      'Content-Type': contentTypeOf(downloadName),
      'Content-Length': String(size),
      'Content-Disposition': `attachment; filename="${downloadName.replace(/["\\\r\n]/g, '_')}"`,
    });
    const half = Math.floor(size / 2);
    if (ctx.truncate && half === 0) {
      res.flushHeaders();
      res.socket?.destroy();
      after?.();
      return;
    }
    const stream = fs.createReadStream(file, ctx.truncate ? { start: 0, end: half - 1 } : {});
    await new Promise<void>((resolve) => {
      const done = (): void => {
        after?.();
        resolve();
      };
      stream.on('error', () => {
        res.socket?.destroy();
        done();
      });
      res.on('close', () => {
        stream.destroy();
        done();
      });
      if (ctx.truncate) {
        stream.on('data', (c) => {
          if (!res.write(c)) {
            stream.pause();
            res.once('drain', () => stream.resume());
          }
        });
        stream.on('end', () => res.write('', () => res.socket?.destroy()));
      } else {
        stream.pipe(res);
      }
    });
  }

  // ---- runs -------------------------------------------------------------------------------

  async function saveRun(run: WsRun): Promise<void> {
    const file = path.join(dirs.runs, `${run.key}.json`);
    await fs.promises.writeFile(`${file}.tmp`, JSON.stringify(run, null, 2));
    await fs.promises.rename(`${file}.tmp`, file);
  }

  /** The run `key` of software `name`, from memory or from disk (a restarted server knows it). */
  async function findRun(name: string, key: string): Promise<WsRun> {
    if (!softwareNames().includes(name)) throw unknownSoftware(name);
    let run = runs.get(key);
    if (!run) {
      try {
        run = JSON.parse(await fs.promises.readFile(path.join(dirs.runs, `${key.toLowerCase()}.json`), 'utf8')) as WsRun;
        runs.set(key, run);
      } catch {
        run = undefined;
      }
    }
    if (!run || run.software !== name) {
      throw new HttpError(404, `Unknown key "${key}" for software "${name}".`, 'NotFound', [`key=${key}`, `name=${name}`]);
    }
    return run;
  }

  function unknownSoftware(name: string): HttpError {
    return new HttpError(404, `Unknown software "${name}".`, 'NotFound', [`available: ${softwareNames().join(', ')}`]);
  }

  async function stateOf(run: WsRun): Promise<StateReport> {
    const got = (await engine.states([run.ref])).get(run.ref.id);
    if (!got) throw new HttpError(500, `No state for run "${run.key}".`, 'ServerError');
    if (isMuseError(got, 'notFound')) throw new HttpError(404, got.message, 'NotFound', [`key=${run.key}`]);
    if (got instanceof Error) {
      throw new HttpError(500, `Cannot read the state of run "${run.key}": ${got.message}`, 'ServerError');
    }
    return got;
  }

  /** The runner's state in the documented words. */
  function crOf(s: StateReport): { cr: string; latestCr: string; latestState: string } {
    // The local runner reports Slurm-like states already; the defaults cover runners that do not.
    const slurm = s.raw.slurmState;
    switch (s.state) {
      case 'submitting':
        return { cr: 'WAIT', latestCr: 'IN_PROGRESS', latestState: 'PENDING' };
      case 'waiting':
        return { cr: 'WAIT', latestCr: 'IN_PROGRESS', latestState: slurm ?? 'RUNNING' };
      case 'ok':
        return { cr: 'OK', latestCr: 'ENDED_OK', latestState: slurm ?? 'COMPLETED' };
      case 'cancelled':
        return { cr: 'NOK', latestCr: 'ENDED_NOK', latestState: slurm ?? 'CANCELLED' };
      case 'failed':
      case 'unknown':
      default:
        // A run the runner lost ended for the client too: waiting forever helps nobody.
        return { cr: 'NOK', latestCr: 'ENDED_NOK', latestState: slurm ?? 'FAILED' };
    }
  }

  function reportOf(run: WsRun, s: StateReport, identity = 'muse'): Record<string, unknown> {
    const { cr, latestCr, latestState } = crOf(s);
    return {
      request: run.echo,
      rsrc: { identity },
      process: { jobname: run.jobName, job_id: run.jobId, latest_cr: latestCr, latest_state: latestState },
      name: run.software,
      cr,
    };
  }

  const urls = (base: string, run: WsRun) => ({
    state: `${base}software/muse/state/${run.software}/${run.key}/`,
    run: `${base}software/muse/run/${run.software}/${run.key}/`,
    content: `${base}software/muse/content/${run.software}/${run.key}/`,
  });

  /** Checks the `jwt` parameter the way DRF-JWT does; the user name when valid. */
  function authenticate(fields: Map<string, FieldValue[]>): string {
    const token = fieldString(fields, 'jwt');
    const check = tokens.check(token);
    if (!check.ok) {
      const type = token ? 'AuthenticationFailed' : 'NotAuthenticated';
      throw new HttpError(401, check.error, type, [], { detail: check.error });
    }
    return check.user;
  }

  /** Reads and checks the run parameters; refuses what the real service would refuse. */
  function runRequest(name: string, body: ParsedBody): { req: SubmitRequest; echo: RequestEcho } {
    const { fields, uploads } = body;
    if (body.badFileName !== undefined) {
      throw new HttpError(400, `Refused file name "${body.badFileName}".`, 'ParseError', ['file']);
    }
    const returnedType = (fieldString(fields, 'returned_type') || 'stdout') as ReturnedType;
    if (!RETURNED_TYPES.includes(returnedType)) {
      throw new HttpError(400, `Bad "returned_type" value "${returnedType}": expected one of ${RETURNED_TYPES.join(', ')}.`, 'ParseError', ['returned_type']);
    }
    const toDownload = parseYesNo(fieldString(fields, 'todownload'));
    const names = uploads.map((u) => u.name);
    const order = fieldList(fields, 'files_order') ?? [...new Set(names)];
    for (const n of order) {
      if (!names.includes(n)) {
        throw new HttpError(400, `"files_order" names "${n}", which was not sent as a file.`, 'ParseError', ['files_order', `files: ${names.join(', ')}`]);
      }
    }
    const cmd = fieldString(fields, 'cmd') ?? '';
    const cmdOption = fieldString(fields, 'cmd_option') ?? '';
    const sbatchList = fieldList(fields, 'sbatch_list') ?? [];
    const moduleList = fieldList(fields, 'module_list') ?? [];
    return {
      req: {
        software: name,
        cmd,
        cmdOption,
        files: uploads.map((u) => ({ path: u.path, name: u.name })),
        filesOrder: order,
        returnedType,
        toDownload,
        sbatchList,
        moduleList,
      },
      echo: {
        cmd,
        cmd_option: cmdOption,
        ordered_filename_list: order,
        returned_type: returnedType,
        todownload: toDownload,
        sbatch_list: sbatchList,
        module_list: moduleList,
      },
    };
  }

  async function dropUploads(body: ParsedBody | undefined): Promise<void> {
    const first = body?.uploads[0];
    if (first) await fs.promises.rm(path.dirname(path.dirname(first.path)), { recursive: true, force: true }).catch(() => undefined);
  }

  async function submit(name: string, body: ParsedBody, user: string): Promise<WsRun> {
    if (!softwareNames().includes(name)) throw unknownSoftware(name);
    const { req, echo } = runRequest(name, body);
    // The server keeps todownload to itself (its own download keys): the runner only makes bytes.
    let submitted;
    try {
      submitted = await engine.submit({ ...req, toDownload: false });
    } finally {
      // Copied into the run folder (or refused): the landing place goes before the answer.
      await dropUploads(body);
    }
    const key = crypto.randomUUID();
    jobCounter += 1;
    const run: WsRun = {
      key,
      software: name,
      user,
      echo,
      jobName: `${jobCounter}-ws-${name}`,
      jobId: 2459280 + jobCounter,
      ref: {
        id: key,
        key: submitted.key,
        software: name,
        request: {
          cmd: req.cmd,
          cmdOption: req.cmdOption ?? '',
          files: echo.ordered_filename_list,
          filesOrder: echo.ordered_filename_list,
          returnedType: echo.returned_type,
          toDownload: false,
          sbatchList: echo.sbatch_list,
          moduleList: echo.module_list,
        },
        raw: {},
        location: submitted.location,
      },
      createdAt: new Date().toISOString(),
    };
    runs.set(key, run);
    await saveRun(run);
    return run;
  }

  /** The result file of a run (`stdout.txt` or `run.zip`), made once and kept. */
  async function resultFile(run: WsRun): Promise<{ file: string; name: string }> {
    const name = run.echo.returned_type === 'run.zip' ? 'run.zip' : 'stdout.txt';
    const dir = path.join(dirs.results, run.key);
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      await fs.promises.mkdir(dir, { recursive: true });
      const tmp = path.join(dirs.tmp, `${crypto.randomUUID()}-${name}`);
      const out = await engine.results(run.ref, tmp);
      if (out.kind !== 'file') throw new HttpError(500, `The runner gave no ${name} for run "${run.key}".`, 'ServerError');
      if (out.path !== tmp) await fs.promises.copyFile(out.path, tmp);
      await fs.promises.rename(tmp, file);
    }
    return { file, name };
  }

  /** Answers the results of an ended run, as its request asked. */
  async function answerResults(ctx: Ctx, run: WsRun, report: Record<string, unknown>): Promise<void> {
    if (run.echo.returned_type === 'stdout') {
      const tmp = path.join(dirs.tmp, `${crypto.randomUUID()}-stdout`);
      const out = await engine.results(run.ref, tmp);
      let text: string;
      if (out.kind === 'stdout') text = out.text;
      else if (out.kind === 'file') text = await fs.promises.readFile(out.path, 'utf8');
      else throw new HttpError(500, `The runner gave no stdout for run "${run.key}".`, 'ServerError');
      await fs.promises.rm(tmp, { force: true });
      sendJson(ctx, 200, { info: { stdout: text.replace(/\r?\n$/, ''), report } });
      return;
    }
    const { file, name } = await resultFile(run);
    if (!run.echo.todownload) {
      await sendFile(ctx, file, name);
      return;
    }
    if (!run.downloadKey) {
      const dkey = `${stamp()}_${crypto.randomUUID()}`;
      const dir = path.join(dirs.downloads, dkey);
      await fs.promises.mkdir(dir, { recursive: true });
      await fs.promises.link(file, path.join(dir, name)).catch(() => fs.promises.copyFile(file, path.join(dir, name)));
      run.downloadKey = dkey;
      await saveRun(run);
    }
    const url = `${ctx.base}download/?key=${run.downloadKey}`;
    sendJson(ctx, 200, {
      msg:
        `The response content can be downloaded at : ${url} *** The resource to download the response content is ` +
        `'GET download' with 'key' option (key value : ${run.downloadKey}) *** Keep this key value in order to be ` +
        `able to download the response content later on : key=${run.downloadKey}`,
      url,
    });
  }

  // ---- endpoints ----------------------------------------------------------------------------

  async function obtain(ctx: Ctx, body: ParsedBody): Promise<void> {
    const username = fieldString(body.fields, 'username');
    const password = fieldString(body.fields, 'password');
    const missing = [!username && 'username', !password && 'password'].filter((x): x is string => !!x);
    if (missing.length > 0) {
      const extra: Record<string, unknown> = {};
      for (const m of missing) extra[m] = ['This field is required.'];
      throw new HttpError(400, `Missing ${missing.join(' and ')}.`, 'ValidationError', missing, extra);
    }
    const expected = users[username!];
    const ok =
      expected !== undefined &&
      expected.length === password!.length &&
      crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(password!));
    if (!ok) {
      const text = 'Unable to log in with provided credentials.';
      throw new HttpError(400, text, 'ValidationError', [], { non_field_errors: [text] });
    }
    sendJson(ctx, 200, { token: tokens.issue(username!, ttl) });
  }

  function verify(ctx: Ctx, body: ParsedBody): void {
    const token = fieldString(body.fields, 'jwt') ?? fieldString(body.fields, 'token');
    if (!token) {
      throw new HttpError(400, 'Missing "jwt".', 'ValidationError', ['jwt'], { jwt: ['This field is required.'] });
    }
    const check = tokens.check(token);
    if (!check.ok) throw new HttpError(400, check.error, 'ValidationError', [], { non_field_errors: [check.error] });
    sendJson(ctx, 200, { token });
  }

  function list(ctx: Ctx): void {
    sendJson(
      ctx,
      200,
      softwareNames().map((name) => ({
        name,
        info: {
          sw: SOFTWARE_INFO[name] ?? { desc: `Software ${name} (test image).`, shortname: name, urls: {}, keywords: [] },
        },
      })),
    );
  }

  async function museRun(ctx: Ctx, body: ParsedBody, name: string): Promise<void> {
    const user = authenticate(body.fields);
    const run = await submit(name, body, user);
    const u = urls(ctx.base, run);
    sendJson(ctx, 200, {
      msg:
        `GET ${u.state} request to get cluster job state, while waiting for results (the GET ${u.run} request to ` +
        `get results will be possible once job finished). Keep the software name value=${name} and the key ` +
        `value=${run.key} in order to be able to follow your POST request. Notifications will be sent during ` +
        `process running if mail-user given into sbatch_list option.`,
      url: u.state,
    });
  }

  /** `software/run/{name}/`: runs, waits for the end, answers the results at once. */
  async function syncRun(ctx: Ctx, body: ParsedBody, name: string): Promise<void> {
    const user = authenticate(body.fields);
    const run = await submit(name, body, user);
    let gone = false;
    ctx.res.on('close', () => (gone = true));
    let s = await stateOf(run);
    while (!isFinal(s.state) && s.state !== 'unknown') {
      if (gone || closed) return;
      await new Promise((r) => setTimeout(r, SYNC_POLL_MS));
      s = await stateOf(run);
    }
    const report = reportOf(run, s, 'localhost');
    if (report.cr !== 'OK') {
      const stderr = await engine.tail(run.ref, 'stderr', 2000).catch(() => '');
      throw new HttpError(400, `The run ended with errors (${String((report.process as Json).latest_state)}).`, 'RunFailed', (stderr ?? '').split('\n').filter(Boolean), {
        info: { report },
      });
    }
    await answerResults(ctx, run, report);
  }

  async function state(ctx: Ctx, name: string, key: string): Promise<void> {
    const run = await findRun(name, key);
    const s = await stateOf(run);
    const report = reportOf(run, s);
    const u = urls(ctx.base, run);
    let msg: string;
    let url: string;
    if (report.cr === 'OK') {
      msg = `End of job. You can now get results by GET ${u.run} request or ask for content (to investigate) by GET ${u.content} request.`;
      url = u.run;
    } else if (report.cr === 'NOK') {
      msg = `End of job, with errors: no results. Ask for content (to investigate) by GET ${u.content} request.`;
      url = u.content;
    } else {
      msg = `Job not finished. Ask again later by GET ${u.state} request (or ask for content by GET ${u.content} request).`;
      url = u.state;
    }
    sendJson(ctx, 200, { info: { report }, msg, url });
  }

  async function results(ctx: Ctx, name: string, key: string): Promise<void> {
    const run = await findRun(name, key);
    const s = await stateOf(run);
    const report = reportOf(run, s);
    if (report.cr !== 'OK') {
      const u = urls(ctx.base, run);
      const why = report.cr === 'NOK' ? 'The job ended with errors (cr NOK): there are no results.' : 'The job is not finished (cr WAIT): no results yet.';
      throw new HttpError(400, why, 'NotReady', [`state: GET ${u.state}`, `content: GET ${u.content}`], { info: { report } });
    }
    await answerResults(ctx, run, report);
  }

  async function content(ctx: Ctx, name: string, key: string): Promise<void> {
    const run = await findRun(name, key);
    const tmp = path.join(dirs.tmp, `${crypto.randomUUID()}-content.zip`);
    await engine.content(run.ref, tmp);
    await sendFile(ctx, tmp, `${run.key}.zip`, () => void fs.promises.rm(tmp, { force: true }));
  }

  async function download(ctx: Ctx, body: ParsedBody): Promise<void> {
    const key = fieldString(body.fields, 'key');
    if (!key) throw new HttpError(400, 'Missing "key" parameter.', 'ParseError', ['key']);
    const dir = path.join(dirs.downloads, key);
    const files = DOWNLOAD_KEY_RE.test(key) ? await fs.promises.readdir(dir).catch(() => [] as string[]) : [];
    if (files.length !== 1) throw new HttpError(404, `Unknown download key "${key}".`, 'NotFound', [`key=${key}`]);
    await sendFile(ctx, path.join(dir, files[0]), files[0]);
  }

  // ---- routing ------------------------------------------------------------------------------

  type Handler = (ctx: Ctx, body: ParsedBody, params: string[]) => Promise<void> | void;
  const routes: { method: string; re: RegExp; handler: Handler }[] = [
    { method: 'POST', re: /^jwt\/obtain\/?$/, handler: obtain },
    { method: 'POST', re: /^jwt\/verify\/?$/, handler: verify },
    { method: 'GET', re: /^software\/list\/$/, handler: list },
    { method: 'POST', re: new RegExp(`^software/run/(${NAME_RE})/$`), handler: (c, b, p) => syncRun(c, b, p[0]) },
    { method: 'POST', re: new RegExp(`^software/muse/run/(${NAME_RE})/$`), handler: (c, b, p) => museRun(c, b, p[0]) },
    { method: 'GET', re: new RegExp(`^software/muse/state/(${NAME_RE})/(${KEY_RE})/$`), handler: (c, _b, p) => state(c, p[0], p[1]) },
    { method: 'GET', re: new RegExp(`^software/muse/run/(${NAME_RE})/(${KEY_RE})/$`), handler: (c, _b, p) => results(c, p[0], p[1]) },
    { method: 'GET', re: new RegExp(`^software/muse/content/(${NAME_RE})/(${KEY_RE})/$`), handler: (c, _b, p) => content(c, p[0], p[1]) },
    { method: 'GET', re: /^download\/$/, handler: download },
  ];

  function route(rest: string): { method: string; handler: Handler; params: string[] }[] {
    const found = [];
    for (const r of routes) {
      const m = r.re.exec(rest);
      if (m) found.push({ method: r.method, handler: r.handler, params: m.slice(1) });
    }
    return found;
  }

  async function answerFault(ctx: Ctx, f: Fault): Promise<void> {
    const { res } = ctx;
    switch (f.kind) {
      case 'status500':
        sendBuffer(
          ctx,
          500,
          Buffer.from('<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n'),
          { 'Content-Type': 'text/html; charset=utf-8' },
        );
        return;
      case 'malformed':
        sendBuffer(ctx, 200, Buffer.from('{"info": {"report": {"request": {"cmd": "python /add.py 4 5", "cr": OK'), {
          'Content-Type': 'application/json',
        });
        return;
      case 'errorBody':
        sendJson(ctx, 200, {
          error: 'Injected failure: the service could not process the request.',
          more: ['fault switch errorBody', `path: ${ctx.record.path}`],
          type: 'TestFault',
        });
        return;
      case 'reset': {
        const sock = res.socket as (NonNullable<typeof res.socket> & { resetAndDestroy?: () => void }) | null;
        if (sock?.resetAndDestroy) sock.resetAndDestroy();
        else sock?.destroy();
        return;
      }
      default:
        return;
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      contentType: req.headers['content-type'],
      fields: {},
      files: [],
    };
    requests.push(record);
    const ctx: Ctx = { req, res, record, base: `http://${req.headers.host ?? '127.0.0.1'}/api/`, truncate: false };
    const uploadDir = path.join(dirs.uploads, crypto.randomUUID());
    const dropAll = () => fs.promises.rm(uploadDir, { recursive: true, force: true }).catch(() => undefined);
    try {
      const fault = faults.take(url.pathname + url.search, req.method);
      if (fault?.kind === 'delay') {
        await new Promise<void>((r) => {
          const t = setTimeout(r, fault.delayMs ?? 1000);
          res.on('close', () => {
            clearTimeout(t);
            r();
          });
        });
        if (res.destroyed || closed) return;
      }
      ctx.truncate = fault?.kind === 'truncate';

      const readBody = async (): Promise<ParsedBody> => {
        const b = await parseBody(req, uploadDir);
        addQuery(b.fields, url.searchParams);
        record.fields = recordFields(b.fields);
        record.files = b.uploads.map((u) => u.name);
        return b;
      };

      if (fault && fault.kind !== 'delay' && fault.kind !== 'truncate') {
        await readBody();
        await dropAll();
        await answerFault(ctx, fault);
        return;
      }

      if (!url.pathname.startsWith('/api/')) {
        throw new HttpError(404, `Not found: ${url.pathname}`, 'NotFound');
      }
      const rest = url.pathname.slice('/api/'.length);
      let matches = route(rest);
      if (matches.length === 0 && !rest.endsWith('/') && route(`${rest}/`).length > 0) {
        // Django's APPEND_SLASH: a permanent redirect, which clients follow with a GET.
        res.writeHead(301, { Location: `${url.pathname}/${url.search}`, 'Content-Length': '0' });
        res.end();
        return;
      }
      if (matches.length === 0) throw new HttpError(404, `Not found: ${url.pathname}`, 'NotFound');
      matches = matches.filter((m) => m.method === req.method);
      if (matches.length === 0) {
        const text = `Method "${req.method}" not allowed.`;
        throw new HttpError(405, text, 'MethodNotAllowed', [], { detail: text });
      }
      const b = await readBody();
      await matches[0].handler(ctx, b, matches[0].params);
    } catch (e) {
      const err =
        e instanceof HttpError
          ? e
          : e instanceof BadBody
            ? new HttpError(400, e.message, 'ParseError')
            : isMuseError(e) && (e.code === 'usage' || e.code === 'refused')
              ? new HttpError(400, e.message, 'ParseError')
              : isMuseError(e, 'notFound')
                ? new HttpError(404, e.message, 'NotFound')
                : new HttpError(500, `Server error: ${(e as Error)?.message ?? String(e)}`, 'ServerError');
      // A refused request keeps nothing it sent; cleaned before answering so clients see it gone.
      await dropAll();
      if (res.headersSent) res.socket?.destroy();
      else if (!res.destroyed) sendError(ctx, err);
    } finally {
      await dropAll(); // uploads of a request that broke off half way
    }
  }

  // Idle connections are kept 75 s, as nginx (the usual front of a Django service) does by
  // default; Node's own default (5 s) would close them between two state polls.
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    issueToken: (user, ttlSeconds) => tokens.issue(user, ttlSeconds ?? ttl),
    faults: { set: (f) => faults.set(f), clear: () => faults.clear() },
    requests,
    close: async () => {
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
