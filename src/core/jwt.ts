/**
 * Reading a JWT's claims without checking its signature (the server checks it): the one place
 * that decodes tokens, for the CLI, the ws client and the extension's renewal.
 */

/** The claims of a JWT's payload, or undefined when the token is not a readable JWT. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function seconds(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * `exp` and the issue time (`iat`, or `orig_iat` as djangorestframework-jwt writes it) of a JWT,
 * in seconds since the epoch; absent when the token does not say (or is not a JWT).
 */
export function jwtTimes(token: string): { exp?: number; iat?: number } {
  const claims = jwtClaims(token);
  if (!claims) return {};
  const out: { exp?: number; iat?: number } = {};
  const exp = seconds(claims.exp);
  const iat = seconds(claims.iat) ?? seconds(claims.orig_iat);
  if (exp !== undefined) out.exp = exp;
  if (iat !== undefined) out.iat = iat;
  return out;
}

/** The `exp` claim of a JWT (seconds since the epoch), read without checking the signature. */
export function jwtExpiry(token: string): number | undefined {
  return jwtTimes(token).exp;
}

/** True when the token is a JWT whose `exp` is past (with a small allowance for clock skew). */
export function isJwtExpired(token: string, nowMs = Date.now(), skewSeconds = 5): boolean {
  const exp = jwtExpiry(token);
  return exp !== undefined && exp + skewSeconds < nowMs / 1000;
}
