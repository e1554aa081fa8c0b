import * as assert from 'assert';
import { until } from '../support/until';

describe('until (test helper)', () => {
  it('resolves with the first value that is neither undefined nor false', async () => {
    let n = 0;
    assert.strictEqual(await until('n to reach 3', () => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
    assert.strictEqual(await until('zero counts as a value', () => 0), 0);
  });

  it('tries again after a check that throws', async () => {
    let n = 0;
    const v = await until('a check that fails twice', async () => {
      if (++n < 3) throw new Error('not yet');
      return 'ok';
    }, { intervalMs: 1 });
    assert.strictEqual(v, 'ok');
  });

  it('fails at the deadline naming what it waited for and the last error or value seen', async () => {
    await assert.rejects(
      until('the file to appear', () => {
        throw new Error('ENOENT: no such file');
      }, { timeoutMs: 30, intervalMs: 5 }),
      (e: Error) => /timed out after 30 ms waiting for the file to appear \(last error: Error: ENOENT: no such file\)/.test(e.message) && (e.cause as Error).message === 'ENOENT: no such file',
    );
    await assert.rejects(until('the flag', () => false, { timeoutMs: 30, intervalMs: 5 }), /waiting for the flag \(last value: false\)/);
  });
});
