import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import { groupUsageRows, parseUsageRows } from '../../src/core/usage/sacctUsage';
import { usageByJob } from '../../src/core/usage/usageFigures';
import { adviseUsage } from '../../src/core/usage/usageAdvice';
import { formatDuration, usageBlock, usageLine } from '../../src/core/usage/usageText';
import { repoRoot } from '../support/repoRoot';

const m = usageByJob(groupUsageRows(parseUsageRows(
  readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', 'sacct-22.05.txt'), 'utf8').replace(/\|/g, FIELD_DELIMITER),
)));

describe('usage: text for muse state and tooltips', () => {
  it('one line: CPU, memory, time against the limit, wait', () => {
    assert.strictEqual(usageLine(m.get('202')!), 'CPU 98% of 1 CPU · memory 3.2 MB of 3.4 GB (0%) · time 0:20 of 10:00 · waited 0:00');
    assert.strictEqual(usageLine(m.get('201')!), 'CPU 10% of 1 CPU · memory 205 MB of 3.4 GB (6%) · time 0:12 (no limit) · waited 0:03');
    assert.strictEqual(usageLine(m.get('207')!), 'CPU 26% of 4 CPUs · memory 2.1 GB of 8.0 GB (26%) · time 5:00 of 1:00:00 · waited 0:30');
  });

  it('says what is unknown instead of printing 0', () => {
    assert.strictEqual(usageLine(m.get('205')!), 'did not start: no usage figures');
    assert.match(usageLine(m.get('208')!), /memory peak unknown of 3\.4 GB/);
    assert.strictEqual(usageLine({ cpuSeconds: 65, elapsedSeconds: 70, memoryPeakBytes: 5 * 1024 ** 2 }), 'CPU time 1:05 · memory 5.0 MB · time 1:10');
  });

  it('the block of muse state carries the advice', () => {
    const f = m.get('203')!;
    const lines = usageBlock(f, adviseUsage(f));
    assert.strictEqual(lines[0], 'usage: CPU 0% of 1 CPU · memory 1.2 MB of 3.4 GB (0%) · time 1:14 of 1:00 · waited 0:01');
    assert.match(lines[2], /^advice: The run reached its time limit .* --time=0:02:00\.$/);
  });

  it('durations: m:ss, h:mm:ss, days as Slurm writes them', () => {
    assert.deepStrictEqual([12, 600, 3723, 93784].map(formatDuration), ['0:12', '10:00', '1:02:03', '1-02:03:04']);
  });
});
