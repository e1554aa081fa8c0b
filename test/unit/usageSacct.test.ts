import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { FIELD_DELIMITER, SACCT_FIELDS, parseSacct, stateFromRows } from '../../src/core/backends/slurm/slurmParse';
import { USAGE_FIELDS, groupUsageRows, parseUsageRows, withUsageFields } from '../../src/core/usage/sacctUsage';
import { figuresOfJob, usageByJob, type UsageFigures } from '../../src/core/usage/usageFigures';
import { adviseUsage } from '../../src/core/usage/usageAdvice';
import { repoRoot } from '../support/repoRoot';

/** Fixtures are written with `|` for readability; the poll asks sacct for the unit separator. */
function fixture(name: string): string {
  return readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', name), 'utf8').replace(/\|/g, FIELD_DELIMITER);
}

function figuresOf(name: string): Map<string, UsageFigures> {
  return usageByJob(groupUsageRows(parseUsageRows(fixture(name))));
}

function get(m: Map<string, UsageFigures>, key: string): UsageFigures {
  const f = m.get(key);
  assert.ok(f, `no figures for ${key}; have ${[...m.keys()].join(', ')}`);
  return f;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const near = (a: number | undefined, b: number, what: string): void => {
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-3, `${what}: ${a} is not ${b}`);
};

describe('usage: sacct rows with steps', () => {
  it('asks sacct for every field the figures need, in the order the rows are read', () => {
    assert.deepStrictEqual([...USAGE_FIELDS], [
      'JobID', 'State', 'ExitCode', 'Elapsed', 'Timelimit', 'TotalCPU', 'AllocCPUS', 'ReqMem', 'MaxRSS', 'AllocTRES', 'NodeList', 'Submit', 'Start', 'End',
    ]);
  });

  it('groups job rows with their .batch/.extern/.N steps, array tasks and pending ranges apart', () => {
    const jobs = groupUsageRows(parseUsageRows(fixture('sacct-22.05.txt')));
    assert.deepStrictEqual(jobs.map((j) => j.key), ['201', '202', '203', '204', '205', '206_1', '206_2', '206_[3-4%2]', '207', '208']);
    const j207 = jobs.find((j) => j.key === '207')!;
    assert.deepStrictEqual(j207.steps.map((s) => s.step), ['batch', 'extern', '0', '1']);
    assert.strictEqual(j207.job?.jobId, '207');
    const t2 = jobs.find((j) => j.key === '206_2')!;
    assert.deepStrictEqual([t2.baseId, t2.task, t2.steps.map((s) => s.jobId)], ['206', '2', ['206_2.batch', '206_2.extern']]);
    const range = jobs.find((j) => j.key === '206_[3-4%2]')!;
    assert.deepStrictEqual([range.baseId, range.task, range.steps.length], ['206', '3-4%2', 0]);
  });

  it('keeps het job components apart, each with its own steps and request', () => {
    const jobs = groupUsageRows(parseUsageRows(fixture('sacct-23.11.txt')));
    const het = jobs.filter((j) => j.baseId === '3002');
    assert.deepStrictEqual(het.map((j) => [j.key, j.het, j.steps.map((s) => s.jobId)]), [
      ['3002+0', 0, ['3002+0.batch']],
      ['3002+1', 1, ['3002+1.extern']],
    ]);
    const m = figuresOf('sacct-23.11.txt');
    assert.strictEqual(get(m, '3002+0').memoryRequestBytes, 2 * GiB);
    assert.strictEqual(get(m, '3002+1').memoryRequestBytes, 64 * GiB);
  });

  it('one sacct call serves the state and the figures: the state fields first, the usage fields after', () => {
    const fields = withUsageFields(SACCT_FIELDS);
    assert.deepStrictEqual(fields.slice(0, SACCT_FIELDS.length), [...SACCT_FIELDS]);
    assert.deepStrictEqual(new Set(fields), new Set([...SACCT_FIELDS, ...USAGE_FIELDS]));
    // The 22.05 rows as that call prints them (JobName and Reason filled in).
    const text = fixture('sacct-22.05.txt').split('\n').filter(Boolean).map((line) => {
      const v = line.split(FIELD_DELIMITER);
      const byName = new Map<string, string>(USAGE_FIELDS.map((f, i) => [f, v[i]]));
      byName.set('JobName', v[0].includes('.') ? v[0].split('.')[1] : 'muse-sw_example');
      byName.set('Reason', 'None');
      return fields.map((f) => byName.get(f)).join(FIELD_DELIMITER);
    }).join('\n');
    const state = stateFromRows('204', parseSacct(text).filter((r) => r.baseId === '204'), 'sacct');
    assert.deepStrictEqual([state.state, state.raw.slurmState, state.raw.exitCode], ['failed', 'OUT_OF_MEMORY', 0]);
    const f = usageByJob(groupUsageRows(parseUsageRows(text, FIELD_DELIMITER, fields))).get('204')!;
    assert.deepStrictEqual([f.memoryPeakBytes, f.memoryRequestBytes], [210 * MiB, 200 * MiB]);
    assert.throws(() => parseUsageRows(text, FIELD_DELIMITER, SACCT_FIELDS), /lack State|lack Timelimit/);
  });

  it('gives a run the figures of its job, or of each array task and pending range', () => {
    const m = figuresOf('sacct-22.05.txt');
    assert.deepStrictEqual(figuresOfJob(m, '201').map((f) => f.key), ['201']);
    assert.deepStrictEqual(figuresOfJob(m, '206').map((f) => f.key), ['206_1', '206_2', '206_[3-4%2]']);
    const splitting = new Map(m);
    splitting.set('206', { ...m.get('206_1')!, key: '206', task: undefined });
    assert.deepStrictEqual(figuresOfJob(splitting, '206').map((f) => f.key), ['206_1', '206_2', '206_[3-4%2]'], "the array's own record left out");
    assert.deepStrictEqual(figuresOfJob(figuresOf('sacct-23.11.txt'), '3002').map((f) => f.key), ['3002+0', '3002+1']);
  });

  it('skips lines that are not rows (warnings, short lines, blank lines, CRLF endings)', () => {
    const text = 'sacct: error: something\n\n' + fixture('sacct-22.05.txt').split('\n').slice(0, 3).join('\r\n') + '\r\n201.9\x1fCOMPLETED\n';
    const rows = parseUsageRows(text);
    assert.deepStrictEqual(rows.map((r) => r.jobId), ['201', '201.batch', '201.extern']);
    assert.strictEqual(rows[2].end, '2026-12-01T10:00:15');
  });
});

