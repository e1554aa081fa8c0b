// The Run Summary's content, the Runs tree's wait and rerun texts, and Rerun with Changes' picks,
// from stored runs carrying the figures that sacct's fixtures give (no VS Code).
import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import type { Run, RunState, RunUsage } from '../../src/core/model';
import { groupUsageRows, parseUsageRows } from '../../src/core/usage/sacctUsage';
import { usageByJob } from '../../src/core/usage/usageFigures';
import type { UsageFigures } from '../../src/core/usage/usageFigures';
import { KEEP_REQUEST, advicePicks, applyPicked, joinOptions, splitSbatchOptions, splitWords } from '../../src/extension/rerunChanges';
import { runSummaryHtml } from '../../src/extension/runSummaryHtml';
import { htmlEscape } from '../../src/extension/webviewPage';
import { runAdvice, runSummaryModel, usageBars } from '../../src/extension/runSummaryModel';
import { mdEscape, runDescription, runTooltipMarkdown } from '../../src/extension/runTreeModel';
import { repoRoot } from '../support/repoRoot';

/** The figures of one job of a sacct fixture, stored the way a run keeps them (`raw.usage`). */
function storedUsage(fixture: string, key: string): RunUsage {
  const text = readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', fixture), 'utf8').replace(/\|/g, FIELD_DELIMITER);
  const f = usageByJob(groupUsageRows(parseUsageRows(text))).get(key);
  assert.ok(f, key);
  const { key: _k, baseId: _b, task: _t, het: _h, exitCode: _e, timeFraction: _tf, memoryFraction: _mf, ...rest } = f as UsageFigures;
  return { source: 'slurm', ...rest };
}

function run(state: RunState, extra: Partial<Run> = {}): Run {
  return {
    id: '3f2a1b2c-0000-4000-8000-000000000001', profile: 'cluster', backend: 'ssh', software: 'sw_example', key: 'k-1',
    request: { cmd: 'python3 add.py 4 5', cmdOption: '', files: ['add.py'], filesOrder: ['add.py'], returnedType: 'stdout', toDownload: false, sbatchList: ['--mem=6G', '-c 2'], moduleList: ['python/3.11'] },
    state, raw: {}, createdAt: '2026-11-29T08:00:00.000Z', updatedAt: '2026-11-29T08:16:21.000Z', submittedAt: '2026-11-29T08:00:00.000Z', ...extra,
  };
}

const oomRun = (): Run => run('failed', { raw: { jobId: '4001', slurmState: 'OUT_OF_MEMORY', exitCode: 0, usage: storedUsage('sacct-24.05.txt', '4001') } });

