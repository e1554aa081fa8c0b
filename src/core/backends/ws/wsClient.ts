/**
 * Client of the Muse web API ("ws"): every endpoint of the documented API (jwt obtain/verify,
 * software list, cluster run, state, results, sync run, content, download) and what each
 * answer must hold. The JWT travels as a request parameter (never in a URL or a message).
 * The pieces: requests, timeouts and retries in `wsTransport.ts`, request bodies in
 * `wsRequestBody.ts`, answer reading and sniffing in `wsAnswer.ts`, tolerant parsers in
 * `wsParse.ts`.
 */
import type { OpOptions } from '../../backend';
import { isJwtExpired } from '../../jwt';
import { MuseError } from '../../errors';
import type { ResultOutcome, SoftwareInfo, StateReport } from '../../model';
import { readJson, resultOutcome, type WsResponse } from './wsAnswer';
import { bodyExcerpt, parseObtainedToken, parseRunKey, parseSoftwareList, parseStateReport } from './wsParse';
import { jsonBody, runBody, type WsRunParams } from './wsRequestBody';
import { WsTransport, type WsClientOptions } from './wsTransport';

/** What a cluster submit answered. */
export interface WsSubmitAnswer {
  key: string;
  /** The state URL given by the server. */
  stateUrl?: string;
  message?: string;
  /** The whole answer. */
  body: unknown;
}

