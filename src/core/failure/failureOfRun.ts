/**
 * Reads the tails of a failed run's stderr and stdout from its backend and explains the failure
 * (explainFailure.ts). The one place that fetches what the explanation needs.
 */
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { Backend, OpOptions, OutputStream } from '../backend';
import { can } from '../backend';
import type { Run } from '../model';
import { runRef } from '../runs';
import { explainFailure } from './explainFailure';
import type { FailureCause } from './explainFailure';

/** Bytes read from the end of each stream: enough for a long traceback. */
export const FAILURE_TAIL_BYTES = 64 * 1024;

async function tailOf(backend: Backend, run: Run, stream: OutputStream, opts: OpOptions): Promise<string> {
  try {
    if (can(backend, 'tail')) return await backend.tail(runRef(run), stream, FAILURE_TAIL_BYTES, opts);
    if (can(backend, 'output')) {
      // The web API has no tail: the stream comes whole (once, when the run has ended).
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-failure-'));
      try {
        const { path: file } = await backend.output(runRef(run), stream, path.join(dir, `${stream}.txt`), opts);
        const fh = await fsp.open(file, 'r');
        try {
          const { size } = await fh.stat();
          const len = Math.min(size, FAILURE_TAIL_BYTES);
          const buf = Buffer.alloc(len);
          await fh.read(buf, 0, len, size - len);
          return buf.toString('utf8');
        } finally {
          await fh.close();
        }
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    }
  } catch {
    // No output (the job never started, the file was removed): explained by the state alone.
  }
  return '';
}

/** The cause of an ended run's failure (undefined for a run that ended ok or has not ended). */
export async function failureOfRun(backend: Backend, run: Run, opts: OpOptions = {}): Promise<FailureCause | undefined> {
  if (run.state !== 'failed' && run.state !== 'cancelled') return undefined;
  // Without a tail (the web API), each stream costs a download of the whole run folder: stderr
  // alone, where tracebacks and kills are written.
  const withStdout = can(backend, 'tail');
  const [stderr, stdout] = await Promise.all([tailOf(backend, run, 'stderr', opts), withStdout ? tailOf(backend, run, 'stdout', opts) : Promise.resolve('')]);
  return explainFailure(run, stderr, stdout);
}
