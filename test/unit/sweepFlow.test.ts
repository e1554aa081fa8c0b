/**
 * Run as Sweep's questions with fake prompts: what is asked, in which order, how the answers
 * become the core's sweep (lists, ranges, files, product or zipped, throttle), the confirmation's
 * commands as they will run, and the core's words for bad answers.
 */
import * as assert from 'assert';
import { isMuseError } from '../../src/core/errors';
import type { InputFile } from '../../src/core/model';
import type { Question } from '../../src/extension/prompts';
import { askSweep, parseThrottle } from '../../src/extension/sweepFlow';
import type { SweepFlowContext } from '../../src/extension/sweepFlow';

/** A context whose questions are answered from `answers` (by question id, in order), recording them. */
function fake(answers: Record<string, string[]>, files: Record<string, InputFile[]> = {}): { ctx: SweepFlowContext; asked: Question[] } {
  const asked: Question[] = [];
  const left = Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, [...v]]));
  const ctx: SweepFlowContext = {
    ask: async (q) => {
      asked.push(q);
      const queue = left[q.id];
      if (!queue || queue.length === 0) return undefined; // dismissed
      return queue.shift();
    },
    findFiles: async (glob) => files[glob] ?? [],
    prefill: 'python3 add.py',
    script: 'add.py',
    profile: 'local',
    software: 'direct',
    filesSummary: async (extra) => `${1 + extra.length} files`,
  };
  return { ctx, asked };
}

const rejectsWith = (p: Promise<unknown>, kind: 'usage' | 'cancelled', words: RegExp): Promise<void> =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(isMuseError(e, kind), `expected a ${kind} error, got ${String(e)}`);
    assert.match((e as Error).message, words);
    return true;
  });

