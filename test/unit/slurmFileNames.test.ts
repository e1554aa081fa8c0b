import * as assert from 'assert';
import { checkRunFileName } from '../../src/core/backends/slurm/runFileNames';
import { isMuseError } from '../../src/core/errors';

describe('run folder file names (ssh backend)', () => {
  const kept = ['a b.txt', "it's.txt", '$(touch x).txt', '`id`.txt', 'né 日本.txt', 'sub dir/in;ner.txt', '-rf', '.hidden', 'a/b/c.zip'];
  for (const n of kept) {
    it(`keeps ${JSON.stringify(n)} as it is`, () => assert.strictEqual(checkRunFileName(n), n));
  }
  const refused: [string, RegExp][] = [
    ['a\nb.txt', /line break/],
    ['a\rb.txt', /line break/],
    ['tab\there', /control character/],
    ['/etc/passwd', /absolute/],
    ['C:/x', /absolute/],
    ['../up.txt', /"\.\."/],
    ['a/../../b', /"\.\."/],
    ['a//b', /empty/],
    ['dir\\file', /backslash/],
    ['__WS__stdout.txt', /kept for the run/],
    ['.muse-jobid', /kept for the run/],
    ['', /empty/],
  ];
  for (const [n, re] of refused) {
    it(`refuses ${JSON.stringify(n)} clearly`, () => {
      assert.throws(() => checkRunFileName(n), (e: unknown) => isMuseError(e, 'usage') && re.test((e as Error).message));
    });
  }
});
