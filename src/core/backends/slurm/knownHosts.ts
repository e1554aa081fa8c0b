/**
 * known_hosts checking, as OpenSSH does it: plain and hashed (`|1|salt|hash`) host patterns,
 * `[host]:port` for ports other than 22, wildcards and negations, `@revoked` lines, every
 * user file (`UserKnownHostsFile` may name several) and the global files, new keys recorded
 * in the first user file. `@cert-authority` lines are recognised and reported: host
 * certificates are not supported.
 */
import { createHash, createHmac } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { MuseError } from '../../errors';

/** The outcome of checking one host key. */
export type HostKeyCheck =
  | { status: 'match'; line: number }
  /** A key of the same type is recorded for this host, and it is another key. */
  | { status: 'mismatch'; line: number; recordedFingerprint: string }
  /** The key is listed as `@revoked`. */
  | { status: 'revoked'; line: number }
  /** No plain key is recorded for this host, but a `@cert-authority` line names it. */
  | { status: 'certAuthority'; line: number }
  | { status: 'unknown' };

/** The name OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:<base64 without padding>` of a public key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type written at the start of an SSH public key blob (`ssh-ed25519`, ...). */
export function keyTypeOfBlob(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > keyBlob.length) return 'unknown';
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's glob: `*` and `?`, case-insensitive for host names. */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
    'i',
  );
  return re.test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = entry.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = parts[3];
  const got = createHmac('sha1', salt).update(name).digest('base64');
  return got === want;
}

/** True when a host-pattern field of a known_hosts line matches the looked-up name. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat.startsWith('!')) {
      if (globMatch(pat.slice(1), name)) return false;
    } else if (globMatch(pat, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Checks a host key against the text of a known_hosts file.
 * @param names the names to look up (`[host]:port`, and the host alias when it differs).
 */
export function checkKnownHosts(text: string, names: string[], keyBlob: Buffer): HostKeyCheck {
  const keyType = keyTypeOfBlob(keyBlob);
  const keyB64 = keyBlob.toString('base64');
  let mismatch: HostKeyCheck | undefined;
  let match: HostKeyCheck | undefined;
  let ca: HostKeyCheck | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith('@')) marker = fields.shift();
    if (fields.length < 3) continue;
    const [hostField, type, b64] = fields;
    if (!names.some((n) => hostFieldMatches(hostField, n))) continue;
    if (marker === '@cert-authority') {
      // The server shows a plain key; a CA line only trusts certificates signed by that CA.
      ca ??= { status: 'certAuthority', line: i + 1 };
      continue;
    }
    if (marker === '@revoked') {
      if (b64 === keyB64) return { status: 'revoked', line: i + 1 };
      continue;
    }
    if (type !== keyType) continue;
    if (b64 === keyB64) match ??= { status: 'match', line: i + 1 };
    else mismatch ??= { status: 'mismatch', line: i + 1, recordedFingerprint: fingerprintSha256(Buffer.from(b64, 'base64')) };
  }
  // A matching line wins over a stale one (OpenSSH accepts any line that matches).
  return match ?? mismatch ?? ca ?? { status: 'unknown' };
}

/** A check's outcome with the file it was read from. */
export type HostKeyFinding = HostKeyCheck & { file?: string };

/**
 * Checks a host key against several known_hosts files, as OpenSSH reads them all: a revoked
 * key anywhere is refused, a matching line anywhere is accepted, else the first mismatch,
 * else the first `@cert-authority` line for the host, else unknown.
 */
export function checkKnownHostsFiles(files: readonly { file: string; text: string }[], names: string[], keyBlob: Buffer): HostKeyFinding {
  const found = files.map((f) => ({ ...checkKnownHosts(f.text, names, keyBlob), file: f.file }));
  for (const status of ['revoked', 'match', 'mismatch', 'certAuthority'] as const) {
    const hit = found.find((f) => f.status === status);
    if (hit) return hit;
  }
  return { status: 'unknown' };
}


