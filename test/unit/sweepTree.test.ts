/**
 * The Runs tree's sweep rows as plain data: one row per sweep among the runs by creation time,
 * its counts, icon and menus, its tasks in index order labelled by their values, a rerun task in
 * place of the one it reruns, the one end notification per sweep, and the time to expand a
 * 1,000-task sweep (printed, not asserted).
 */
import * as assert from 'assert';
import type { Run, RunState } from '../../src/core/model';
import { runContextValue, runDescription } from '../../src/extension/runTreeModel';
import { RunsTreeIndex } from '../../src/extension/runsTreeIndex';
import type { TopRow } from '../../src/extension/runsTreeIndex';
import {
  sweepClaimTask,
  sweepContextValue,
  sweepDescription,
  sweepEndText,
  sweepIcon,
  sweepLabel,
  sweepsEndedBy,
  sweepState,
  taskLabel,
} from '../../src/extension/sweepTreeModel';

const both = { cancel: true, output: true };
let seq = 0;

function at(minute: number, second = 0): string {
  return new Date(Date.UTC(2026, 0, 1, 10, minute, second)).toISOString();
}

function run(state: RunState, extra: Partial<Run> = {}): Run {
  seq++;
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    profile: 'local',
    backend: 'local',
    software: 'direct',
    key: `k-${seq}`,
    request: { cmd: 'python3 add.py', cmdOption: '', files: ['add.py'], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state,
    raw: {},
    createdAt: at(0),
    updatedAt: at(0),
    ...extra,
  };
}

/** A task of sweep `id`: index, values, state; `count` tasks in all. */
function task(id: string, index: number, params: Record<string, string>, state: RunState, count: number, extra: Partial<Run> = {}): Run {
  return run(state, {
    label: 'add.py',
    sweep: { id, index, count, params, template: 'python3 add.py {a} {b}', label: 'add.py' },
    ...extra,
  });
}

/** The 2x3 sweep of the issue: a=1,2 b=10,20,30, created at minute 5. */
function sweep2x3(states: RunState[], id = 'sweep-1'): Run[] {
  const out: Run[] = [];
  let i = 0;
  for (const a of ['1', '2']) for (const b of ['10', '20', '30']) out.push(task(id, i, { a, b }, states[i++], 6, { createdAt: at(5), updatedAt: at(6, i) }));
  return out;
}

