import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import { PENDING_REASON_FORMAT, PENDING_START_FORMAT, parsePendingJobs, waitOfJob, waitText } from '../../src/core/usage/waitReason';
import { repoRoot } from '../support/repoRoot';

function fixture(name: string): string {
  return readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', name), 'utf8').replace(/\|/g, FIELD_DELIMITER);
}

describe('usage: why a run waits', () => {
  const pending = parsePendingJobs(fixture('squeue-pending.txt'), fixture('squeue-start.txt'));
  const now = new Date(2026, 11, 1, 12, 0, 0).getTime();

  it('joins the reason and the expected start of every pending job from the two squeue outputs', () => {
    assert.deepStrictEqual(PENDING_REASON_FORMAT, ['%i', '%r']);
    assert.deepStrictEqual(PENDING_START_FORMAT, ['%i', '%S']);
    assert.deepStrictEqual([...pending.keys()], ['501', '502', '503_[1-10%2]', '504', '505', '506', '507']);
    assert.deepStrictEqual(pending.get('501'), { jobId: '501', baseId: '501', reason: 'Priority', expectedStart: new Date(2026, 11, 1, 14, 20).getTime() });
    assert.deepStrictEqual(pending.get('504'), { jobId: '504', baseId: '504', reason: 'Dependency' }, 'N/A start stays unknown');
    assert.deepStrictEqual(pending.get('507'), { jobId: '507', baseId: '507' }, 'None is no reason');
  });

  it('finds an array by its sbatch id through its pending range', () => {
    assert.strictEqual(waitOfJob(pending, '503')?.reason, 'JobArrayTaskLimit');
    assert.strictEqual(waitOfJob(pending, '999'), undefined);
  });

  it('says it in the tree: reason and local start time, with the date when not today', () => {
    assert.strictEqual(waitText(pending.get('501'), now), 'waiting · Priority · starts ~14:20');
    assert.strictEqual(waitText(pending.get('502'), now), 'waiting · Resources · starts ~2026-12-02 09:05');
    assert.strictEqual(waitText(pending.get('506'), now), 'waiting · QOSMaxJobsPerUserLimit');
    assert.strictEqual(waitText(pending.get('507'), now), 'waiting');
    assert.strictEqual(waitText(undefined, now), 'waiting');
  });

  it('reads the two squeue outputs as the test cluster printed them', () => {
    const m = parsePendingJobs(fixture('squeue-testcluster-pending.txt'), fixture('squeue-testcluster-start.txt'));
    const at = new Date(2026, 11, 1, 2, 1, 20).getTime();
    assert.strictEqual(waitText(m.get('4'), at), 'waiting · BeginTime · starts ~03:01');
    assert.strictEqual(waitText(waitOfJob(m, '5'), at), 'waiting · Priority');
    assert.strictEqual(waitText(m.get('3'), at), 'waiting · Resources');
  });

  it('works from the reasons alone, and reads reasons in parentheses', () => {
    const m = parsePendingJobs(`7${FIELD_DELIMITER}(BeginTime)\nsqueue: warning\n`);
    assert.deepStrictEqual([...m.values()], [{ jobId: '7', baseId: '7', reason: 'BeginTime' }]);
  });
});
