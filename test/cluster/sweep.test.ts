/**
 * A sweep over SSH on the real test cluster: one Slurm job array, its throttle, its cancel, a
 * failing task and the rerun of only that task, and MaxArraySize checked before sending.
 */
import * as assert from 'assert';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import type { SshConnection } from '../../src/core/backends/slurm/sshConnection';
import { isMuseError } from '../../src/core/errors';
import { isFinal } from '../../src/core/model';
import type { Run } from '../../src/core/model';
import type { SshProfile } from '../../src/core/profiles';
import { refreshRuns, runRef } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { submitSweep } from '../../src/core/sweep/submitSweep';
import { cancelSweep, groupSweeps, rerunFailedTasks, sweepCountsText } from '../../src/core/sweep/sweepGroups';
import type { SweepSpec } from '../../src/core/sweep/sweepSpec';
import { until } from '../support/until';
import { clusterSshProfile, loadClusterEnv } from './clusterEnv';

describe('sweeps on the test cluster (one Slurm job array)', function () {
  this.timeout(240_000);
  let tmp: string;
  let profile: SshProfile;
  let backend: SlurmBackend;
  let conn: SshConnection;
  let store: RunStore;
  const pool = new SshConnectionPool();
  const prompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };

  before(async () => {
    const env = loadClusterEnv();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-cluster-sweep-'));
    profile = clusterSshProfile(env, tmp, { name: 'cluster', remoteRoot: env.remoteRoot, singularityCommand: env.singularityCommand, images: env.images });
    backend = new SlurmBackend(profile, prompts, pool);
    conn = await backend.connection();
    store = new RunStore(path.join(tmp, 'runs.json'));
    await store.load();
  });
  after(async () => {
    await backend?.dispose();
    pool.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const send = (template: string, params: SweepSpec['params'], throttle?: number): Promise<Run[]> =>
    submitSweep({ backend, store, profile, request: { software: 'sw_example', cmd: template }, spec: { template, params, combine: 'product' }, throttle });
  const baseIds = (runs: Run[]) => [...new Set(runs.map((r) => r.raw.jobId!.split('_')[0]))];
  const ended = (runs: Run[]) =>
    until('every task to end', async () => {
      const ids = new Set(runs.map((r) => r.id));
      const now = await refreshRuns(backend, store, store.list().filter((r) => ids.has(r.id)));
      return now.every((r) => isFinal(r.state)) && now.sort((a, b) => a.sweep!.index - b.sweep!.index);
    }, { timeoutMs: 180_000, intervalMs: 500 });
  const squeue = async (jobId: string, ...more: string[]) => (await conn.execOk(['squeue', '-h', '-j', jobId, ...more])).toString().trim().split('\n').filter(Boolean);

  it('a 2x3 sweep of add.py is ONE Slurm job array of 6 tasks with the right 6 stdouts', async () => {
    const runs = await send('python /add.py {a} {b}', [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }]);
    assert.strictEqual(runs.length, 6);
    const ids = baseIds(runs);
    assert.strictEqual(ids.length, 1, `one job id: ${ids.join(', ')}`);
    assert.deepStrictEqual(runs.map((r) => r.raw.jobId), [0, 1, 2, 3, 4, 5].map((i) => `${ids[0]}_${i}`));
    assert.strictEqual(new Set(runs.map((r) => r.location)).size, 1, 'one run folder');
    const done = await ended(runs);
    assert.deepStrictEqual(done.map((r) => r.state), Array(6).fill('ok'));
    const texts = [];
    for (const r of done) {
      const out = await backend.results(runRef(r), path.join(tmp, `o${r.sweep!.index}`));
      texts.push(out.kind === 'stdout' ? out.text.trim() : out.kind);
    }
    assert.deepStrictEqual(texts, ['11.0', '21.0', '31.0', '12.0', '22.0', '32.0']);
  });

  it('with throttle 2 never more than 2 run at once; cancelling the sweep leaves nothing in squeue', async () => {
    const runs = await send('python -c "import time; time.sleep(4)" {i}', [{ name: 'i', values: ['0', '1', '2', '3', '4', '5'] }], 2);
    const [id] = baseIds(runs);
    assert.match((await conn.execOk(['scontrol', 'show', 'job', id])).toString(), /ArrayTaskThrottle=2/);
    let most = 0;
    await until('a task to run', async () => {
      most = Math.max(most, (await squeue(id, '-t', 'R')).length);
      return most > 0;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    for (let i = 0; i < 10; i++) most = Math.max(most, (await squeue(id, '-t', 'R')).length);
    assert.ok(most >= 1 && most <= 2, `${most} running at once`);
    const [group] = groupSweeps(store.list()).filter((g) => g.id === runs[0].sweep!.id);
    await cancelSweep(backend, store, group);
    await until('the array to leave squeue', async () => (await squeue(id)).length === 0, { timeoutMs: 60_000, intervalMs: 300 });
    const done = await ended(runs);
    assert.ok(done.every((r) => r.state === 'cancelled' || r.state === 'ok'), done.map((r) => r.state).join(' '));
    assert.ok(done.some((r) => r.state === 'cancelled'));
  });

  it('a failing task is failed with its own stderr, and rerunning failed tasks resubmits only it', async () => {
    const runs = await send('python /add.py {a} 1', [{ name: 'a', values: ['1', 'x', '3'] }]);
    const done = await ended(runs);
    assert.deepStrictEqual(done.map((r) => r.state), ['ok', 'failed', 'ok']);
    const err = async (r: Run) => {
      const f = path.join(tmp, `e-${r.id}`);
      await backend.output(runRef(r), 'stderr', f);
      return (await import('fs')).readFileSync(f, 'utf8');
    };
    assert.match(await err(done[1]), /not a number: 'x'/);
    assert.doesNotMatch(await err(done[0]), /not a number/);
    const [group] = groupSweeps(store.list()).filter((g) => g.id === runs[0].sweep!.id);
    assert.strictEqual(sweepCountsText(group.counts), '2 ok · 1 failed');
    const again = await rerunFailedTasks({ backend, store, profile, request: { software: 'sw_example', cmd: '' }, group });
    assert.deepStrictEqual(again.map((r) => [r.sweep!.index, r.request.cmd]), [[1, 'python /add.py x 1']]);
    const [id] = baseIds(again);
    assert.notStrictEqual(id, baseIds(runs)[0]);
    assert.strictEqual(again[0].raw.jobId, `${id}_1`);
    const after = await ended(again);
    assert.strictEqual(after[0].state, 'failed');
    const tasks = (await conn.execOk(['sacct', '-X', '-n', '-P', '-j', id, '--format=JobID'])).toString().trim().split('\n');
    assert.deepStrictEqual(tasks, [`${id}_1`], 'only the failed task was resubmitted');
    const [g2] = groupSweeps(store.list()).filter((g) => g.id === runs[0].sweep!.id);
    assert.strictEqual(g2.tasks[1].id, again[0].id, 'the rerun stands for task 1 in the sweep');
  });

  it('a sweep bigger than MaxArraySize is refused before anything is sent', async () => {
    const before = (await conn.execOk(['sh', '-c', 'ls -1 "$1" | wc -l', 'sh', profile.remoteRoot!])).toString().trim();
    const count = store.list().length;
    await assert.rejects(send('python /add.py {i} 1', [{ name: 'i', values: Array.from({ length: 1002 }, (_, i) => String(i)) }]), (e: unknown) => isMuseError(e, 'usage') && /MaxArraySize=1001/.test(e.message));
    const after = (await conn.execOk(['sh', '-c', 'ls -1 "$1" | wc -l', 'sh', profile.remoteRoot!])).toString().trim();
    assert.strictEqual(after, before, 'no run folder made');
    assert.strictEqual(store.list().length, count, 'no record left');
  });
});
