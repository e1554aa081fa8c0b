/**
 * The agent's wire format: newline-delimited JSON cut correctly whatever the chunking, a line
 * over the limit refused, values JSON cannot carry (Buffers, Maps, Errors) arriving whole, and
 * every ability of the Slurm backend forwarded.
 */
import * as assert from 'assert';
import type { Ability } from '../../src/core/backend';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { FORWARDED_METHODS, LineDecoder, decodeValue, encodeValue, frame, versionMismatchText } from '../../src/core/agent/agentProtocol';
import { MuseError, isMuseError } from '../../src/core/errors';

describe('agent protocol', () => {
  it('cuts messages split across chunks and several in one chunk', () => {
    const d = new LineDecoder();
    const bytes = Buffer.from(frame({ t: 'abort', id: 1 }) + frame({ t: 'abort', id: 2 }) + frame({ t: 'status', id: 3 }));
    const got: unknown[] = [];
    // One byte at a time: every partial line is kept until its newline.
    for (let i = 0; i < bytes.length; i += 7) got.push(...d.push(bytes.subarray(i, i + 7)));
    assert.deepStrictEqual(got, [
      { t: 'abort', id: 1 },
      { t: 'abort', id: 2 },
      { t: 'status', id: 3 },
    ]);
  });

  it('keeps multi-byte characters split between chunks', () => {
    const d = new LineDecoder();
    const bytes = Buffer.from(frame({ t: 'answer', id: 1, value: 'pässwörd ✓' }));
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ä"
    assert.deepStrictEqual([...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))], [{ t: 'answer', id: 1, value: 'pässwörd ✓' }]);
  });

  it('refuses a line over the limit, even before its newline arrives', () => {
    const d = new LineDecoder(100);
    assert.throws(() => d.push(Buffer.alloc(101, 0x61)), (e: unknown) => isMuseError(e, 'malformed') && /exceeds 100 bytes/.test(e.message));
    const d2 = new LineDecoder(100);
    d2.push(Buffer.alloc(60, 0x61));
    assert.throws(() => d2.push(Buffer.alloc(60, 0x61)), (e: unknown) => isMuseError(e, 'malformed'));
  });

  it('refuses a line that is not JSON', () => {
    assert.throws(() => new LineDecoder().push(Buffer.from('hello\n')), (e: unknown) => isMuseError(e, 'malformed'));
  });

  it('carries Buffers, Maps, MuseErrors and Dates through JSON', () => {
    const value = {
      data: Buffer.from([0, 1, 2, 255]),
      states: new Map<string, unknown>([
        ['a', { state: 'running' }],
        ['b', new MuseError('notFound', 'gone', { status: 404 })],
      ]),
      at: new Date('2026-01-02T03:04:05.000Z'),
      skip: undefined,
      fn: () => 1,
    };
    const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value)))) as typeof value;
    assert.deepStrictEqual(back.data, Buffer.from([0, 1, 2, 255]));
    assert.deepStrictEqual(back.states.get('a'), { state: 'running' });
    const err = back.states.get('b');
    assert.ok(isMuseError(err, 'notFound'));
    assert.strictEqual(err.message, 'gone');
    assert.strictEqual(err.details.status, 404);
    assert.strictEqual(back.at.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.ok(!('skip' in back) && !('fn' in back));
  });

  it('forwards every method the Slurm backend implements', () => {
    // A Record over Ability: a new optional Backend method fails to compile here until listed.
    const abilities: Record<Ability, true> = { output: true, download: true, cancel: true, listSoftware: true, runSync: true, tail: true, follow: true, watchOutput: true, submitSweep: true, cancelSweep: true };
    const wanted = ['submit', 'states', 'results', 'content', ...Object.keys(abilities)].filter((m) => typeof (SlurmBackend.prototype as unknown as Record<string, unknown>)[m] === 'function');
    assert.deepStrictEqual(wanted.filter((m) => !(m in FORWARDED_METHODS)), []);
  });

  it('tells an older client to reload and a newer one to stop the old agent', () => {
    assert.match(versionMismatchText(2, 1), /reload the VS Code window.*update the muse CLI/);
    assert.match(versionMismatchText(1, 2), /muse agent stop/);
  });
});
