/**
 * The inputs of an SSH submit go up a few at a time (the core's mapLimit), and a failed upload
 * stops the rest before submit removes the half-made run folder: no upload may still be writing
 * into it then. A stand-in SFTP session records the uploads and decides when each one ends.
 */
import * as assert from 'assert';
import type { Progress } from '../../src/core/backend';
import { uploadInputs } from '../../src/core/backends/slurm/runInputs';
import type { RunInputs, WithConnection } from '../../src/core/backends/slurm/runInputs';
import type { SshConnection } from '../../src/core/backends/slurm/sshConnection';
import { MuseError, isMuseError } from '../../src/core/errors';
import { until } from '../support/until';

interface Put {
  remote: string;
  finish(err?: Error): void;
}

/** A connection whose SFTP `fastPut` waits until the test finishes it. */
function standIn(): { withConnection: WithConnection; puts: Put[]; inFlight: () => number } {
  const puts: Put[] = [];
  let inFlight = 0;
  const sftp = {
    fastPut(_local: string, remote: string, opts: { step: (done: number) => void }, cb: (err?: Error) => void) {
      inFlight++;
      puts.push({
        remote,
        finish: (err) => {
          inFlight--;
          if (!err) opts.step(10);
          cb(err);
        },
      });
    },
  };
  const conn = { sftp: (fn: (s: typeof sftp) => Promise<unknown>) => fn(sftp) } as unknown as SshConnection;
  return { withConnection: (fn) => fn(conn), puts, inFlight: () => inFlight };
}

function inputs(n: number): RunInputs {
  const names = Array.from({ length: n }, (_, i) => `d/f${i}.txt`);
  return { files: new Map(names.map((m) => [m, `/local/${m}`])), sizes: new Map(names.map((m) => [m, 10])), order: names };
}

describe('SSH input uploads', () => {
  it('sends every file into the upload folder, at most 8 at once, and reports the bytes sent', async () => {
    const s = standIn();
    const progress: Progress[] = [];
    let most = 0;
    const done = uploadInputs(s.withConnection, inputs(20), '/runs/k/.muse-inputs', 8, { onProgress: (p) => progress.push(p) });
    let finished = 0;
    while (finished < 20) {
      await until('an upload in flight', () => s.puts.length > finished);
      most = Math.max(most, s.inFlight());
      s.puts[finished++].finish();
    }
    await done;
    assert.strictEqual(most, 8);
    assert.deepStrictEqual(s.puts.map((p) => p.remote).sort(), Array.from({ length: 20 }, (_, i) => `/runs/k/.muse-inputs/d/f${i}.txt`).sort());
    assert.deepStrictEqual(progress.at(-1), { phase: 'upload', done: 200, total: 200, file: progress.at(-1)?.file });
  });

  it('after a failed upload starts no other, and fails only once those in flight have ended', async () => {
    const s = standIn();
    let settled = false;
    const done = uploadInputs(s.withConnection, inputs(20), '/runs/k', 8, {});
    done.then(
      () => (settled = true),
      () => (settled = true),
    );
    await until('8 uploads in flight', () => s.puts.length === 8);
    s.puts[2].finish(new MuseError('server', 'Uploading d/f2.txt: Permission denied'));
    s.puts[0].finish();
    // One turn of the event loop: every promise callback these two queued has run by then.
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(s.puts.length, 8, 'no upload started after the failure');
    assert.ok(!settled, 'failed while uploads were still writing');
    for (const p of s.puts.slice(3)) p.finish();
    s.puts[1].finish();
    await assert.rejects(done, (e: unknown) => isMuseError(e, 'server') && /f2\.txt/.test((e as Error).message));
    assert.strictEqual(s.puts.length, 8);
  });
});
