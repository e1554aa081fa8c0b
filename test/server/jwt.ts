/**
 * HS256 JSON Web Tokens for the ws test server, signed with node:crypto, with the messages
 * DRF-JWT gives on refusal (so clients see the texts the real service sends).
 */
import * as crypto from 'crypto';

/** Why a token was refused, with DRF-JWT's wording. */
export type TokenCheck =
  | { ok: true; user: string; exp: number }
  | { ok: false; error: string };

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs and checks the tokens of one server (its own random secret). */
export class TokenIssuer {
  private readonly secret: Buffer;

  constructor(secret: Buffer = crypto.randomBytes(32)) {
    this.secret = secret;
  }

  /** A token for `user` valid `ttlSeconds` from now (negative: already expired). */
  issue(user: string, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ username: user, user_id: user, orig_iat: now, exp: now + ttlSeconds }));
    return `${header}.${payload}.${this.sign(`${header}.${payload}`)}`;
  }

  /** Checks signature and expiry; never throws. */
  check(token: string | undefined): TokenCheck {
    if (!token) return { ok: false, error: 'Authentication credentials were not provided.' };
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, error: 'Error decoding signature.' };
    const [header, payload, sig] = parts;
    const expected = Buffer.from(this.sign(`${header}.${payload}`));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
      return { ok: false, error: 'Error decoding signature.' };
    }
    let claims: { username?: unknown; exp?: unknown; alg?: unknown };
    try {
      const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
      if (head.alg !== 'HS256') return { ok: false, error: 'Error decoding signature.' };
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return { ok: false, error: 'Error decoding signature.' };
    }
    if (typeof claims.exp !== 'number' || typeof claims.username !== 'string') {
      return { ok: false, error: 'Invalid payload.' };
    }
    if (claims.exp <= Math.floor(Date.now() / 1000)) return { ok: false, error: 'Signature has expired.' };
    return { ok: true, user: claims.username, exp: claims.exp };
  }

  private sign(input: string): string {
    return crypto.createHmac('sha256', this.secret).update(input).digest('base64url');
  }
}
