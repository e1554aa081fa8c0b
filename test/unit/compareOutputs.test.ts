// Reading many runs' outputs for the results table and Compare: one follow batch per profile
// (never one round trip per task), the tail only, and per-run reads with bounded concurrency
// where a backend cannot follow.
import * as assert from 'assert';
import * as fs from 'fs';
import type { Backend, FollowAnswer, FollowRead, OutputStream, RunRef } from '../../src/core/backend';
import { DEFAULT_TAIL_BYTES, readOutputs } from '../../src/core/compare/runOutputs';
import type { Run } from '../../src/core/model';

function task(i: number, profile: string, extra: Partial<Run> = {}): Run {
  return {
    id: `run-${i}`,
    key: `key-${i}`,
    profile,
    backend: 'ssh',
    software: 'python',
    request: { cmd: 'python add.py', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state: 'ok',
    raw: {},
    createdAt: '2026-12-01T10:00:00Z',
    updatedAt: '2026-12-01T10:00:00Z',
    ...extra,
  };
}

/** A backend that follows: records each batch, answers each run's text (or a tail of it). */
function followingBackend(calls: FollowRead[][]): Backend {
  return {
    kind: 'ssh',
    submit: async () => ({ key: 'x' }),
    states: async () => new Map(),
    results: async () => ({ kind: 'stdout', text: '' }),
    content: async () => ({ path: '', bytes: 0 }),
    follow: async (reads: FollowRead[]): Promise<FollowAnswer[]> => {
      calls.push(reads);
      return reads.map((r) => {
        const i = Number(r.run.id.split('-')[1]);
        if (i === 7) return { parts: [], offsets: {}, missing: true, ended: false };
        if (i === 8) return { parts: [], offsets: {}, missing: false, ended: true, error: new Error('read refused') };
        // Task 9 wrote more than the tail: 2 bytes of "é" cut in the middle, then the rest.
        const data = i === 9 ? Buffer.concat([Buffer.from('é').subarray(1), Buffer.from('end 9\n')]) : Buffer.from(`line ${i}\n`);
        return { parts: [{ file: 'stdout', from: 0, data, ...(i === 9 ? { skipped: 100 } : {}) }], offsets: {}, missing: false, ended: true };
      });
    },
  };
}

describe('reading the outputs of many runs', () => {
  it('asks one follow batch per profile, from no offset, for the tail only', async () => {
    const calls: FollowRead[][] = [];
    const backends = new Map([['a', followingBackend(calls)], ['b', followingBackend(calls)]]);
    const runs = Array.from({ length: 1000 }, (_, i) => task(i, i % 2 ? 'b' : 'a'));
    runs.push(task(1000, 'a', { key: undefined }));
    const got = await readOutputs(runs, async (r) => backends.get(r.profile)!);
    assert.strictEqual(calls.length, 2, 'two profiles: two batches');
    assert.deepStrictEqual(calls.map((c) => c.length).sort(), [500, 500]);
    assert.ok(calls.flat().every((r) => r.maxBytes === DEFAULT_TAIL_BYTES && Object.keys(r.offsets).length === 0 && r.stream === 'stdout'));
    assert.deepStrictEqual(got.get('run-4'), { text: 'line 4\n', truncated: false });
    assert.deepStrictEqual(got.get('run-7'), { missing: 'no output yet' });
    assert.deepStrictEqual(got.get('run-8'), { missing: 'read refused' });
    assert.deepStrictEqual(got.get('run-9'), { text: 'end 9\n', truncated: true }, 'a cut character is dropped, not garbled');
    assert.deepStrictEqual(got.get('run-1000'), { missing: 'not submitted' });
  });

  it('reads each run, a few at once, where the backend cannot follow', async () => {
    let inFlight = 0;
    let most = 0;
    const streams: OutputStream[] = [];
    const backend: Backend = {
      kind: 'ws',
      submit: async () => ({ key: 'x' }),
      states: async () => new Map(),
      content: async () => ({ path: '', bytes: 0 }),
      results: async () => ({ kind: 'stdout', text: '' }),
      output: async (run: RunRef, stream: OutputStream, dest: string) => {
        inFlight++;
        most = Math.max(most, inFlight);
        streams.push(stream);
        await new Promise((r) => setTimeout(r, 5));
        const text = 'x'.repeat(200) + `\nlast ${run.id}\n`;
        fs.writeFileSync(dest, text);
        inFlight--;
        return { path: dest, bytes: text.length };
      },
    };
    const runs = Array.from({ length: 20 }, (_, i) => task(i, 'ws'));
    const got = await readOutputs(runs, async () => backend, { stream: 'stderr', maxBytes: 50, concurrency: 3 });
    assert.strictEqual(most, 3, 'at most 3 reads at once');
    assert.ok(streams.every((s) => s === 'stderr'));
    const r5 = got.get('run-5');
    assert.ok(r5 && 'text' in r5 && r5.truncated && r5.text.endsWith('last run-5\n') && Buffer.byteLength(r5.text) <= 50);
  });

  it('falls back to the results of an ended run when the backend serves no output streams', async () => {
    const backend: Backend = {
      kind: 'ws',
      submit: async () => ({ key: 'x' }),
      states: async () => new Map(),
      content: async () => ({ path: '', bytes: 0 }),
      results: async (run: RunRef) => ({ kind: 'stdout', text: `result of ${run.id}\n` }),
    };
    const got = await readOutputs([task(1, 'ws'), task(2, 'ws', { state: 'failed' })], async () => backend);
    assert.deepStrictEqual(got.get('run-1'), { text: 'result of run-1\n', truncated: false });
    assert.deepStrictEqual(got.get('run-2'), { missing: 'no output (failed)' });
  });
});
