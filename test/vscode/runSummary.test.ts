// The Run Summary and Rerun with Changes inside the real extension host: the summary of an ended
// local run (its request and timeline, in one editor tab per run), the summary of a run carrying
// Slurm figures (an OUT_OF_MEMORY job as sacct wrote it: bars and the "Apply: --mem=..." advice),
// and Rerun with Changes taking that advice: the new run (on the local runner) asks for the new
// --mem, records which run it reruns, and the Runs tree says so.
import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import type { Run, RunUsage } from '../../src/core/model';
import { groupUsageRows, parseUsageRows } from '../../src/core/usage/sacctUsage';
import { usageByJob } from '../../src/core/usage/usageFigures';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunSummaryModel } from '../../src/extension/runSummaryModel';
import type { RunsNode } from '../../src/extension/runsView';
import { repoRoot } from '../support/repoRoot';
import { PromptRecorder, exampleScript, museApi, resetMuseSettings, runEnded, runScript, setMuseSettings, tempDir, until } from './support';

const PROFILE = 'vstest-summary';

/** The figures of job `key` of a sacct fixture, stored as a run keeps them (`raw.usage`). */
function storedUsage(fixture: string, key: string): RunUsage {
  const text = readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', fixture), 'utf8').replace(/\|/g, FIELD_DELIMITER);
  const f = usageByJob(groupUsageRows(parseUsageRows(text))).get(key);
  assert.ok(f, `no job ${key} in ${fixture}`);
  const { key: _k, baseId: _b, task: _t, het: _h, exitCode: _e, timeFraction: _tf, memoryFraction: _mf, ...figures } = f;
  return { source: 'slurm', ...figures };
}

/** The editor tabs showing a Run Summary titled `title`. */
function summaryTabs(title: string): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('muse.runSummary') && t.label === title);
}

function treeDescription(api: MuseExtensionApi, runId: string): string | undefined {
  const view = api.runsView;
  const group = (view.getChildren() as RunsNode[]).find((n) => n.type === 'profile' && n.name === PROFILE);
  const node = group && (view.getChildren(group) as RunsNode[]).find((n) => n.type === 'run' && n.id === runId);
  return node ? String(view.getTreeItem(node).description) : undefined;
}

