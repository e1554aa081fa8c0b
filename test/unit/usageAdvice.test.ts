import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import { normalizeSbatchOption } from '../../src/core/backends/slurm/batchScript';
import { groupUsageRows, parseUsageRows } from '../../src/core/usage/sacctUsage';
import { usageByJob, type UsageFigures } from '../../src/core/usage/usageFigures';
import { adviseUsage, outputShowsOom } from '../../src/core/usage/usageAdvice';
import { applyAdvice } from '../../src/core/usage/applyAdvice';
import { repoRoot } from '../support/repoRoot';

function figures(name: string, key: string): UsageFigures {
  const text = readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sacct', name), 'utf8').replace(/\|/g, FIELD_DELIMITER);
  const f = usageByJob(groupUsageRows(parseUsageRows(text))).get(key);
  assert.ok(f, key);
  return f;
}

const options = (f: UsageFigures, ctx?: Parameters<typeof adviseUsage>[1]): string[] => adviseUsage(f, ctx).map((a) => `${a.kind} ${a.option}`);

describe('usage: advice', () => {
  it('memory over-requested (peak under 25%): a smaller --mem, 1.5x the peak rounded up', () => {
    const [a] = adviseUsage(figures('sacct-22.05.txt', '201'));
    assert.strictEqual(a.kind, 'memoryOverRequested');
    assert.strictEqual(a.option, '--mem=384M');
    assert.match(a.text, /used 205 MB of the 3\.4 GB it asked \(6%\)/);
  });

  it('no memory advice at 25% or more of the request', () => {
    assert.deepStrictEqual(options(figures('sacct-23.11.txt', '3001')), []);
    assert.deepStrictEqual(options(figures('sacct-24.05.txt', '4002_7')), ['lowCpuEfficiency --cpus-per-task=2'], 'peak exactly 25%');
  });

  it('OUT_OF_MEMORY: 1.5x the peak (or the request, if larger), rounded up', () => {
    assert.deepStrictEqual(options(figures('sacct-22.05.txt', '204')), ['outOfMemory --mem=384M']);
    assert.deepStrictEqual(options(figures('sacct-24.05.txt', '4001')), ['outOfMemory --mem=9G', 'lowCpuEfficiency --cpus-per-task=1']);
  });

  it('an oom kill in the output tail of a job Slurm calls FAILED asks for more memory too; the peak unknown, 1.5x the request', () => {
    const f: UsageFigures = { ...figures('sacct-22.05.txt', '208'), state: 'FAILED' };
    assert.deepStrictEqual(options(f), []);
    const tail = 'loading...\nslurmstepd: error: Detected 1 oom-kill event(s) in StepId=208.batch. Some of your processes may have been killed by the cgroup out-of-memory handler.\n';
    assert.deepStrictEqual(options(f, { outputTail: tail }), ['outOfMemory --mem=6G']);
    assert.match(adviseUsage(f, { outputTail: tail })[0].text, /peak unknown/);
    assert.ok(outputShowsOom('slurmstepd: error: Exceeded job memory limit'));
    assert.ok(outputShowsOom('Out of memory: Killed process 1234 (python)'));
    assert.ok(!outputShowsOom('memory use was fine\nall done'));
  });

  it('TIMEOUT: 1.5x the limit in Slurm format; with Partition_Limit, 1.5x the elapsed time', () => {
    assert.deepStrictEqual(options(figures('sacct-22.05.txt', '203')), ['memoryOverRequested --mem=128M', 'timeout --time=0:02:00']);
    assert.deepStrictEqual(options(figures('sacct-24.05.txt', '4004')), ['timeout --time=0:45:00']);
    assert.deepStrictEqual(options(figures('sacct-23.11.txt', '3003')), ['timeout --time=6:01:00']);
  });

  it('low CPU efficiency with several CPUs: fewer CPUs; one CPU or a busy job: nothing', () => {
    const [a] = adviseUsage(figures('sacct-22.05.txt', '207'));
    assert.strictEqual(a.option, '--cpus-per-task=2');
    assert.match(a.text, /about 2 of its 4 CPUs busy \(CPU efficiency 26%\)/);
    assert.deepStrictEqual(options(figures('sacct-22.05.txt', '202')).filter((o) => o.startsWith('low')), []);
  });

  it('a per-CPU request stays per CPU (Mc before 21.08, or --mem-per-cpu in the run options)', () => {
    assert.deepStrictEqual(options(figures('sacct-20.11.txt', '5001')), ['memoryOverRequested --mem-per-cpu=768M']);
    const f = figures('sacct-23.11.txt', '3005');
    assert.deepStrictEqual(options(f), ['memoryOverRequested --mem=768M']);
    assert.deepStrictEqual(options(f, { sbatchOptions: ['mem-per-cpu=2G', 'cpus-per-task=4'] }), ['memoryOverRequested --mem-per-cpu=256M']);
  });

  it('nothing for jobs that did not start or have not ended', () => {
    assert.deepStrictEqual(options(figures('sacct-22.05.txt', '205')), []);
    assert.deepStrictEqual(options(figures('sacct-22.05.txt', '206_[3-4%2]')), []);
  });
});