describe('usage: figures as Slurm 22.05 prints them (the test cluster)', () => {
  const m = figuresOf('sacct-22.05.txt');

  it('a job holding about 200 MB: the peak from its .batch step, against ReqMem, with wait and time', () => {
    const f = get(m, '201');
    assert.strictEqual(f.state, 'COMPLETED');
    assert.strictEqual(f.memoryPeakBytes, 209740 * 1024);
    assert.strictEqual(f.memoryRequestBytes, 3500 * MiB);
    assert.strictEqual(f.memoryRequestPer, 'job');
    near(f.memoryFraction, (209740 * 1024) / (3500 * MiB), 'memory fraction');
    assert.strictEqual(f.elapsedSeconds, 12);
    assert.strictEqual(f.timeLimit, 'unlimited');
    assert.strictEqual(f.timeFraction, undefined);
    assert.strictEqual(f.waitSeconds, 3);
    assert.strictEqual(f.allocCpus, 1);
    assert.strictEqual(f.nodeList, 'musehost');
  });

  it('a busy loop on one CPU: CPU efficiency = TotalCPU / (Elapsed x AllocCPUS)', () => {
    const f = get(m, '202');
    near(f.cpuSeconds, 19.512, 'cpu seconds');
    near(f.cpuEfficiency, 19.512 / 20, 'cpu efficiency');
    assert.strictEqual(f.timeLimit, 600);
    near(f.timeFraction, 20 / 600, 'time fraction');
  });

  it('a multi-step job: the largest MaxRSS of the steps, CPU time of all steps', () => {
    const f = get(m, '207');
    assert.strictEqual(f.memoryPeakBytes, 2202009 * 1024);
    assert.strictEqual(f.memoryRequestBytes, 8 * GiB);
    near(f.cpuSeconds, 310, 'cpu seconds');
    near(f.cpuEfficiency, 310 / (300 * 4), 'cpu efficiency');
  });

  it('a job cancelled while pending (Start = End, no CPUs) has no figures, not zeros', () => {
    const f = get(m, '205');
    assert.strictEqual(f.state, 'CANCELLED');
    assert.strictEqual(f.started, false);
    for (const k of ['elapsedSeconds', 'cpuSeconds', 'cpuEfficiency', 'memoryPeakBytes', 'memoryFraction', 'waitSeconds', 'allocCpus', 'nodeList'] as const) {
      assert.strictEqual(f[k], undefined, `${k} should be unknown`);
    }
    assert.strictEqual(f.memoryRequestBytes, 3500 * MiB, 'what was asked is still known');
  });

  it('a running job has its elapsed time and wait, but no CPU or memory figures until it ends', () => {
    const row = ['209', 'RUNNING', '0:0', '00:02:00', '00:10:00', '00:00:00', '2', '4G', '', 'billing=2,cpu=2,mem=4G,node=1', 'musehost',
      '2026-12-01T10:40:00', '2026-12-01T10:40:05', 'Unknown'].join(FIELD_DELIMITER);
    const step = ['209.batch', 'RUNNING', '0:0', '00:02:00', '', '00:00:00', '2', '', '', 'cpu=2,mem=4G,node=1', 'musehost',
      '2026-12-01T10:40:05', '2026-12-01T10:40:05', 'Unknown'].join(FIELD_DELIMITER);
    const f = usageByJob(groupUsageRows(parseUsageRows(`${row}\n${step}\n`))).get('209')!;
    assert.deepStrictEqual([f.started, f.elapsedSeconds, f.waitSeconds, f.allocCpus, f.memoryRequestBytes], [true, 120, 5, 2, 4 * GiB]);
    assert.deepStrictEqual([f.cpuSeconds, f.cpuEfficiency, f.memoryPeakBytes, f.endedAt], [undefined, undefined, undefined, undefined]);
  });

  it('MaxRSS 0 (a step shorter than the gathering interval) is an unknown peak', () => {
    const f = get(m, '208');
    assert.strictEqual(f.memoryPeakBytes, undefined);
    assert.strictEqual(f.memoryFraction, undefined);
    assert.deepStrictEqual(adviseUsage(f), []);
  });

  it('each array task has its own figures; a pending range has none', () => {
    assert.strictEqual(get(m, '206_1').state, 'COMPLETED');
    assert.strictEqual(get(m, '206_2').state, 'FAILED');
    assert.strictEqual(get(m, '206_2').exitCode, '3:0');
    assert.strictEqual(get(m, '206_1').memoryPeakBytes, 1212 * 1024);
    assert.strictEqual(get(m, '206_2').memoryPeakBytes, 1208 * 1024);
    const r = get(m, '206_[3-4%2]');
    assert.deepStrictEqual([r.state, r.task, r.started, r.elapsedSeconds], ['PENDING', '3-4%2', false, undefined]);
  });

  it('TIMEOUT and OUT_OF_MEMORY jobs keep their states and figures', () => {
    assert.strictEqual(get(m, '203').state, 'TIMEOUT');
    assert.strictEqual(get(m, '203').elapsedSeconds, 74);
    assert.strictEqual(get(m, '203').timeLimit, 60);
    const oom = get(m, '204');
    assert.deepStrictEqual([oom.state, oom.exitCode, oom.memoryPeakBytes, oom.memoryRequestBytes], ['OUT_OF_MEMORY', '0:125', 210 * MiB, 200 * MiB]);
  });
});