describe('extension: Run Summary', () => {
  it('an OUT_OF_MEMORY run: bars with their figures in words, and the advice to ask 1.5x the memory', () => {
    const m = runSummaryModel(oomRun());
    assert.deepStrictEqual(m.bars.map((b) => b.name), ['CPU', 'Memory', 'Time']);
    const mem = m.bars[1];
    assert.strictEqual(mem.fraction, 1);
    assert.strictEqual(mem.text, 'peak 6.0 GB of 6.0 GB asked (100%)');
    assert.match(m.bars[0].text, /^49% efficiency of 2 CPUs/);
    assert.match(m.bars[2].text, /^14:21 of 1-00:00:00 limit/);
    assert.deepStrictEqual(m.advice.map((a) => a.option), ['--mem=9G', '--cpus-per-task=1']);
    assert.strictEqual(m.stateText, 'failed (OUT_OF_MEMORY)');
    assert.deepStrictEqual(m.timeline.map((t) => t.label), ['Submitted', 'Started', 'Ended', 'Waited', 'Ran for']);
    assert.strictEqual(m.timeline.find((t) => t.label === 'Waited')?.text, '2:00');
    assert.ok(m.asked.some(([k, v]) => k === 'Slurm options' && v === '--mem=6G -c 2'));
    assert.ok(m.asked.some(([k, v]) => k === 'Modules' && v === 'python/3.11'));
    assert.strictEqual(m.notProvided, undefined);
  });

  it('an oom kill in the stderr tail of a FAILED run gives the memory advice too', () => {
    const u = storedUsage('sacct-22.05.txt', '201');
    const failed = run('failed', { raw: { slurmState: 'FAILED', usage: { ...u, state: 'FAILED' } } });
    assert.ok(!runAdvice(failed).some((a) => a.kind === 'outOfMemory'));
    assert.ok(runAdvice(failed, 'slurmstepd: error: Detected 1 oom-kill event(s) in StepId=201.batch').some((a) => a.kind === 'outOfMemory'));
  });

  it('no advice before the end, and unknown figures stay unknown (never drawn as 0)', () => {
    assert.deepStrictEqual(runAdvice(run('waiting', { raw: { usage: storedUsage('sacct-24.05.txt', '4001') } })), []);
    assert.deepStrictEqual(usageBars({ source: 'slurm', started: false }), [{ name: 'CPU', text: 'did not start: no usage figures' }]);
    const local = usageBars({ source: 'local', cpuSeconds: 1.5, memoryPeakBytes: 20 * 1024 ** 2, elapsedSeconds: 2 });
    assert.ok(local.every((b) => b.fraction === undefined), 'no request to draw a bar against');
    assert.deepStrictEqual(local.map((b) => b.text), ['CPU time 0:02 (no CPU count asked: no efficiency)', 'peak 20 MB (no request to compare with)', '0:02']);
  });

  it('a web API run says which figures the API does not provide', () => {
    const m = runSummaryModel(run('ok', { backend: 'ws' }));
    assert.match(m.notProvided ?? '', /web API reports the job id and its states only/);
    assert.deepStrictEqual(m.bars, []);
  });

  it('the page escapes what it shows, holds a strict CSP and no remote resource, and uses theme colours', () => {
    const r = oomRun();
    r.request.cmd = '<img src=x onerror=alert(1)>';
    const html = runSummaryHtml(runSummaryModel(r), 'NONCE', 'vscode-webview://x');
    assert.ok(!html.includes('<img'), 'markup from the request is escaped');
    assert.ok(html.includes(htmlEscape('<img src=x onerror=alert(1)>')));
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src vscode-webview:\/\/x 'nonce-NONCE'; script-src 'nonce-NONCE'/);
    assert.ok(!/https?:\/\//.test(html), 'no remote resource');
    assert.match(html, /var\(--vscode-progressBar-background\)/);
    assert.match(html, /role="meter" aria-label="Memory" aria-valuemin="0" aria-valuemax="100" aria-valuenow="100"/);
    assert.match(html, /data-option="--mem=9G">The run ran out of memory/);
    assert.ok(!/ style="/.test(html), 'no style attribute (the CSP refuses them): the fills are sized by the nonce\'d style');
    assert.match(html, /#fill-0 \{ width: 49%; \}/);
    assert.match(html, /#fill-1 \{ width: 100%; \}/);
    assert.match(html, /data-command="rerunWithChanges"/);
    assert.ok(!html.includes('data-command="openResults"'), 'a failed run has no results to open');
  });
});

describe('extension: Runs tree, waits and reruns', () => {
  const now = new Date(2026, 11, 1, 14, 0, 0).getTime();

  it('a waiting run says why it waits and when it should start', () => {
    const r = run('waiting', { raw: { jobId: '77', slurmState: 'PENDING', wait: { reason: 'Priority', expectedStart: new Date(2026, 11, 1, 14, 20).getTime() } } });
    assert.match(runDescription(r, now), /^waiting · Priority · starts ~14:20 · .* · job 77$/);
    assert.ok(runTooltipMarkdown(r, now).includes(`| Waiting | ${mdEscape('waiting · Priority · starts ~14:20')} |`));
    // Once running, the wait is history: the state shows again.
    assert.match(runDescription({ ...r, raw: { jobId: '77', slurmState: 'RUNNING' } }, now), /^waiting · RUNNING/);
  });

  it('a rerun names the run it reruns; the tooltip carries the key figures', () => {
    const r = { ...oomRun(), rerunOf: '9a8b7c6d-1111-4000-8000-000000000000' };
    assert.match(runDescription(r, now), /· rerun of 9a8b7c6d$/);
    const line = 'CPU 49% of 2 CPUs · memory 6.0 GB of 6.0 GB (100%) · time 14:21 of 1-00:00:00 · waited 2:00';
    assert.ok(runTooltipMarkdown(r, now).includes(`| Usage | ${mdEscape(line)} |`));
  });
});

describe('extension: Rerun with Changes', () => {
  it('offers each advice as one pick, all at once, or none; a pick replaces the option it answers', () => {
    const advice = runAdvice(oomRun());
    const picks = advicePicks(advice);
    assert.deepStrictEqual(picks.map((p) => p.label), ['Apply: --mem=9G', 'Apply: --cpus-per-task=1', 'Apply all: --mem=9G --cpus-per-task=1', KEEP_REQUEST]);
    const opts = oomRun().request.sbatchList;
    assert.deepStrictEqual(applyPicked(opts, picks[0]), ['--mem=9G', '-c 2']);
    assert.deepStrictEqual(applyPicked(opts, picks[2]), ['--mem=9G', '--cpus-per-task=1']);
    assert.deepStrictEqual(applyPicked(opts, picks[3]), opts);
  });

  it('sbatch options round-trip through one input box, one item per option', () => {
    const items = ['--mem=9G', '-c 2', '--time 1:00:00', '--exclusive', 'qos=normal'];
    const text = joinOptions(items);
    assert.strictEqual(text, '--mem=9G -c 2 --time 1:00:00 --exclusive qos=normal');
    assert.deepStrictEqual(splitSbatchOptions(text), items);
    assert.deepStrictEqual(splitSbatchOptions('  --mem=4G   -N 1 '), ['--mem=4G', '-N 1']);
    assert.deepStrictEqual(splitSbatchOptions(''), []);
    assert.deepStrictEqual(splitWords(' python/3.11  gcc '), ['python/3.11', 'gcc']);
  });
});
