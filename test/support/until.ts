/** Waiting in tests: poll a condition with a deadline, never sleep a fixed time. */

/** Options of `until`. */
export interface UntilOptions {
  /** How long to keep trying (default 10 s). */
  timeoutMs?: number;
  /** Pause between tries (default 50 ms). */
  intervalMs?: number;
}

/**
 * Calls `check` until it gives a value other than `undefined` or `false`, and resolves with that
 * value. A check that throws is tried again (a file still being written, a server not up yet).
 * At the deadline it fails with an error naming `what`, how long it waited, and the last value
 * or error seen (that error is also the `cause`).
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: UntilOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = { value: v };
    } catch (e) {
      last = { error: e };
    }
    if (Date.now() >= deadline) {
      const seen = last && 'error' in last ? `last error: ${errorText(last.error)}` : `last value: ${String(last?.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`, last && 'error' in last ? { cause: last.error } : undefined);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