describe('usage: figures from rows captured on the test cluster (Slurm 22.05.8)', () => {
  const m = figuresOf('sacct-22.05-testcluster.txt');

  it('a job holding memory: its peak against --mem=1G, with no mem in the TRES (CR_Core)', () => {
    const f = get(m, '1');
    assert.deepStrictEqual([f.memoryPeakBytes, f.memoryRequestBytes, f.elapsedSeconds, f.waitSeconds], [415908 * 1024, 1 * GiB, 10, 1]);
    assert.deepStrictEqual(adviseUsage(f), [], '40% of the request is not over-requested');
  });

  it('a job cancelled while pending (Start None, AllocCPUS 1, None assigned) did not start', () => {
    const f = get(m, '4');
    assert.deepStrictEqual([f.state, f.started, f.allocCpus, f.elapsedSeconds, f.cpuSeconds, f.timeLimit], ['CANCELLED', false, undefined, undefined, undefined, undefined]);
  });

  it('TIMEOUT past a one-minute limit: the time advice; array tasks never sampled: peak unknown', () => {
    const t = get(m, '3');
    assert.deepStrictEqual([t.state, t.elapsedSeconds, t.timeLimit], ['TIMEOUT', 75, 60]);
    assert.ok(adviseUsage(t).some((a) => a.option === '--time=0:02:00'));
    for (const k of ['5_1', '5_2', '5_3']) {
      assert.deepStrictEqual([get(m, k).state, get(m, k).memoryPeakBytes, get(m, k).memoryRequestBytes], ['COMPLETED', undefined, 21694 * MiB]);
    }
  });

  it('two srun steps: the largest MaxRSS, and the job row holding the sum of the steps CPU time', () => {
    const f = get(m, '6');
    assert.strictEqual(f.memoryPeakBytes, 107240 * 1024);
    near(f.cpuSeconds, 0.125, 'cpu seconds');
    assert.strictEqual(f.allocCpus, 2);
  });
});

