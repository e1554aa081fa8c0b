/**
 * `muse rerun`'s request (the stored one with the changes and the advice applied) and the stored
 * usage read back into advice, as the run store keeps it (through JSON).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { changedRequest } from '../../src/cli/rerunCommand';
import type { RerunOptions } from '../../src/cli/rerunCommand';
import { isMuseError } from '../../src/core/errors';
import type { Run, RunUsage } from '../../src/core/model';
import { adviseRun, runUsageFromLocal } from '../../src/core/usage/runUsage';

describe('rerun with changes', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-rerun-'));
    fs.mkdirSync(path.join(root, 'data'));
    fs.writeFileSync(path.join(root, 'fit.py'), 'print(1)');
    fs.writeFileSync(path.join(root, 'data', 'a.csv'), '1,2');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const run = {
    software: 'sw',
    request: {
      cmd: 'python fit.py', cmdOption: '', files: ['fit.py', 'data/a.csv'], filesOrder: [], returnedType: 'stdout' as const, toDownload: false,
      sbatchList: ['--mem=4G', '-t 10', '--mail-user=me@example.org'], moduleList: ['python/3.11'],
    },
  } as Pick<Run, 'software' | 'request'>;
  const none: RerunOptions = { sbatch: [], module: [] };

  it('keeps the stored request when nothing changes, files found again under the folder', async () => {
    const req = await changedRequest(run, root, none);
    assert.strictEqual(req.cmd, 'python fit.py');
    assert.deepStrictEqual(req.files?.map((f) => [f.name, f.path]), [['fit.py', path.join(root, 'fit.py')], ['data/a.csv', path.join(root, 'data', 'a.csv')]]);
    assert.deepStrictEqual(req.sbatchList, run.request.sbatchList);
    assert.deepStrictEqual(req.moduleList, ['python/3.11']);
  });

  it('--sbatch replaces the options that say the same thing, in place; --cmd and --module replace theirs', async () => {
    const req = await changedRequest(run, root, { cmd: 'python fit.py --fast', sbatch: ['--mem-per-cpu=2G', '--time=30', '--cpus-per-task=2'], module: ['python/3.12'] });
    assert.strictEqual(req.cmd, 'python fit.py --fast');
    assert.deepStrictEqual(req.sbatchList, ['--mem-per-cpu=2G', '--time=30', '--mail-user=me@example.org', '--cpus-per-task=2']);
    assert.deepStrictEqual(req.moduleList, ['python/3.12']);
  });

  it('applies each advice item after the changes; refuses what is not an option', async () => {
    const req = await changedRequest(run, root, { ...none, sbatch: ['--mem=5G'] }, [
      { kind: 'outOfMemory', text: '', option: '--mem=6G' },
      { kind: 'timeout', text: '', option: '--time=0:15:00' },
    ]);
    assert.deepStrictEqual(req.sbatchList, ['--mem=6G', '--time=0:15:00', '--mail-user=me@example.org']);
    await assert.rejects(changedRequest(run, root, { ...none, sbatch: ['6G'] }), (e: unknown) => isMuseError(e, 'usage') && /--sbatch 6G/.test((e as Error).message));
  });

  it('names the files it cannot find again', async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-rerun-empty-'));
    try {
      await assert.rejects(changedRequest(run, elsewhere, none), (e: unknown) => isMuseError(e, 'notFound') && /fit\.py, data\/a\.csv/.test((e as Error).message));
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('stored usage read back', () => {
  it('a TIMEOUT and an out-of-memory kill give their advice from the stored figures (through JSON)', () => {
    const usage: RunUsage = { source: 'slurm', state: 'TIMEOUT', started: true, allocCpus: 1, elapsedSeconds: 75, timeLimit: 60, memoryPeakBytes: 200 * 1024 ** 2, memoryRequestBytes: 1024 ** 3 };
    const stored = JSON.parse(JSON.stringify({ usage })) as { usage: RunUsage };
    assert.deepStrictEqual(adviseRun(stored).map((a) => a.option), ['--mem=384M', '--time=0:02:00']);
    const killed: RunUsage = { ...usage, state: 'FAILED', memoryRequestBytes: 100 * 1024 ** 2 };
    assert.deepStrictEqual(adviseRun({ usage: killed }), []);
    assert.deepStrictEqual(adviseRun({ usage: killed }, { outputTail: 'slurmstepd: error: Exceeded job memory limit\n' }).map((a) => [a.kind, a.option]), [['outOfMemory', '--mem=384M']]);
  });

  it('the local runner: CPU efficiency is CPU time over wall time; no advice (nothing was asked)', () => {
    const u = runUsageFromLocal({ wallSeconds: 4, cpuSeconds: 3, memoryPeakBytes: 1024 }, 'COMPLETED');
    assert.deepStrictEqual(u, { source: 'local', started: true, state: 'COMPLETED', elapsedSeconds: 4, cpuSeconds: 3, cpuEfficiency: 0.75, memoryPeakBytes: 1024 });
    assert.deepStrictEqual(adviseRun({ usage: u }), []);
    assert.strictEqual(runUsageFromLocal({ wallSeconds: 0 }, 'COMPLETED').cpuEfficiency, undefined);
  });
});
