import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { explainFailure, failureLine } from '../../src/core/failure/explainFailure';
import type { FailedRun } from '../../src/core/failure/explainFailure';
import { findRunFileRefs, runFileName } from '../../src/core/failure/runFilePaths';
import { repoRoot } from '../support/repoRoot';

const sample = (name: string) => readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'failure', name), 'utf8');

function run(over: Partial<FailedRun> = {}, files: string[] = ['src/main.py', 'src/add.py']): FailedRun {
  return {
    state: 'failed',
    raw: {},
    backend: 'ssh',
    location: '/home/muse/muse-runs/RUNKEY',
    request: { cmd: 'python src/main.py', cmdOption: '', files, filesOrder: files, returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    ...over,
  };
}

describe('core: a failure explained from the output tails', () => {
  it('names the exception and the innermost frame in the user\'s files (a subfolder, the remote run folder path)', () => {
    const r = run();
    const c = explainFailure(r, sample('traceback-subfolder.txt'))!;
    assert.strictEqual(c.kind, 'traceback');
    assert.deepStrictEqual(c.location, { name: 'src/add.py', line: 12 });
    assert.strictEqual(c.detail, 'ZeroDivisionError: division by zero');
    assert.strictEqual(failureLine(r, c), 'failed: ZeroDivisionError at src/add.py:12');
  });

  it('takes the last traceback of several, and a relative path on the local runner', () => {
    const text = 'Traceback (most recent call last):\n  File "old.py", line 1, in <module>\nValueError: old\nTraceback (most recent call last):\n  File "add.py", line 3, in <module>\n    1/0\nZeroDivisionError: division by zero\n';
    const c = explainFailure(run({ backend: 'local', location: '/tmp/x' }, ['add.py']), text)!;
    assert.strictEqual(c.summary, 'ZeroDivisionError at add.py:3');
  });

  it('recognizes out-of-memory kills, time limits, container, srun, command-not-found and missing-file errors', () => {
    const cases: Array<[string, string, string]> = [
      ['oom.txt', 'outOfMemory', 'ran out of memory (Killed)'],
      ['timelimit.txt', 'timeLimit', 'timed out (time limit reached)'],
      ['container.txt', 'container', 'failed: container error: could not open image /images/python.sif'],
      ['srun.txt', 'srun', 'failed: srun: error: node1: task 0: Exited with exit code 2'],
      ['notfound.txt', 'commandNotFound', 'failed: command not found: pyhton'],
      ['nosuchfile.txt', 'noSuchFile', "failed: python: can't open file '/home/muse/muse-runs/K/mian.py': [Errno 2] No such file or directory"],
    ];
    for (const [file, kind, line] of cases) {
      const r = run();
      const c = explainFailure(r, sample(file))!;
      assert.strictEqual(c.kind, kind, file);
      assert.strictEqual(failureLine(r, c), line, file);
    }
  });

  it('falls back to the state and the exit code, and explains nothing for a run that ended ok', () => {
    assert.strictEqual(explainFailure(run({ raw: { slurmState: 'TIMEOUT' } }), '')!.kind, 'timeLimit');
    assert.strictEqual(explainFailure(run({ raw: { slurmState: 'OUT_OF_MEMORY' } }), '')!.kind, 'outOfMemory');
    assert.strictEqual(failureLine(run({ state: 'cancelled' }), explainFailure(run({ state: 'cancelled' }), '')!), 'cancelled');
    assert.strictEqual(explainFailure(run({ raw: { exitCode: 3 } }), 'last words\n')!.summary, 'exit code 3');
    assert.strictEqual(explainFailure(run({ state: 'ok' }), sample('oom.txt')), undefined);
  });
});

describe('core: paths in output mapped to the files that were sent', () => {
  const sent = ['add.py', 'src/util.py'];
  it('maps relative names and the run folder\'s absolute path, and nothing else', () => {
    assert.strictEqual(runFileName('./add.py', sent), 'add.py');
    assert.strictEqual(runFileName('/r/KEY/src/util.py', sent, '/r/KEY'), 'src/util.py');
    assert.strictEqual(runFileName('/usr/lib/python3/add.py', sent, '/r/KEY'), undefined);
    assert.strictEqual(runFileName('other.py', sent), undefined);
  });

  it('finds Python frames and path:line references with their offsets', () => {
    const text = 'x\n  File "/r/KEY/add.py", line 7, in f\nsrc/util.py:12: warning\n/usr/lib/a.py:3\n';
    const refs = findRunFileRefs(text, sent, '/r/KEY');
    assert.deepStrictEqual(refs.map((r) => [r.name, r.line, text.slice(r.start, r.start + 4)]), [['add.py', 7, '/r/K'], ['src/util.py', 12, 'src/']]);
  });
});