describe('usage: figures as Slurm 23.x and 24.x document them', () => {
  it('23.11: GPUs from AllocTRES, wait from Submit to Start, hours in TotalCPU', () => {
    const f = get(figuresOf('sacct-23.11.txt'), '3001');
    assert.strictEqual(f.gpus, 1);
    assert.strictEqual(f.waitSeconds, 1800);
    near(f.cpuEfficiency, 13812 / (3723 * 4), 'cpu efficiency');
    assert.strictEqual(f.memoryPeakBytes, 12 * GiB);
    near(f.memoryFraction, 0.75, 'memory fraction');
  });

  it('23.11: a Partition_Limit time limit is unknown; a cancelled job with Start None has no figures', () => {
    const m = figuresOf('sacct-23.11.txt');
    assert.strictEqual(get(m, '3003').timeLimit, undefined);
    assert.strictEqual(get(m, '3003').elapsedSeconds, 14430);
    assert.strictEqual(get(m, '3004').started, false);
    assert.strictEqual(get(m, '3004').cpuSeconds, undefined);
  });

  it('24.05: MM:SS.mmm and D-HH:MM:SS times, typed GPUs, an interactive step, ReqMem 0 read from the TRES', () => {
    const m = figuresOf('sacct-24.05.txt');
    near(get(m, '4001').cpuSeconds, 838.31, 'cpu seconds');
    const t = get(m, '4002_7');
    assert.deepStrictEqual([t.gpus, t.elapsedSeconds, t.timeLimit], [2, 86400, 172800]);
    near(t.cpuSeconds, 93784.002, 'cpu seconds: the sum of the steps (the job row drops the milliseconds)');
    const i = get(m, '4003');
    assert.strictEqual(i.memoryPeakBytes, 1 * GiB);
    assert.strictEqual(i.memoryRequestBytes, 250 * GiB);
    const bad = get(m, '4005');
    assert.deepStrictEqual([bad.started, bad.elapsedSeconds, bad.timeLimit], [false, undefined, undefined]);
    assert.deepStrictEqual([get(m, '4002_[8-20%4]').task, get(m, '4002_[8-20%4]').started], ['8-20%4', false]);
  });

  it('before 21.08: ReqMem per CPU (Mc) times AllocCPUS, per node (Mn) times the nodes', () => {
    const m = figuresOf('sacct-20.11.txt');
    assert.deepStrictEqual([get(m, '5001').memoryRequestBytes, get(m, '5001').memoryRequestPer], [16000 * MiB, 'cpu']);
    assert.deepStrictEqual([get(m, '5002').memoryRequestBytes, get(m, '5002').memoryRequestPer], [8000 * MiB, 'node']);
    assert.strictEqual(get(m, '5002').memoryPeakBytes, 3584000 * 1024);
  });
});

describe('usage: 500 ended jobs', () => {
  it('parses, groups and computes the figures and advice of 500 jobs with steps (time printed, not asserted)', () => {
    const lines: string[] = [];
    const base = fixture('sacct-22.05.txt').split('\n').filter((l) => /^20[17][.\x1f]/.test(l));
    for (let i = 0; i < 250; i++) {
      for (const l of base) lines.push(l.replace(/^20([17])/, `${10000 + i}$1`));
    }
    const text = lines.join('\n');
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const figures = usageByJob(groupUsageRows(parseUsageRows(text)));
    let advice = 0;
    for (const f of figures.values()) advice += adviseUsage(f).length;
    const cpu = process.cpuUsage(c0);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.strictEqual(figures.size, 500);
    assert.strictEqual(advice, 500, 'each job has one advice item (memory over-requested, or fewer CPUs)');
    // Printed for the note and the bench (which compares it with a reference loop); on a shared
    // machine the wall time says more about the neighbours than about this code.
    console.log(`      500 ended jobs (${lines.length} rows), first run: ${ms.toFixed(1)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU`);
  });
});
