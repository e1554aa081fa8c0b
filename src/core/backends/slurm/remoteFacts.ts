/**
 * What a submit needs to know about the far side, asked once per connection in one remote
 * command: the home folder (where `~/muse-runs` lives) and which of `tar`, `unzip` and `zip`
 * are on the PATH (tar makes uploads and downloads one stream; without it, SFTP file by file).
 */
import { MuseError } from '../../errors';
import type { SshConnection } from './sshConnection';

export interface RemoteFacts {
  /** The absolute home folder. */
  home: string;
  tar: boolean;
  unzip: boolean;
  zip: boolean;
}

const PROBE = 'printf "%s\\n" "$HOME"; for p in tar unzip zip; do if command -v "$p" >/dev/null 2>&1; then printf "%s\\n" "$p"; fi; done';

/** The answers, by connection (the same target: a reconnect does not change them). */
const cache = new WeakMap<SshConnection, Promise<RemoteFacts>>();

/** Reads the probe's output: the home folder on the first line, then one line per program found. */
export function parseRemoteFacts(out: string): RemoteFacts {
  const [home, ...found] = out.split('\n').map((l) => l.trim());
  if (!home || !home.startsWith('/')) throw new MuseError('malformed', `The cluster did not say its home folder (got ${JSON.stringify(out.slice(0, 200))}).`);
  return { home: home.replace(/\/+$/, '') || '/', tar: found.includes('tar'), unzip: found.includes('unzip'), zip: found.includes('zip') };
}

/** The facts of `conn`'s far side: one remote command the first time, cached on the connection after. */
export function remoteFacts(conn: SshConnection, signal?: AbortSignal): Promise<RemoteFacts> {
  let p = cache.get(conn);
  if (!p) {
    p = conn.execOk(['sh', '-c', PROBE], { signal }).then(parseRemoteFacts);
    cache.set(conn, p);
    p.catch(() => cache.delete(conn));
  }
  return p;
}
