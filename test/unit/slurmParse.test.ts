import * as assert from 'assert';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as path from 'path';
import {
  FIELD_DELIMITER,
  groupByJob,
  mapSlurmState,
  parseArraySpec,
  parseExitCode,
  parseSacct,
  parseSqueue,
  stateFromRows,
} from '../../src/core/backends/slurm/slurmParse';
import { parseSbatchOutput } from '../../src/core/backends/slurm/submitOnce';
import * as os from 'os';
import type { Run } from '../../src/core/model';
import { normalizeRequest } from '../../src/core/model';
import { applyStates } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { repoRoot } from '../support/repoRoot';

/** Fixtures are written with `|` for readability; the backend asks for the unit separator. */
function fixture(name: string): string {
  return readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'slurm', name), 'utf8').replace(/\|/g, FIELD_DELIMITER);
}

function stateOf(text: string, id: string, source: 'sacct' | 'squeue' = 'sacct') {
  const rows = (source === 'sacct' ? parseSacct(text) : parseSqueue(text)).filter((r) => r.baseId === id);
  return stateFromRows(id, rows, source);
}

describe('sacct / squeue parsing', () => {
  const sacct = fixture('sacct-mixed.txt');

  it('maps every Slurm state to the shared states', () => {
    const want: Record<string, string> = {
      '101': 'ok', '102': 'failed', '103': 'cancelled', '104': 'waiting', '105': 'waiting', '106': 'failed',
      '107': 'failed', '108': 'failed', '109': 'failed', '110': 'failed', '111': 'waiting', '112': 'waiting',
      '113': 'waiting', '114': 'failed', '115': 'waiting', '116': 'unknown',
    };
    for (const [id, state] of Object.entries(want)) assert.strictEqual(stateOf(sacct, id).state, state, `job ${id}`);
  });

  it('keeps the raw state, exit code, node, elapsed and reason', () => {
    const failed = stateOf(sacct, '102');
    assert.deepStrictEqual(
      { ...failed.raw },
      { jobId: '102', jobName: 'muse-sw_example-b', slurmState: 'FAILED', node: 'node1', elapsed: '00:00:01', reason: 'NonZeroExitCode', exitCode: 3 },
    );
    assert.strictEqual(failed.endedAt, new Date('2026-11-27T10:00:01').toISOString());
    const cancelled = stateOf(sacct, '103');
    assert.strictEqual(cancelled.raw.slurmState, 'CANCELLED by 1000');
    assert.strictEqual(cancelled.raw.signal, '15');
    const pending = stateOf(sacct, '104');
    assert.strictEqual(pending.raw.node, undefined);
    assert.strictEqual(pending.raw.reason, 'Resources');
    assert.strictEqual(pending.startedAt, undefined);
  });

  describe('rows sacct shows for a moment as "allocation" (Slurm 22.05, just after a start or an end)', () => {
    const alloc = fixture('sacct-allocation.txt');
    const rowsOf = (id: string) => parseSacct(alloc).filter((r) => r.baseId === id);

    it('say the job name given at submit, never "allocation"', () => {
      const running = stateFromRows('938', rowsOf('938'), 'sacct', undefined, 'muse-sw_example-k1');
      assert.strictEqual(running.raw.jobName, 'muse-sw_example-k1');
      const ended = stateFromRows('939', rowsOf('939'), 'sacct', undefined, 'muse-sw_example-k2');
      assert.strictEqual(ended.state, 'ok');
      assert.strictEqual(ended.raw.jobName, 'muse-sw_example-k2');
      // Without a known name: no name rather than the stand-in.
      assert.ok(!('jobName' in stateFromRows('939', rowsOf('939'), 'sacct').raw));
    });

    it('do not wipe what a stored run knew (name, node, elapsed) when merged in', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'muse-slurm-alloc-'));
      try {
        const store = new RunStore(path.join(dir, 'runs.json'));
        await store.load();
        const now = new Date().toISOString();
        const run: Run = {
          id: 'r1', key: 'k3', profile: 'cluster', backend: 'ssh', software: 'sw_example', request: normalizeRequest({ software: 'sw_example', cmd: 'x' }),
          state: 'waiting', raw: { jobId: '940', jobName: 'muse-sw_example-k3', node: 'vm', elapsed: '00:00:01', reason: 'Priority' }, createdAt: now, updatedAt: now,
        };
        await store.add(run);
        // Node and elapsed empty for a moment, the name a stand-in.
        const report = stateFromRows('940', rowsOf('940'), 'sacct');
        const [after] = await applyStates(store, [run], new Map([['r1', report]]));
        assert.strictEqual(after.raw.jobName, 'muse-sw_example-k3');
        assert.strictEqual(after.raw.node, 'vm');
        assert.strictEqual(after.raw.elapsed, '00:00:01');
        // "No reason" is news: the old reason goes.
        assert.strictEqual(after.raw.reason, undefined);
        await store.load();
        assert.strictEqual(store.get('r1')?.raw.jobName, 'muse-sw_example-k3');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('reads exit codes', () => {
    assert.deepStrictEqual(parseExitCode('3:0'), { code: 3, signal: 0 });
    assert.deepStrictEqual(parseExitCode('0:15'), { code: 0, signal: 15 });
    assert.deepStrictEqual(parseExitCode(''), {});
    assert.strictEqual(mapSlurmState('CANCELLED by 0'), 'cancelled');
    assert.strictEqual(mapSlurmState('RUNNING+'), 'waiting');
  });

  it('shows a job array per task and sums it up', () => {
    const arr = stateOf(sacct, '120');
    assert.strictEqual(arr.state, 'waiting'); // tasks 3-4 still pending
    const tasks = (arr.report as { tasks: { jobId: string; state: string; exitCode?: number }[] }).tasks;
    assert.deepStrictEqual(tasks.map((t) => [t.jobId, t.state]), [['120_1', 'ok'], ['120_2', 'failed'], ['120_[3-4]', 'waiting']]);
    assert.strictEqual(arr.raw.exitCode, 2);
    const done = stateOf(sacct, '121');
    assert.strictEqual(done.state, 'ok');
    assert.strictEqual(done.endedAt, new Date('2026-11-27T10:00:03').toISOString());
    assert.strictEqual(groupByJob(parseSacct(sacct)).get('121')?.length, 2);
  });

  it("ignores an array's own row once its tasks are listed", () => {
    const rows = parseSacct(sacct).filter((r) => r.baseId === '121');
    const base = parseSacct(['121', 'muse-sw_example-r', 'PENDING', '0:0', '', '00:00:00', 'None', 'Unknown', 'Unknown'].join(FIELD_DELIMITER))[0];
    const st = stateFromRows('121', [base, ...rows], 'sacct', [1, 2]);
    assert.strictEqual(st.state, 'ok');
    assert.deepStrictEqual((st.report as { tasks: { jobId: string }[] }).tasks.map((t) => t.jobId), ['121_1', '121_2']);
  });

  it('reads --array specs', () => {
    assert.deepStrictEqual(parseArraySpec('1-3'), [1, 2, 3]);
    assert.deepStrictEqual(parseArraySpec('1,3,5%2'), [1, 3, 5]);
    assert.deepStrictEqual(parseArraySpec('0-8:4'), [0, 4, 8]);
    assert.deepStrictEqual(parseArraySpec('[3-4]'), [3, 4]);
    assert.strictEqual(parseArraySpec('x'), undefined);
  });

  it('keeps an array waiting while a task asked for is not listed yet (sacct lag)', () => {
    const rows = parseSacct(sacct).filter((r) => r.baseId === '121'); // tasks 1 and 2, both done
    assert.strictEqual(stateFromRows('121', rows, 'sacct', [1, 2]).state, 'ok');
    const lagging = stateFromRows('121', rows, 'sacct', [1, 2, 3]);
    assert.strictEqual(lagging.state, 'waiting');
    assert.match(lagging.raw.message ?? '', /1 task\(s\) not listed yet/);
    assert.strictEqual(lagging.endedAt, undefined);
    // A pending range counts for the tasks it holds.
    const pending = parseSacct(sacct).filter((r) => r.baseId === '120');
    assert.strictEqual(stateFromRows('120', pending, 'sacct', [1, 2, 3, 4]).raw.message, 'job array: 3 task row(s)');
  });

  it('reads squeue lines (no exit code there)', () => {
    const sq = fixture('squeue-running.txt');
    const run = stateOf(sq, '130', 'squeue');
    assert.strictEqual(run.state, 'waiting');
    assert.strictEqual(run.raw.slurmState, 'RUNNING');
    assert.strictEqual(run.raw.exitCode, undefined);
    assert.strictEqual(stateOf(sq, '131', 'squeue').raw.reason, 'Priority');
    assert.strictEqual(stateOf(sq, '131', 'squeue').raw.node, undefined);
    assert.strictEqual(stateOf(sq, '132', 'squeue').state, 'waiting');
  });

  it('skips warnings, job steps and lines of the wrong shape', () => {
    const text = ['sacct: warning: something', `5.batch${FIELD_DELIMITER}batch`, ['5', 'n', 'RUNNING', '0:0', 'x', '1', 'None', 'Unknown', 'Unknown'].join(FIELD_DELIMITER), ''].join('\n');
    assert.deepStrictEqual(parseSacct(text).map((r) => r.jobId), ['5']);
  });

  it('reads sbatch --parsable output, with or without a cluster name', () => {
    assert.strictEqual(parseSbatchOutput('12345\n'), '12345');
    assert.strictEqual(parseSbatchOutput('12345;musetest\n'), '12345');
    assert.strictEqual(parseSbatchOutput('sbatch: error: x\n'), undefined);
  });
});
