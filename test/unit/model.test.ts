import * as assert from 'assert';
import { isFinal, normalizeRequest } from '../../src/core/model';

describe('model', () => {
  it('treats ok, failed and cancelled as final, and nothing else', () => {
    assert.deepStrictEqual(
      (['submitting', 'waiting', 'ok', 'failed', 'cancelled', 'unknown'] as const).filter(isFinal),
      ['ok', 'failed', 'cancelled'],
    );
  });

  it('fills the documented defaults of a request', () => {
    const r = normalizeRequest({ software: 'sw_example', cmd: 'python /add.py 4 5', files: [{ path: '/tmp/a.txt', name: 'a.txt' }] });
    assert.deepStrictEqual(r, {
      cmd: 'python /add.py 4 5', cmdOption: '', files: ['a.txt'], filesOrder: ['a.txt'],
      returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [],
    });
  });
});
