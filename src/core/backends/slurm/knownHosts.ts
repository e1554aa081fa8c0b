/**
 * known_hosts checking, as OpenSSH does it: plain and hashed (`|1|salt|hash`) host patterns,
 * `[host]:port` for ports other than 22, wildcards and negations, `@revoked` lines.
 */
import { createHash, createHmac } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

/** The outcome of checking one host key. */
export type HostKeyCheck =
  | { status: 'match'; line: number }
  /** A key of the same type is recorded for this host, and it is another key. */
  | { status: 'mismatch'; line: number; recordedFingerprint: string }
  /** The key is listed as `@revoked`. */
  | { status: 'revoked'; line: number }
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
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith('@')) marker = fields.shift();
    if (fields.length < 3) continue;
    const [hostField, type, b64] = fields;
    if (marker === '@cert-authority') continue; // host certificates are not used here
    if (!names.some((n) => hostFieldMatches(hostField, n))) continue;
    if (marker === '@revoked') {
      if (b64 === keyB64) return { status: 'revoked', line: i + 1 };
      continue;
    }
    if (type !== keyType) continue;
    if (b64 === keyB64) match ??= { status: 'match', line: i + 1 };
    else mismatch ??= { status: 'mismatch', line: i + 1, recordedFingerprint: fingerprintSha256(Buffer.from(b64, 'base64')) };
  }
  // A matching line wins over a stale one (OpenSSH accepts any line that matches).
  return match ?? mismatch ?? { status: 'unknown' };
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

/** Appends `name keytype base64` to a known_hosts file (made 0600, with its folder 0700). */
export async function appendKnownHost(file: string, name: string, keyBlob: Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readKnownHosts(file);
  const sep = existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  await fs.appendFile(file, `${sep}${name} ${keyTypeOfBlob(keyBlob)} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}