describe('extension: Run as Sweep questions', () => {
  it('asks the command (prefilled), each placeholder\'s values, how they combine, a throttle, then confirms', async () => {
    const { ctx, asked } = fake({
      'sweep.cmd': ['python3 add.py {a} {b}'],
      'sweep.kind': ['List', 'Range'],
      'sweep.values': ['1,2', '10:30:10'],
      'sweep.combine': ['Product'],
      'sweep.throttle': ['2'],
      'sweep.confirm': ['Run Sweep'],
    });
    const answers = await askSweep(ctx);
    assert.deepStrictEqual(asked.map((q) => q.id), ['sweep.cmd', 'sweep.kind', 'sweep.values', 'sweep.kind', 'sweep.values', 'sweep.combine', 'sweep.throttle', 'sweep.confirm']);
    assert.strictEqual(asked[0].kind === 'input' && asked[0].value, 'python3 add.py', 'the command is prefilled as Run on Muse prefills it');
    assert.deepStrictEqual(answers.spec, { template: 'python3 add.py {a} {b}', params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }], combine: 'product' });
    assert.strictEqual(answers.tasks.length, 6);
    assert.strictEqual(answers.throttle, 2);
    const combine = asked[5];
    assert.ok(combine.kind === 'pick');
    assert.deepStrictEqual(combine.items.map((i) => i.description), ['every combination: 6 tasks', 'the i-th values together (a has 2, b has 3)']);
    const confirm = asked[7];
    assert.ok(confirm.kind === 'message');
    assert.strictEqual(confirm.message, 'Run add.py as a sweep of 6 tasks on local?');
    assert.strictEqual(
      confirm.detail,
      ['direct:', '  python3 add.py 1 10', '  python3 add.py 1 20', '  python3 add.py 1 30', '  python3 add.py 2 10', '  python3 add.py 2 20', '  ... and 1 more', 'At most 2 running at once.', '1 files'].join('\n'),
    );
  });

  it('zips parameters of the same length; one placeholder asks no combine question', async () => {
    const zipped = fake({ 'sweep.cmd': ['run {x} {y}'], 'sweep.kind': ['List', 'List'], 'sweep.values': ['a,b,c', '1,2,3'], 'sweep.combine': ['Zipped'], 'sweep.throttle': [''], 'sweep.confirm': ['Run Sweep'] });
    const z = await askSweep(zipped.ctx);
    assert.deepStrictEqual(z.tasks.map((t) => t.command), ['run a 1', 'run b 2', 'run c 3']);
    assert.strictEqual(z.throttle, undefined, 'empty: no limit');
    const one = fake({ 'sweep.cmd': ['python3 fit.py --lr {lr}'], 'sweep.kind': ['Range'], 'sweep.values': ['0:1:0.25'], 'sweep.throttle': [''], 'sweep.confirm': ['Run Sweep'] });
    const o = await askSweep(one.ctx);
    assert.ok(!one.asked.some((q) => q.id === 'sweep.combine'));
    assert.deepStrictEqual(o.tasks.map((t) => t.params.lr), ['0', '0.25', '0.5', '0.75', '1']);
  });

  it('passes values with spaces, quotes and $() as one quoted word each', async () => {
    const { ctx } = fake({ 'sweep.cmd': ['echo {v}'], 'sweep.kind': ['List'], 'sweep.values': ['["a b", "it\'s", "$(rm -rf x)"]'], 'sweep.throttle': [''], 'sweep.confirm': ['Run Sweep'] });
    const a = await askSweep(ctx);
    assert.deepStrictEqual(a.tasks.map((t) => t.params.v), ['a b', "it's", '$(rm -rf x)']);
    for (const t of a.tasks) assert.ok(!/echo \$\(|echo a b/.test(t.command), `not quoted: ${t.command}`);
  });

  it('makes one task per file a glob matches, the files sent with the sweep, {file} first offered files', async () => {
    const found = [
      { path: '/w/data/a.csv', name: 'data/a.csv' },
      { path: '/w/data/b.csv', name: 'data/b.csv' },
    ];
    const { ctx, asked } = fake({ 'sweep.cmd': ['python3 add.py {file}'], 'sweep.kind': ['Files'], 'sweep.files': ['data/*.csv'], 'sweep.throttle': [''], 'sweep.confirm': ['Run Sweep'] }, { 'data/*.csv': found });
    const a = await askSweep(ctx);
    const kinds = asked.find((q) => q.id === 'sweep.kind');
    assert.ok(kinds?.kind === 'pick');
    assert.deepStrictEqual(kinds.items.map((i) => i.label), ['Files', 'List', 'Range']);
    assert.deepStrictEqual(a.tasks.map((t) => t.command), ["python3 add.py data/a.csv", 'python3 add.py data/b.csv']);
    assert.deepStrictEqual(a.files, found);
    const confirm = asked.find((q) => q.id === 'sweep.confirm');
    assert.ok(confirm?.kind === 'message' && confirm.detail?.endsWith('3 files'));
    const none = fake({ 'sweep.cmd': ['python3 add.py {file}'], 'sweep.kind': ['Files'], 'sweep.files': ['nothing/*'] });
    await rejectsWith(askSweep(none.ctx), 'usage', /No file in the workspace matches nothing\/\*/);
  });

  it('shows the core\'s words for a command without placeholders, empty values, mismatched zips, newlines', async () => {
    await rejectsWith(askSweep(fake({ 'sweep.cmd': ['python3 add.py'] }).ctx), 'usage', /has no \{name\} placeholder/);
    await rejectsWith(askSweep(fake({ 'sweep.cmd': ['x {a}'], 'sweep.kind': ['List'], 'sweep.values': ['  '] }).ctx), 'usage', /No values given/);
    await rejectsWith(askSweep(fake({ 'sweep.cmd': ['x {a}'], 'sweep.kind': ['Range'], 'sweep.values': ['0:1:0'] }).ctx), 'usage', /step of 0/);
    const mismatch = fake({ 'sweep.cmd': ['x {a} {b}'], 'sweep.kind': ['List', 'List'], 'sweep.values': ['1,2', '1,2,3'], 'sweep.combine': ['Zipped'] });
    await rejectsWith(askSweep(mismatch.ctx), 'usage', /Zipped parameters must have as many values each: a has 2, b has 3/);
    const newline = fake({ 'sweep.cmd': ['x {a}'], 'sweep.kind': ['List'], 'sweep.values': ['["one\\ntwo"]'] });
    await rejectsWith(askSweep(newline.ctx), 'usage', /line break/);
  });

  it('cancels when a question is dismissed or the confirmation is not accepted, and refuses a bad throttle', async () => {
    await rejectsWith(askSweep(fake({}).ctx), 'cancelled', /Run as Sweep/);
    const noConfirm = fake({ 'sweep.cmd': ['x {a}'], 'sweep.kind': ['List'], 'sweep.values': ['1'], 'sweep.throttle': [''] });
    await rejectsWith(askSweep(noConfirm.ctx), 'cancelled', /Run as Sweep/);
    assert.strictEqual(parseThrottle(' 3 '), 3);
    assert.strictEqual(parseThrottle(''), undefined);
    for (const bad of ['0', '-1', '1.5', 'two']) assert.throws(() => parseThrottle(bad), (e: unknown) => isMuseError(e, 'usage'), bad);
  });
});