function encodeSeg(s: string, what: string): string {
  if (s === '' || s === '.' || s === '..' || /[/\\?#\s]/.test(s)) {
    throw new MuseError('usage', `Invalid ${what}: ${JSON.stringify(s)}.`);
  }
  return encodeURIComponent(s);
}

/** Client of one Muse web API. */
export class WsClient {
  /** The base URL, ending in `/`. */
  readonly baseUrl: string;
  private readonly transport: WsTransport;

  constructor(opts: WsClientOptions) {
    this.transport = new WsTransport(opts);
    this.baseUrl = this.transport.baseUrl;
  }

  /** Closes the connections of this client. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /** `POST jwt/obtain`: a token for these credentials (`auth` error when refused). */
  async obtainToken(username: string, password: string, opts: OpOptions = {}): Promise<string> {
    const res = await this.transport.call(
      { method: 'POST', path: 'jwt/obtain/', idempotent: false, what: 'the login', token: password, body: async () => jsonBody({ username, password }) },
      opts,
      { authOnClientError: true },
    );
    const body = await readJson(this.transport, res, 'the login', password);
    const token = parseObtainedToken(body);
    if (!token) throw new MuseError('malformed', 'The login answer holds no token (expected a "token", "access" or "jwt" field).', { url: this.transport.safeUrl('jwt/obtain/') });
    return token;
  }

  /**
   * `POST jwt/verify`: whether the server still accepts this token. A token whose `exp` is
   * past is refused here without asking. Rejects (network, server) when it cannot tell.
   */
  async verifyToken(token: string, opts: OpOptions = {}): Promise<boolean> {
    if (!token || isJwtExpired(token)) return false;
    let res: WsResponse;
    try {
      res = await this.transport.call(
        // `jwt` is the documented name; `token` is what DRF-JWT servers read.
        { method: 'POST', path: 'jwt/verify/', idempotent: false, what: 'the token check', token, body: async () => jsonBody({ jwt: token, token }) },
        opts,
        { authOnClientError: true },
      );
    } catch (e) {
      if (e instanceof MuseError && (e.code === 'auth' || (e.details.status !== undefined && e.details.status >= 400 && e.details.status < 500 && e.code !== 'notFound'))) return false;
      throw e;
    }
    const body = await readJson(this.transport, res, 'the token check', token, true);
    if (body && typeof body === 'object' && (body as { valid?: unknown }).valid === false) return false;
    return true;
  }

  /** `GET software/list/`. */
  async listSoftware(opts: OpOptions = {}): Promise<SoftwareInfo[]> {
    const res = await this.transport.call({ method: 'GET', path: 'software/list/', idempotent: true, what: 'the software list' }, opts);
    const body = await readJson(this.transport, res, 'the software list');
    const list = parseSoftwareList(body);
    if (!list) throw new MuseError('malformed', 'The software list answer is not a list of software.', { url: this.transport.safeUrl('software/list/') });
    return list;
  }

  /** `POST software/muse/run/{name}/`: submits a cluster run; resolves with its key. Never retried once sent. */
  async submit(name: string, params: WsRunParams, token: string, opts: OpOptions = {}): Promise<WsSubmitAnswer> {
    this.checkToken(token);
    const path = `software/muse/run/${encodeSeg(name, 'software name')}/`;
    const res = await this.transport.call(
      { method: 'POST', path, idempotent: false, token, what: `the submission of ${name}`, body: () => runBody(params, token, opts) },
      opts,
      { authOnClientError: true },
    );
    const body = await readJson(this.transport, res, `the submission of ${name}`, token);
    const key = parseRunKey(body);
    if (!key) {
      throw new MuseError('malformed', `The server accepted the submission of ${name} but its answer holds no run key: ${bodyExcerpt(JSON.stringify(body))}`, { url: this.transport.safeUrl(path) });
    }
    const b = body as { url?: unknown; msg?: unknown };
    return {
      key,
      stateUrl: typeof b.url === 'string' ? b.url : undefined,
      message: typeof b.msg === 'string' ? b.msg : undefined,
      body,
    };
  }

  /** `GET software/muse/state/{name}/{key}/`. */
  async state(name: string, key: string, opts: OpOptions = {}): Promise<StateReport> {
    const path = `software/muse/state/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    const what = `the state of run ${key}`;
    return this.transport.read({ method: 'GET', path, idempotent: true, what }, opts, async (res) => parseStateReport(await readJson(this.transport, res, what)));
  }

  /**
   * `GET software/muse/run/{name}/{key}/`: the results. Stdout comes back as text, files are
   * streamed to `destFile`, a `todownload=yes` run gives its download key.
   */
  async results(name: string, key: string, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    const path = `software/muse/run/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    const what = `the results of run ${key}`;
    return this.transport.read({ method: 'GET', path, idempotent: true, what }, opts, (res) => resultOutcome(this.transport, res, destFile, { what, path }, opts));
  }

  /** `POST software/run/{name}/`: runs on the service host and answers with the result. Never retried once sent. */
  async runSync(name: string, params: WsRunParams, token: string, destFile: string, opts: OpOptions = {}): Promise<ResultOutcome> {
    this.checkToken(token);
    const path = `software/run/${encodeSeg(name, 'software name')}/`;
    const what = `the run of ${name}`;
    const res = await this.transport.call(
      { method: 'POST', path, idempotent: false, token, what, body: () => runBody(params, token, opts) },
      opts,
      { authOnClientError: true },
    );
    return resultOutcome(this.transport, res, destFile, { what, path, token }, opts);
  }

  /** `GET software/muse/content/{name}/{key}/`: the run folder as a zip, streamed to `destFile`. */
  async content(name: string, key: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    const path = `software/muse/content/${encodeSeg(name, 'software name')}/${encodeSeg(key, 'run key')}/`;
    return this.fileOnly(path, `the content of run ${key}`, destFile, opts);
  }

  /** `GET download/?key=K`: a result kept for later, streamed to `destFile`. */
  async download(downloadKey: string, destFile: string, opts: OpOptions = {}): Promise<{ path: string; bytes: number }> {
    if (!downloadKey || /[\s&#]/.test(downloadKey)) throw new MuseError('usage', `Invalid download key: ${JSON.stringify(downloadKey)}.`);
    return this.fileOnly(`download/?key=${encodeURIComponent(downloadKey)}`, `the download ${downloadKey}`, destFile, opts);
  }

  private checkToken(token: string): void {
    if (!token) throw new MuseError('auth', 'Not signed in to the Muse API: sign in first.');
    if (isJwtExpired(token)) throw new MuseError('auth', 'Your Muse API token has expired: sign in again.');
  }

  /** An answer that must be file bytes (content zip, download): JSON there is an error. */
  private async fileOnly(path: string, what: string, destFile: string, opts: OpOptions): Promise<{ path: string; bytes: number }> {
    const t = this.transport;
    const out = await t.read(
      { method: 'GET', path, idempotent: true, what },
      opts,
      async (res): Promise<ResultOutcome> => (res.written !== undefined ? { kind: 'file', path: destFile, bytes: res.written } : resultOutcome(t, res, destFile, { what, path }, opts)),
      t.rawGetsAllowed() ? { toFile: destFile } : {},
    );
    if (out.kind === 'file') return { path: out.path, bytes: out.bytes };
    throw new MuseError('malformed', `The Muse server answered ${what} with ${out.kind === 'stdout' ? 'a stdout text' : 'another download key'} instead of a file.`, { url: t.safeUrl(path) });
  }
}