describe('usage: applying advice to sbatch options', () => {
  it('replaces the option in its --opt=v, --opt v and -X v forms, in place', () => {
    assert.deepStrictEqual(applyAdvice(['--mem=4G', '--time=10:00', '-c 4'], { option: '--mem=6G' }), ['--mem=6G', '--time=10:00', '-c 4']);
    assert.deepStrictEqual(applyAdvice(['--partition=debug', '-t 10', '--ntasks=1'], { option: '--time=0:15:00' }), ['--partition=debug', '--time=0:15:00', '--ntasks=1']);
    assert.deepStrictEqual(applyAdvice(['-t10'], { option: '--time=0:15:00' }), ['--time=0:15:00']);
    assert.deepStrictEqual(applyAdvice(['--cpus-per-task 8', '-c4'], { option: '--cpus-per-task=2' }), ['--cpus-per-task=2']);
  });

  it('drops the other memory forms (sbatch takes one of --mem, --mem-per-cpu, --mem-per-gpu)', () => {
    assert.deepStrictEqual(
      applyAdvice(['--partition=debug', '--mem-per-cpu 2G', '--mem=1G'], { option: '--mem=6G' }),
      ['--partition=debug', '--mem=6G'],
    );
    assert.deepStrictEqual(applyAdvice(['--mem=8G', '-c 4'], { option: '--mem-per-cpu=256M' }), ['--mem-per-cpu=256M', '-c 4']);
  });

  it('leaves look-alike options alone and adds the option when it was not there', () => {
    assert.deepStrictEqual(applyAdvice(['--mem-bind=local', '--time-min=5'], { option: '--mem=6G' }), ['--mem-bind=local', '--time-min=5', '--mem=6G']);
    assert.deepStrictEqual(applyAdvice([], { option: '--time=1-12:00:00' }), ['--time=1-12:00:00']);
  });

  it("keeps the web API's form (opt=v without dashes)", () => {
    assert.deepStrictEqual(applyAdvice(['mem=4G', 'partition=debug'], { option: '--mem=6G' }), ['mem=6G', 'partition=debug']);
    assert.deepStrictEqual(applyAdvice(['partition=debug'], { option: '--cpus-per-task=2' }), ['partition=debug', 'cpus-per-task=2']);
  });

  it('gives options the Slurm backend accepts', () => {
    const out = applyAdvice(['mem=4G', 'partition=debug', '-t 10'], { option: '--time=1-12:00:00' });
    assert.deepStrictEqual(out.map(normalizeSbatchOption), ['--mem=4G', '--partition=debug', '--time=1-12:00:00']);
  });
});