describe('Run Summary and Rerun with Changes in a real VS Code', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let prompts: PromptRecorder;

  before(async () => {
    api = await museApi();
    const tmp = tempDir('summary-test-');
    await setMuseSettings({
      profiles: [{ name: PROFILE, kind: 'local', root: path.join(tmp, 'runs') }],
      activeProfile: PROFILE,
      pollInterval: 1,
    });
    prompts = new PromptRecorder(api);
  });

  after(async () => {
    prompts.dispose();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await resetMuseSettings();
  });

  it('opens the summary of an ended local run in one editor tab, with its request and timeline', async () => {
    const submitted = await runScript(api, exampleScript(), 'python', 'python3 add.py 4 5');
    const run = await runEnded(api, submitted.id);
    assert.strictEqual(run.state, 'ok', `ended ${run.state}: ${run.lastError ?? ''}`);

    const model = (await vscode.commands.executeCommand('muse.showSummary', { type: 'run', id: run.id })) as RunSummaryModel | undefined;
    assert.ok(model, `no summary: ${api.lastCommandError()}`);
    const asked = new Map(model.asked);
    assert.strictEqual(asked.get('Command'), 'python3 add.py 4 5');
    assert.strictEqual(asked.get('Files'), 'add.py');
    assert.strictEqual(asked.get('Software'), 'python');
    const times = model.timeline.map((t) => t.label);
    assert.ok(times.includes('Submitted') && times.includes('Ended'), `timeline: ${JSON.stringify(model.timeline)}`);
    assert.strictEqual(model.stateText, 'done');
    assert.ok(model.canOpenResults);
    await until('the summary tab', () => (summaryTabs('Summary: add.py').length === 1 ? true : undefined), 10_000);

    // Asked again: the same tab comes forward, no second one.
    await vscode.commands.executeCommand('workbench.action.files.newUntitledFile');
    await vscode.commands.executeCommand('muse.showSummary', { type: 'run', id: run.id });
    await until('the summary tab to be active again', () => {
      const tabs = summaryTabs('Summary: add.py');
      return tabs.length === 1 && tabs[0].isActive ? true : undefined;
    }, 10_000);
  });

  describe('a run that ran out of memory on the cluster', () => {
    let oom: Run;

    before(async () => {
      // As the SSH poll stores it: sacct's figures of job 4001 (Slurm 24.05: 6G asked, 6G peak, OUT_OF_MEMORY).
      const now = new Date().toISOString();
      oom = {
        id: 'a0b1c2d3-5555-4000-8000-000000000010',
        profile: PROFILE,
        backend: 'ssh',
        software: 'python',
        label: 'add.py',
        request: { cmd: 'python3 add.py 4 5', cmdOption: '', files: ['add.py'], filesOrder: ['add.py'], returnedType: 'stdout', toDownload: false, sbatchList: ['--mem=6G', '--time=1-00:00:00'], moduleList: ['python/3.11'] },
        state: 'failed',
        raw: { jobId: '4001', slurmState: 'OUT_OF_MEMORY', exitCode: 0, node: 'cn012', usage: storedUsage('sacct-24.05.txt', '4001') },
        createdAt: now,
        updatedAt: now,
        submittedAt: now,
        endedAt: now,
      };
      await api.store.add(oom);
    });

    it('shows the usage bars and the advice to ask for more memory', async () => {
      const model = (await vscode.commands.executeCommand('muse.showSummary', { type: 'run', id: oom.id })) as RunSummaryModel | undefined;
      assert.ok(model, `no summary: ${api.lastCommandError()}`);
      assert.deepStrictEqual(model.bars.map((b) => [b.name, b.fraction !== undefined]), [['CPU', true], ['Memory', true], ['Time', true]]);
      assert.strictEqual(model.bars[1].text, 'peak 6.0 GB of 6.0 GB asked (100%)');
      assert.strictEqual(model.stateText, 'failed (OUT_OF_MEMORY)');
      assert.ok(model.advice.some((a) => a.option === '--mem=9G' && /ran out of memory/.test(a.text)), JSON.stringify(model.advice));
      assert.ok(model.timeline.some((t) => t.label === 'Waited' && t.text === '2:00'));
      assert.ok(!model.canOpenResults);
      await until('the summary tab', () => (summaryTabs('Summary: add.py').length === 2 ? true : undefined), 10_000);
    });

    it('Rerun with Changes taking "Apply: --mem=9G" submits the new --mem, linked to the run it reruns', async () => {
      prompts.set('rerun.advice', 'Apply: --mem=9G');
      // The prefilled command, Slurm options and modules, accepted as shown.
      for (const id of ['rerun.cmd', 'rerun.sbatch', 'rerun.modules']) prompts.set(id, (q) => (q.kind === 'input' ? q.value : undefined));
      const mark = prompts.asked.length;
      const rerun = (await vscode.commands.executeCommand('muse.rerunWithChanges', { type: 'run', id: oom.id })) as Run | undefined;
      assert.ok(rerun?.key, `no rerun: ${api.lastCommandError()}`);

      const asked = prompts.asked.slice(mark).filter((q) => q.id.startsWith('rerun.'));
      assert.deepStrictEqual(asked.map((q) => q.id), ['rerun.advice', 'rerun.cmd', 'rerun.sbatch', 'rerun.modules'], 'the advice comes first');
      const advice = asked[0];
      assert.ok(advice.kind === 'pick');
      assert.deepStrictEqual(advice.items.map((i) => i.label), ['Apply: --mem=9G', 'Apply: --cpus-per-task=1', 'Apply all: --mem=9G --cpus-per-task=1', 'Keep the request as it was']);
      const sbatch = asked[2];
      assert.ok(sbatch.kind === 'input');
      assert.strictEqual(sbatch.value, '--mem=9G --time=1-00:00:00', 'the advice applied in the prefilled options');

      assert.deepStrictEqual(rerun.request.sbatchList, ['--mem=9G', '--time=1-00:00:00']);
      assert.deepStrictEqual(rerun.request.moduleList, ['python/3.11']);
      assert.deepStrictEqual(rerun.request.files, ['add.py']);
      assert.strictEqual(rerun.rerunOf, oom.id);
      assert.strictEqual(api.store.get(rerun.id)?.rerunOf, oom.id, 'the link is in the store');
      const description = await until('the tree to show the rerun', () => {
        const d = treeDescription(api, rerun.id);
        return d && d.includes('rerun of') ? d : undefined;
      });
      assert.match(description, /rerun of a0b1c2d3/);
      const ended = await runEnded(api, rerun.id);
      assert.strictEqual(ended.state, 'ok', `the rerun ended ${ended.state}: ${ended.lastError ?? ''}`);
    });
  });
});
