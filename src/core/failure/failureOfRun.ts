/**
 * Reads the tails of a failed run's stderr and stdout from its backend and explains the failure
 * (explainFailure.ts). The one place that fetches what the explanation needs.
 */
import type { Backend, OpOptions, OutputStream } from '../backend';
import { can } from '../backend';
import type { Run } from '../model';
import { readRunTail } from '../outputTail';
import { explainFailure } from './explainFailure';
import type { FailureCause } from './explainFailure';

/** Bytes read from the end of each stream: enough for a long traceback. */
export const FAILURE_TAIL_BYTES = 64 * 1024;

async function tailOf(backend: Backend, run: Run, stream: OutputStream, opts: OpOptions): Promise<string> {
  try {
    // The web API has no tail: the stream comes whole (once, when the run has ended).
    return (await readRunTail(backend, run, stream, FAILURE_TAIL_BYTES, { ...opts, wholeOutput: true })) ?? '';
  } catch {
    // No output (the job never started, the file was removed): explained by the state alone.
    return '';
  }
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
