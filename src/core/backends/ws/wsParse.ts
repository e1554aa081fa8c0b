/**
 * Tolerant readers of the Muse web API's answers: state reports, submit answers, software
 * lists, error bodies and login answers (JWT claims are read by `src/core/jwt.ts`). Nothing
 * here does I/O, and nothing here throws on an odd shape: what cannot be read becomes
 * `unknown` or `undefined`, so that the caller decides.
 */
import type { RawFacts, RunState, SoftwareInfo, StateReport } from '../../model';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A scalar as a trimmed string (numbers and booleans too), or undefined. */
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

const FAILED_SLURM = new Set(['FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED']);

/** First word of a Slurm state: `CANCELLED by 1000` -> `CANCELLED`, `cancelled+` -> `CANCELLED`. */
function slurmWord(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const m = /^[A-Za-z_]+/.exec(s.trim());
  return m ? m[0].toUpperCase() : undefined;
}

/** Finds the `report` object wherever the server put it (`info.report`, or at the top). */
function findReport(body: Obj): Obj | undefined {
  if (isObj(body.info) && isObj(body.info.report)) return body.info.report;
  if (isObj(body.report)) return body.report;
  if ('cr' in body || 'process' in body) return body;
  return undefined;
}

/**
 * Maps the raw facts of a ws state report to the normalized state:
 * WAIT -> waiting; OK -> ok, unless the Slurm side says the job failed or was cancelled;
 * NOK -> failed (cancelled when Slurm says CANCELLED); anything else -> unknown.
 */
export function wsStateOf(raw: Pick<RawFacts, 'cr' | 'latestCr' | 'slurmState'>): RunState {
  const cr = raw.cr?.toUpperCase();
  const latestCr = raw.latestCr?.toUpperCase();
  const slurm = slurmWord(raw.slurmState);
  switch (cr) {
    case 'WAIT':
      return 'waiting';
    case 'OK':
      if (slurm === 'CANCELLED') return 'cancelled';
      if (latestCr === 'ENDED_NOK' || (slurm !== undefined && FAILED_SLURM.has(slurm))) return 'failed';
      return 'ok';
    case 'NOK':
      return slurm === 'CANCELLED' ? 'cancelled' : 'failed';
    default:
      return 'unknown';
  }
}

/**
 * Reads a `software/muse/state/{name}/{key}/` answer (or a results answer, which carries the
 * same report). Never throws: an answer without a report gives `unknown` with what was there.
 */