/** The store's order: newest first (RunStore.list). */
function newestFirst(runs: Run[]): Run[] {
  return [...runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

describe('extension: sweep rows of the Runs tree', () => {
  it('shows a sweep as one row among the runs, placed by its creation time', () => {
    const older = run('ok', { createdAt: at(1), label: 'old.py' });
    const newer = run('waiting', { createdAt: at(9), label: 'new.py' });
    const tasks = sweep2x3(['ok', 'ok', 'ok', 'ok', 'waiting', 'failed']);
    const index = new RunsTreeIndex(newestFirst([older, newer, ...tasks]));
    const rows = index.topRows('local');
    assert.deepStrictEqual(
      rows.map((r) => (r.kind === 'run' ? r.run.label : `sweep ${r.sweep.id}`)),
      ['new.py', 'sweep sweep-1', 'old.py'],
    );
    assert.strictEqual(index.topRows('elsewhere').length, 0);
  });

  it('labels the sweep with its software and script, counts its tasks, and paints its overall state', () => {
    const tasks = sweep2x3(['ok', 'ok', 'ok', 'ok', 'waiting', 'failed']);
    tasks[4].raw = { slurmState: 'RUNNING' };
    const group = new RunsTreeIndex(newestFirst(tasks)).sweep('sweep-1');
    assert.ok(group);
    assert.strictEqual(sweepLabel(group), 'direct · add.py');
    assert.strictEqual(sweepDescription(group), '6 tasks · 4 ok · 1 running · 1 failed');
    assert.strictEqual(sweepState(group.counts), 'waiting');
    assert.strictEqual(sweepIcon(group).id, 'loading~spin');
    // All ended, one failed: the row is red and offers Rerun Failed Tasks, no Cancel.
    const ended = new RunsTreeIndex(newestFirst(sweep2x3(['ok', 'ok', 'ok', 'ok', 'ok', 'failed'], 'sweep-2'))).sweep('sweep-2')!;
    assert.strictEqual(sweepEndText(ended), 'Sweep add.py: 5 ok · 1 failed');
    assert.deepStrictEqual(sweepIcon(ended), { id: 'error', color: 'testing.iconFailed' });
    assert.strictEqual(sweepContextValue(ended, both), 'sweep;failed;rerunFailed;removable');
    const allOk = new RunsTreeIndex(sweep2x3(Array(6).fill('ok'), 'sweep-3')).sweep('sweep-3')!;
    assert.strictEqual(sweepContextValue(allOk, both), 'sweep;ok;removable');
    assert.strictEqual(sweepIcon(allOk).id, 'pass');
  });

  it('offers Cancel Sweep while a task runs and the backend cancels, Rerun only once none runs', () => {
    const group = new RunsTreeIndex(sweep2x3(['ok', 'failed', 'waiting', 'waiting', 'ok', 'ok'])).sweep('sweep-1')!;
    assert.strictEqual(sweepContextValue(group, both), 'sweep;waiting;cancellable;removable');
    assert.strictEqual(sweepContextValue(group, { cancel: false, output: true }), 'sweep;waiting;removable');
    const sending = new RunsTreeIndex(sweep2x3(Array(6).fill('submitting'), 'sweep-4').map((r) => ({ ...r, key: undefined }))).sweep('sweep-4')!;
    assert.strictEqual(sweepContextValue(sending, both), 'sweep;submitting', 'a sweep being sent is neither cancelled from its row nor removed');
    // The menus' regular expressions.
    assert.ok(/^sweep;/.test(sweepContextValue(group, both)) && !/^run;/.test(sweepContextValue(group, both)));
  });

  it('lists the tasks in index order labelled by their values, each a normal run row', () => {
    const tasks = sweep2x3(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const shuffled = [tasks[3], tasks[0], tasks[5], tasks[1], tasks[4], tasks[2]];
    const group = new RunsTreeIndex(shuffled).sweep('sweep-1')!;
    assert.deepStrictEqual(group.tasks.map(taskLabel), ['a=1 b=10', 'a=1 b=20', 'a=1 b=30', 'a=2 b=10', 'a=2 b=20', 'a=2 b=30']);
    // A task keeps the run actions (open, follow, results): its context value is a run's.
    assert.strictEqual(runContextValue(group.tasks[0], both), 'run;ok;keyed;results;output;content;removable');
    assert.strictEqual(taskLabel(run('ok', { sweep: { id: 's', index: 7, count: 8, params: {}, template: 'x' } })), 'task 7');
  });

  it('shows a rerun task in place of the task it reruns, which then belongs to no row', () => {
    const tasks = sweep2x3(['ok', 'ok', 'ok', 'ok', 'ok', 'failed']);
    const rerun = task('sweep-1', 5, { a: '2', b: '30' }, 'waiting', 6, { createdAt: at(20), updatedAt: at(20), rerunOf: tasks[5].id });
    const index = new RunsTreeIndex(newestFirst([...tasks, rerun]));
    const group = index.sweep('sweep-1')!;
    assert.strictEqual(group.tasks.length, 6);
    assert.strictEqual(group.tasks[5].id, rerun.id);
    assert.strictEqual(sweepDescription(group), '6 tasks · 5 ok · 1 running');
    assert.ok(index.shownInSweep(rerun));
    assert.ok(!index.shownInSweep(tasks[5]), 'the replaced task is not under the sweep');
    // The sweep keeps its place: its first task's creation time.
    const later = run('ok', { createdAt: at(10) });
    const rows = new RunsTreeIndex(newestFirst([...tasks, rerun, later])).topRows('local');
    assert.deepStrictEqual(rows.map((r) => r.kind), ['run', 'sweep']);
  });

  it('announces a sweep once, when its last task ends, claimed on the task that ended last', () => {
    const tasks = sweep2x3(['ok', 'ok', 'ok', 'ok', 'ok', 'waiting']);
    assert.deepStrictEqual(sweepsEndedBy([tasks[4]], tasks), [], 'not while a task runs');
    const last = { ...tasks[5], state: 'failed' as const, endedAt: at(30) };
    const all = [...tasks.slice(0, 5), last];
    // Several tasks seen ending in the same poll: still one sweep.
    const ended = sweepsEndedBy([tasks[3], tasks[4], last], all);
    assert.strictEqual(ended.length, 1);
    assert.strictEqual(sweepEndText(ended[0]), 'Sweep add.py: 5 ok · 1 failed');
    assert.strictEqual(sweepClaimTask(ended[0]).id, last.id);
    assert.deepStrictEqual(sweepsEndedBy([run('ok')], all), [], 'a plain run is not a sweep');
  });

  it('expands a 1,000-task sweep quickly (time printed)', () => {
    const n = 1000;
    const tasks: Run[] = [];
    for (let i = 0; i < n; i++) {
      const state: RunState = i % 50 === 0 ? 'failed' : i % 7 === 0 ? 'waiting' : 'ok';
      tasks.push(task('big', i, { a: String(i % 40), b: String(Math.floor(i / 40)) }, state, n, { createdAt: at(1), updatedAt: at(2), raw: { jobId: `4242_${i}` } }));
    }
    const plain = Array.from({ length: 200 }, (_, i) => run('ok', { createdAt: at(3, i % 60) }));
    const store = newestFirst([...plain, ...tasks]);
    const now = Date.parse(at(3));
    // What the view does on a store change and the expand: index, the profile's rows, the
    // sweep's children, and for each child what its tree item shows. The first pass runs cold
    // (as the first expand after activation), the second as after any later store change.
    const expand = (): { rows: TopRow[]; children: Run[]; chars: number; ms: number } => {
      const t0 = process.hrtime.bigint();
      const index = new RunsTreeIndex(store);
      const rows = index.topRows('local');
      const row = rows.find((r) => r.kind === 'sweep');
      const children = row?.kind === 'sweep' ? index.sweep(row.sweep.id)!.tasks : [];
      let chars = 0;
      for (const c of children) chars += taskLabel(c).length + runDescription(c, now).length + runContextValue(c, both).length;
      return { rows, children, chars, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    };
    const cold = expand();
    const warm = expand();
    console.log(`      expanding a ${n}-task sweep among ${plain.length} runs: ${cold.ms.toFixed(1)} ms cold, ${warm.ms.toFixed(1)} ms after a store change (target < 100 ms)`);
    const { rows, children, chars } = cold;
    const sweepRow = rows.find((r) => r.kind === 'sweep');
    assert.ok(sweepRow && sweepRow.kind === 'sweep');
    assert.strictEqual(rows.length, plain.length + 1);
    assert.strictEqual(children.length, n);
    assert.strictEqual(children[999].sweep?.index, 999);
    assert.ok(chars > 0);
    assert.strictEqual(sweepDescription(sweepRow.sweep), '1000 tasks · 840 ok · 140 running · 20 failed · job 4242');
  });
});