/** Reads a known_hosts file; a missing file is empty. */
export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** Where a target's host keys are looked up and recorded. */
export interface KnownHostsFiles {
  /** The first user file: new keys are recorded here. */
  knownHostsFile: string;
  /** Every user file, in order (the first is `knownHostsFile`); absent: only `knownHostsFile`. */
  userKnownHostsFiles?: string[];
  /** The global files (`GlobalKnownHostsFile`), read but never written; absent: none. */
  globalKnownHostsFiles?: string[];
}

/** Every file a target's host keys are read from: its user files, then the global ones. */
export function knownHostsFilesOf(t: KnownHostsFiles): string[] {
  const user = t.userKnownHostsFiles?.length ? t.userKnownHostsFiles : [t.knownHostsFile];
  return [...new Set([...user, ...(t.globalKnownHostsFiles ?? [])])];
}

/** What `verifyHostKey` needs to know of the server and of the user. */
export interface HostKeyQuestion {
  /** The names to look up (`[host]:port`, and the alias when it differs); the first is recorded. */
  names: string[];
  files: KnownHostsFiles;
  /** Asked for a key found nowhere: true records it in the first user file. */
  askUnknown: (keyType: string, fingerprintSha256: string) => Promise<boolean>;
}

/**
 * Checks the key a server presented against every known_hosts file and throws a `refused`
 * MuseError that says what to do when it is revoked, changed, only covered by a certificate
 * authority, or unknown and not accepted. An accepted unknown key is recorded.
 */
export async function verifyHostKey(key: Buffer, q: HostKeyQuestion): Promise<void> {
  const files = knownHostsFilesOf(q.files);
  const global = new Set(q.files.globalKnownHostsFiles ?? []);
  const read = async (file: string) => {
    try {
      return { file, text: await readKnownHosts(file) };
    } catch (e) {
      // As OpenSSH does, a global file we may not read is passed over; one of the user's own is an error.
      if (global.has(file)) return { file, text: '' };
      throw new MuseError('io', `Cannot read the known hosts file ${file}: ${(e as Error).message}`, { cause: e });
    }
  };
  const texts = await Promise.all(files.map(read));
  const check = checkKnownHostsFiles(texts, q.names, key);
  const name = q.names[0];
  const fp = fingerprintSha256(key);
  const type = keyTypeOfBlob(key);
  const where = check.file && 'line' in check ? `${check.file} line ${check.line}` : '';
  switch (check.status) {
    case 'match':
      return;
    case 'revoked':
      throw new MuseError('refused', `The host key of ${name} (${type} ${fp}) is marked @revoked in ${where}. Connection refused.`);
    case 'mismatch':
      throw new MuseError(
        'refused',
        `HOST KEY MISMATCH for ${name}: the server offered ${type} ${fp}, but ${where} records ${check.recordedFingerprint}. ` +
          'Someone may be intercepting the connection, or the host key was changed. Connection refused; if the change is expected, ' +
          `remove that line (ssh-keygen -R '${name}' -f ${check.file}) and connect again.`,
      );
    case 'certAuthority':
      throw new MuseError(
        'refused',
        `${where} trusts a certificate authority (@cert-authority) for ${name}, but host certificates are not supported here, and the server's plain key ` +
          `(${type} ${fp}) is recorded nowhere. Connection refused. Add the host's plain key to ${q.files.knownHostsFile} ` +
          `(ssh-keyscan prints it; compare its fingerprint with what your administrators publish) and connect again.`,
      );
  }
  const ok = await q.askUnknown(type, fp);
  if (!ok) {
    const others = files.filter((f) => f !== q.files.knownHostsFile);
    throw new MuseError(
      'refused',
      `The host key of ${name} (${type} ${fp}) is not in ${q.files.knownHostsFile} and was not accepted. Connection refused.` +
        (others.length ? ` (Also looked in ${others.join(', ')}.)` : ''),
    );
  }
  // As OpenSSH does: a new key goes to the first user file.
  await appendKnownHost(q.files.knownHostsFile, name, key);
}

/** Appends `name keytype base64` to a known_hosts file (made 0600, with its folder 0700). */
export async function appendKnownHost(file: string, name: string, keyBlob: Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readKnownHosts(file);
  const sep = existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  await fs.appendFile(file, `${sep}${name} ${keyTypeOfBlob(keyBlob)} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}
