import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { isMuseError } from '../../src/core/errors';
import { expandSweep, parseValues, placeholders } from '../../src/core/sweep/sweepSpec';
import type { SweepSpec } from '../../src/core/sweep/sweepSpec';

const usage = (re: RegExp) => (e: unknown) => isMuseError(e, 'usage') && re.test(e.message);

describe('sweep spec', () => {
  it('finds placeholders in order of first use, leaving the shell\'s ${VAR} alone', () => {
    assert.deepStrictEqual(placeholders('python fit.py --b {b} --a {a} {b} ${HOME} {file}'), ['b', 'a', 'file']);
  });

  it('reads lists, JSON lists and inclusive ranges without float noise', () => {
    assert.deepStrictEqual(parseValues('1, 2,5'), ['1', '2', '5']);
    assert.deepStrictEqual(parseValues('0:1:0.25'), ['0', '0.25', '0.5', '0.75', '1']);
    assert.deepStrictEqual(parseValues('0:1:0.1'), ['0', '0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7', '0.8', '0.9', '1']);
    assert.deepStrictEqual(parseValues('1:3'), ['1', '2', '3']);
    assert.deepStrictEqual(parseValues('10:0:-5'), ['10', '5', '0']);
    assert.deepStrictEqual(parseValues('0:1:0.3'), ['0', '0.3', '0.6', '0.9'], 'an end the steps do not reach is not passed');
    assert.deepStrictEqual(parseValues('["a,b", "c d"]'), ['a,b', 'c d']);
    assert.throws(() => parseValues(''), usage(/No values/));
    assert.throws(() => parseValues('1,,2'), usage(/empty item/));
    assert.throws(() => parseValues('0:1:0'), usage(/step of 0/));
    assert.throws(() => parseValues('5:1:1'), usage(/never reaches/));
  });

  it('expands a product (last parameter fastest) and a zip', () => {
    const spec: SweepSpec = { template: 'python /add.py {a} {b}', params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }], combine: 'product' };
    const tasks = expandSweep(spec);
    assert.deepStrictEqual(tasks.map((t) => t.command), [
      'python /add.py 1 10', 'python /add.py 1 20', 'python /add.py 1 30',
      'python /add.py 2 10', 'python /add.py 2 20', 'python /add.py 2 30',
    ]);
    assert.deepStrictEqual(tasks.map((t) => t.index), [0, 1, 2, 3, 4, 5]);
    assert.deepStrictEqual(tasks[4].params, { a: '2', b: '20' });
    const zipped = expandSweep({ ...spec, params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20'] }], combine: 'zip' });
    assert.deepStrictEqual(zipped.map((t) => t.command), ['python /add.py 1 10', 'python /add.py 2 20']);
  });

  it('gives one task per file for {file}', () => {
    const tasks = expandSweep({ template: 'python run.py {file}', params: [{ name: 'file', values: ['in/a.csv', 'in/b c.csv'] }], combine: 'product' });
    assert.deepStrictEqual(tasks.map((t) => t.command), ['python run.py in/a.csv', "python run.py 'in/b c.csv'"]);
  });

  it('passes spaces, quotes and $() as one argument, never interpreted by the shell', () => {
    const values = ['a b', `it's "x"`, '$(echo pwned)', '`id`', '; rm -rf x'];
    const tasks = expandSweep({ template: 'printf "%s|" {v}', params: [{ name: 'v', values }], combine: 'product' });
    for (const [i, t] of tasks.entries()) {
      assert.strictEqual(execFileSync('/bin/sh', ['-c', t.command]).toString(), `${values[i]}|`);
    }
  });

  it('refuses a newline, a placeholder without values, values for no placeholder and zips of unequal lengths', () => {
    const t = 'python /add.py {a} {b}';
    assert.throws(() => expandSweep({ template: t, params: [{ name: 'a', values: ['1\n2'] }, { name: 'b', values: ['1'] }], combine: 'product' }), usage(/line break/));
    assert.throws(() => expandSweep({ template: t, params: [{ name: 'a', values: ['1'] }], combine: 'product' }), usage(/\{b\} has no values/));
    assert.throws(() => expandSweep({ template: t, params: [{ name: 'a', values: ['1'] }, { name: 'b', values: [] }], combine: 'product' }), usage(/\{b\} has no values/));
    assert.throws(() => expandSweep({ template: t, params: [{ name: 'a', values: ['1'] }, { name: 'b', values: ['1'] }, { name: 'c', values: ['1'] }], combine: 'product' }), usage(/no \{c\} placeholder/));
    assert.throws(() => expandSweep({ template: t, params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['1'] }], combine: 'zip' }), usage(/a has 2, b has 1/));
    assert.throws(() => expandSweep({ template: 'python x.py', params: [], combine: 'product' }), usage(/no \{name\} placeholder/));
  });
});
