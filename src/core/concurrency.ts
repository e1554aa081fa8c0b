/**
 * Bounded concurrency: the one pool helper, for uploads, state requests and local state reads.
 */

/**
 * Runs `fn` over `items` with at most `limit` calls at once, and resolves with the results in
 * the order of `items`. The first rejection rejects the whole (the calls already started run to
 * their end; no new one starts).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
