// A sweep's results table from stored task runs and their read outputs: parameter columns,
// the value (last line, or the user's expression), missing outputs, usage figures, and the CSV
// a spreadsheet opens without running anything.
import * as assert from 'assert';
import type { OutputRead } from '../../src/core/compare/runOutputs';
import { isMuseError } from '../../src/core/errors';
import type { Run, RunState } from '../../src/core/model';
import { ABSENT, compileExtract, csvField, extractValue, lastLine, sweepTable, sweepTableCells, sweepTableCsv, toCsv } from '../../src/core/sweep/sweepTable';

const T0 = Date.parse('2026-12-01T10:00:00Z');

function task(index: number, params: Record<string, string>, state: RunState = 'ok', extra: Partial<Run> = {}): Run {
  return {
    id: `run-${index}`,
    key: `key-${index}`,
    profile: 'local',
    backend: 'local',
    software: 'python',
    request: { cmd: 'python add.py', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state,
    raw: {},
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    submittedAt: new Date(T0).toISOString(),
    ...(state === 'ok' || state === 'failed' ? { endedAt: new Date(T0 + 12_000).toISOString() } : {}),
    sweep: { id: 'sw-1', index, count: 3, params, template: 'python add.py {b} {a}' },
    ...extra,
  };
}

const out = (text: string): OutputRead => ({ text, truncated: false });

describe('sweep results table', () => {
  it('has one column per placeholder, in the order of the command template, and rows by task index', () => {
    const tasks = [task(1, { a: '2', b: '10' }), task(0, { a: '1', b: '10' })];
    const t = sweepTable(tasks, new Map([['run-0', out('11\n')], ['run-1', out('12\n')]]));
    assert.deepStrictEqual(t.params, ['b', 'a']);
    const cells = sweepTableCells(t);
    assert.deepStrictEqual(cells[0], ['task', 'b', 'a', 'state', 'elapsed', 'peak memory', 'last line']);
    assert.deepStrictEqual(cells[1], ['0', '10', '1', 'ok', '0:12', ABSENT, '11']);
    assert.deepStrictEqual(cells[2], ['1', '10', '2', 'ok', '0:12', ABSENT, '12']);
  });

  it('takes the last non-empty line of stdout, or the first group of the last match of the expression', () => {
    const text = 'epoch 1 loss=0.9\nepoch 2 loss=0.5\n  done  \n\n\n';
    assert.strictEqual(lastLine(text), '  done');
    assert.strictEqual(extractValue(text, compileExtract('loss=([0-9.]+)')), '0.5');
    assert.strictEqual(extractValue(text, compileExtract('epoch \\d')), 'epoch 2', 'no group: the whole match');
    assert.strictEqual(extractValue(text, compileExtract('acc=([0-9.]+)')), undefined);
    // An expression that can match empty does not loop.
    assert.strictEqual(extractValue('abc', compileExtract('x*')), '');
    const t = sweepTable([task(0, { a: '1', b: '2' })], new Map([['run-0', out(text)]]), { extract: compileExtract('loss=([0-9.]+)') });
    assert.strictEqual(t.rows[0]!.value, '0.5');
    assert.strictEqual(t.valueTitle, 'loss=([0-9.]+)');
  });

  it('shows "—" with the reason for a task without output, without a match, or not read', () => {
    const tasks = [task(0, { a: '1', b: '1' }, 'waiting'), task(1, { a: '2', b: '1' }), task(2, { a: '3', b: '1' })];
    const t = sweepTable(tasks, new Map<string, OutputRead>([['run-0', { missing: 'no output yet' }], ['run-1', out('nothing useful\n')]]), { extract: compileExtract('loss=(\\d+)'), now: T0 + 5000 });
    assert.deepStrictEqual(t.rows.map((r) => [r.value, r.note]), [[ABSENT, 'no output yet'], [ABSENT, 'no match'], [ABSENT, 'output not read']]);
    assert.strictEqual(t.rows[0]!.elapsedSeconds, 5, 'a running task counts up to now');
  });

  it('uses the usage figures where known: the task\'s own entry of an array', () => {
    const own = task(0, { a: '1', b: '1' }, 'ok', { raw: { usage: { source: 'slurm', elapsedSeconds: 3725, memoryPeakBytes: 3 * 1024 * 1024 } } });
    const arr = task(1, { a: '2', b: '1' }, 'ok', {
      raw: { usage: { source: 'slurm', elapsedSeconds: 99, memoryPeakBytes: 1, tasks: [{ task: '0', source: 'slurm', memoryPeakBytes: 5 }, { task: '1', source: 'slurm', elapsedSeconds: 7, memoryPeakBytes: 2048 }] } },
    });
    const cells = sweepTableCells(sweepTable([own, arr], new Map()));
    assert.deepStrictEqual(cells[1]!.slice(4, 6), ['1:02:05', '3.0 MB']);
    assert.deepStrictEqual(cells[2]!.slice(4, 6), ['0:07', '2.0 KB']);
  });

  it('refuses an invalid expression with a usage error that shows it', () => {
    assert.throws(
      () => compileExtract('loss=([0-9.]+'),
      (e: unknown) => isMuseError(e, 'usage') && /"loss=\(\[0-9\.\]\+" is not a valid regular expression/.test((e as Error).message),
    );
    assert.throws(() => compileExtract(''), (e: unknown) => isMuseError(e, 'usage'));
  });
});

describe('CSV (RFC 4180, formulas defused)', () => {
  it('quotes fields with a comma, a quote or a line break, doubling quotes', () => {
    assert.strictEqual(csvField('plain'), 'plain');
    assert.strictEqual(csvField('a,b'), '"a,b"');
    assert.strictEqual(csvField('say "hi"'), '"say ""hi"""');
    assert.strictEqual(csvField('two\nlines'), '"two\nlines"');
    assert.strictEqual(toCsv([['x', 'y,z'], ['1', '']]), 'x,"y,z"\r\n1,\r\n');
  });

  it('prefixes cells a spreadsheet would run as a formula, but not plain numbers', () => {
    assert.strictEqual(csvField('=HYPERLINK("http://x")'), '"\'=HYPERLINK(""http://x"")"');
    assert.strictEqual(csvField('+cmd'), "'+cmd");
    assert.strictEqual(csvField('@SUM(A1)'), "'@SUM(A1)");
    assert.strictEqual(csvField('-2+3'), "'-2+3");
    assert.strictEqual(csvField('-0.5'), '-0.5');
    assert.strictEqual(csvField('+1e-3'), '+1e-3');
  });

  it('writes seconds and bytes as numbers, and an absent value as an empty field', () => {
    const t = sweepTable(
      [task(0, { a: '=1+1', b: 'x y' }, 'ok', { raw: { usage: { source: 'local', elapsedSeconds: 12.4, memoryPeakBytes: 4096 } } }), task(1, { a: '2', b: 'q"' }, 'failed')],
      new Map([['run-0', out('loss=0.25\n')]]),
      { extract: compileExtract('loss=([0-9.]+)') },
    );
    assert.strictEqual(sweepTableCsv(t), 'task,b,a,state,elapsed_seconds,peak_memory_bytes,loss=([0-9.]+)\r\n0,x y,\'=1+1,ok,12,4096,0.25\r\n1,"q""",2,failed,12,,\r\n');
  });
});