export function parseStateReport(body: unknown): StateReport {
  if (!isObj(body)) {
    return { state: 'unknown', raw: { message: 'The server answered without a state report.' }, report: body };
  }
  const report = findReport(body);
  const proc = report && isObj(report.process) ? report.process : undefined;
  const raw: RawFacts = {};
  const set = <K extends keyof RawFacts>(k: K, v: RawFacts[K] | undefined): void => {
    if (v !== undefined) raw[k] = v;
  };
  set('cr', str(report?.cr));
  set('latestCr', str(proc?.latest_cr));
  set('slurmState', str(proc?.latest_state));
  set('jobId', str(proc?.job_id));
  set('jobName', str(proc?.jobname ?? proc?.job_name));
  set('message', str(body.msg) ?? (report ? undefined : 'The server answered without a state report.'));
  return { state: wsStateOf(raw), raw, report: body };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * The run key of a submit answer: from `url` (`.../state/{name}/{key}/`), else from `msg`
 * (`key value=...`, or the first uuid in it).
 */
export function parseRunKey(body: unknown): string | undefined {
  if (!isObj(body)) return undefined;
  const url = str(body.url);
  if (url) {
    const m = /\/state\/[^/?#]+\/([^/?#\s]+)\/?/.exec(url);
    if (m) return decodeURIComponent(m[1]);
  }
  const msg = str(body.msg);
  if (msg) {
    const kv = /key value\s*=\s*([A-Za-z0-9_-]+)/.exec(msg);
    if (kv) return kv[1];
    const st = /\/state\/[^/?#\s]+\/([^/?#\s]+)\//.exec(msg);
    if (st) return st[1];
    const u = UUID.exec(msg);
    if (u) return u[0];
  }
  return undefined;
}

/** A download key (`download/?key=K`) from an answer's `url`, else its `msg`. */
export function parseDownloadKey(body: unknown): string | undefined {
  if (!isObj(body)) return undefined;
  for (const text of [str(body.url), str(body.msg)]) {
    if (!text) continue;
    const m = /download\/?\?(?:[^\s"]*&)?key=([^&\s"#]+)/.exec(text);
    if (m) return decodeURIComponent(m[1]);
  }
  const msg = str(body.msg);
  const kv = msg && /key(?: value)?\s*[=:]\s*(\d{8}_\d{6}_[0-9a-f-]{36})/i.exec(msg);
  return kv ? kv[1] : undefined;
}

/** What a JSON answer of the results (or sync run, or download) endpoint means. */
export type WsResultBody =
  | { kind: 'error'; error: string; more?: unknown[]; type?: string }
  | { kind: 'stdout'; text: string; report: StateReport }
  | { kind: 'downloadKey'; key: string; url: string; message?: string }
  | { kind: 'report'; report: StateReport }
  | { kind: 'other' };

/** Classifies a JSON answer of the results endpoints. */
export function classifyResultBody(body: unknown): WsResultBody {
  const err = parseErrorBody(body);
  if (err) return { kind: 'error', ...err };
  if (!isObj(body)) return { kind: 'other' };
  const info = isObj(body.info) ? body.info : undefined;
  if (info && 'stdout' in info) {
    const s = info.stdout;
    const text = typeof s === 'string' ? s : s === null || s === undefined ? '' : typeof s === 'object' ? JSON.stringify(s) : String(s);
    return { kind: 'stdout', text, report: parseStateReport(body) };
  }
  const key = parseDownloadKey(body);
  if (key) {
    const url = str(body.url) ?? `download/?key=${encodeURIComponent(key)}`;
    return { kind: 'downloadKey', key, url, message: str(body.msg) };
  }
  if (findReport(body)) return { kind: 'report', report: parseStateReport(body) };
  return { kind: 'other' };
}

/** The server's `{"error", "more", "type"}` (or DRF's `{"detail"}`), when the body is one. */
export function parseErrorBody(body: unknown): { error: string; more?: unknown[]; type?: string } | undefined {
  if (!isObj(body)) return undefined;
  let error: string | undefined;
  if ('error' in body && body.error !== undefined && body.error !== null && body.error !== false) {
    error = typeof body.error === 'string' ? body.error : JSON.stringify(body.error);
  } else if (typeof body.detail === 'string' && Object.keys(body).length <= 2) {
    error = body.detail;
  }
  if (error === undefined) return undefined;
  const out: { error: string; more?: unknown[]; type?: string } = { error: error || '(no text)' };
  if (Array.isArray(body.more)) out.more = body.more;
  else if (body.more !== undefined && body.more !== null) out.more = [body.more];
  const type = str(body.type);
  if (type) out.type = type;
  return out;
}

/** Reads a `software/list/` answer; undefined when it is not a list of software. */
export function parseSoftwareList(body: unknown): SoftwareInfo[] | undefined {
  let items: unknown = body;
  if (isObj(body)) {
    items = ['software', 'list', 'results', 'softwares'].map((k) => body[k]).find(Array.isArray);
    if (items === undefined) {
      // A map `{name: info}` is read too.
      items = Object.entries(body).map(([name, info]) => ({ name, info }));
    }
  }
  if (!Array.isArray(items)) return undefined;
  const out: SoftwareInfo[] = [];
  for (const it of items) {
    if (typeof it === 'string') {
      out.push({ name: it });
      continue;
    }
    if (!isObj(it)) continue;
    const name = str(it.name);
    if (!name) continue;
    const info = isObj(it.info) ? it.info : undefined;
    const sw = info && isObj(info.sw) ? info.sw : info ?? {};
    const sinfo: SoftwareInfo = { name };
    const desc = str(sw.desc) ?? str(sw.description);
    if (desc) sinfo.description = desc;
    const shortName = str(sw.shortname);
    if (shortName) sinfo.shortName = shortName;
    if (isObj(sw.urls)) {
      const urls: Record<string, string> = {};
      for (const [k, v] of Object.entries(sw.urls)) if (typeof v === 'string') urls[k] = v;
      sinfo.urls = urls;
    }
    if (Array.isArray(sw.keywords)) sinfo.keywords = sw.keywords.filter((k): k is string => typeof k === 'string');
    out.push(sinfo);
  }
  return out;
}

/** The token of a `jwt/obtain` answer (`token`, `access` or `jwt`). */
export function parseObtainedToken(body: unknown): string | undefined {
  if (!isObj(body)) return undefined;
  for (const k of ['token', 'access', 'jwt']) {
    const v = body[k];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  return undefined;
}

/** Words in an error text that mean the token was refused. */
export function looksLikeAuthError(text: string): boolean {
  return /\b(token|jwt|signature|expired|credentials|not authenticated|unauthori[sz]ed)\b/i.test(text);
}

/** A short, plain-text excerpt of an unparsable body (an HTML error page gives its title). */
export function bodyExcerpt(text: string, max = 300): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text);
  let t = title ? title[1] : text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ');
  t = t.replace(/\s+/g, ' ').trim();
  if (t === '') return '(empty body)';
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
