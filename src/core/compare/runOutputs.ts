/**
 * Reading the output of many runs at once, for the results table and Compare: ONE `follow`
 * batch per backend (empty offsets, a tail of `maxBytes`: one state call and pipelined reads
 * per cluster), and only where a backend cannot follow, one read per run with bounded
 * concurrency (`output`, else the stdout of `results`).
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend, OutputStream } from '../backend';
import { can } from '../backend';
import { mapLimit } from '../concurrency';
import { errorMessage } from '../errors';
import type { Run } from '../model';
import { tailOfFile, tailOfParts, tailOfText } from '../outputTail';
import type { TailText } from '../outputTail';
import { runRef } from '../runs';

/** One run's output as read: its text (the tail), or why there is none. */
export type OutputRead = TailText | { missing: string };

export interface ReadOutputsOptions {
  stream?: OutputStream;
  /** At most this many bytes of the end of each output (default 64 KB). */
  maxBytes?: number;
  /** Reads at once for a backend that cannot follow (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

export const DEFAULT_TAIL_BYTES = 64 * 1024;

/**
 * The ends of these runs' outputs, by run id. `backendOf` gives each run's backend (runs of one
 * profile share one, and one batch); a run without a key, or a backend that fails, gives
 * `{ missing }` with the reason: one unreadable run never hides the others.
 */
export async function readOutputs(runs: readonly Run[], backendOf: (run: Run) => Promise<Backend>, opts: ReadOutputsOptions = {}): Promise<Map<string, OutputRead>> {
  const out = new Map<string, OutputRead>();
  const byProfile = new Map<string, Run[]>();
  for (const r of runs) {
    if (!r.key) {
      out.set(r.id, { missing: 'not submitted' });
      continue;
    }
    const list = byProfile.get(r.profile) ?? [];
    list.push(r);
    byProfile.set(r.profile, list);
  }
  await Promise.all(
    [...byProfile.values()].map(async (group) => {
      try {
        const backend = await backendOf(group[0]!);
        const got = can(backend, 'follow') ? await followTails(backend, group, opts) : await readEach(backend, group, opts);
        for (const [id, r] of got) out.set(id, r);
      } catch (e) {
        for (const r of group) out.set(r.id, { missing: errorMessage(e) });
      }
    }),
  );
  return out;
}

async function followTails(backend: Backend & Required<Pick<Backend, 'follow'>>, runs: Run[], opts: ReadOutputsOptions): Promise<Map<string, OutputRead>> {
  const stream = opts.stream ?? 'stdout';
  const maxBytes = opts.maxBytes ?? DEFAULT_TAIL_BYTES;
  const answers = await backend.follow(
    runs.map((r) => ({ run: runRef(r), stream, offsets: {}, maxBytes })),
    { signal: opts.signal },
  );
  const out = new Map<string, OutputRead>();
  runs.forEach((r, i) => {
    const a = answers[i];
    if (!a) out.set(r.id, { missing: 'no answer' });
    else if (a.error) out.set(r.id, { missing: errorMessage(a.error) });
    else if (a.missing) out.set(r.id, { missing: 'no output yet' });
    else out.set(r.id, tailOfParts(a.parts));
  });
  return out;
}

async function readEach(backend: Backend, runs: Run[], opts: ReadOutputsOptions): Promise<Map<string, OutputRead>> {
  const stream = opts.stream ?? 'stdout';
  const maxBytes = opts.maxBytes ?? DEFAULT_TAIL_BYTES;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-outputs-'));
  try {
    const reads = await mapLimit(runs, opts.concurrency ?? 4, async (r, i): Promise<OutputRead> => {
      const dest = path.join(dir, `${i}.txt`);
      try {
        if (can(backend, 'output')) {
          await backend.output(runRef(r), stream, dest, { signal: opts.signal });
          return await tailOfFile(dest, maxBytes);
        }
        if (stream !== 'stdout') return { missing: 'this backend serves stdout only' };
        if (r.state !== 'ok') return { missing: `no output (${r.state})` };
        const res = await backend.results(runRef(r), dest, { signal: opts.signal });
        if (res.kind === 'stdout') return tailOfText(res.text, maxBytes);
        if (res.kind === 'file' && !res.path.endsWith('.zip')) return await tailOfFile(res.path, maxBytes);
        return { missing: res.kind === 'file' ? 'the results are a zip' : 'the results are kept for download' };
      } catch (e) {
        return { missing: errorMessage(e) };
      }
    });
    return new Map(runs.map((r, i) => [r.id, reads[i]!]));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
