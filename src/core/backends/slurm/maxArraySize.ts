/**
 * Slurm's MaxArraySize (the largest array a sweep can be), read once per connection from
 * `scontrol show config`: a sweep too big for it is refused before anything is sent.
 */
import type { ExecOptions, ExecResult } from './sshExec';

/** `MaxArraySize` from `scontrol show config` output (`MaxArraySize = 1001`); undefined when absent. */
export function parseMaxArraySize(configText: string): number | undefined {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(configText);
  return m ? Number(m[1]) : undefined;
}

/** The answers, by connection (a connection is one cluster: asked once). */
const maxArrayCache = new WeakMap<object, Promise<number | undefined>>();

/**
 * The cluster's MaxArraySize, read once per connection from `scontrol show config`
 * (undefined when scontrol does not say: the submit goes on and sbatch judges).
 */
export function maxArraySize(conn: { exec(args: readonly string[], opts?: ExecOptions): Promise<ExecResult> }, signal?: AbortSignal): Promise<number | undefined> {
  let p = maxArrayCache.get(conn);
  if (!p) {
    p = conn.exec(['scontrol', 'show', 'config'], { signal }).then((r) => (r.code === 0 ? parseMaxArraySize(r.stdout.toString('utf8')) : undefined));
    maxArrayCache.set(conn, p);
    p.catch(() => maxArrayCache.delete(conn));
  }
  return p;
}
