import * as assert from 'assert';
import {
  formatMemoryOption,
  formatTimeOption,
  parseSlurmDuration,
  parseSlurmMemory,
  parseSlurmTime,
  parseTimeLimit,
  parseTres,
  tresGpus,
} from '../../src/core/usage/slurmUnits';

const MiB = 1024 ** 2;

describe('usage: Slurm units', () => {
  it('reads memory sizes in every form sacct and sbatch write them', () => {
    assert.deepStrictEqual(parseSlurmMemory('4000Mn'), { bytes: 4000 * MiB, per: 'node' });
    assert.deepStrictEqual(parseSlurmMemory('4000Mc'), { bytes: 4000 * MiB, per: 'cpu' });
    assert.deepStrictEqual(parseSlurmMemory('3500M'), { bytes: 3500 * MiB });
    assert.deepStrictEqual(parseSlurmMemory('4G'), { bytes: 4 * 1024 * MiB });
    assert.deepStrictEqual(parseSlurmMemory('512K'), { bytes: 512 * 1024 });
    assert.deepStrictEqual(parseSlurmMemory('1.5T'), { bytes: 1.5 * 1024 ** 4 });
    assert.deepStrictEqual(parseSlurmMemory('0'), { bytes: 0 });
    assert.deepStrictEqual(parseSlurmMemory('2048'), { bytes: 2048 * MiB }, 'a bare number is megabytes, as sbatch reads it');
    assert.deepStrictEqual(parseSlurmMemory('2048', 'K'), { bytes: 2048 * 1024 });
    for (const unknown of ['', '  ', 'Unknown', 'INVALID', 'None', '16Q', undefined]) {
      assert.strictEqual(parseSlurmMemory(unknown), undefined, String(unknown));
    }
  });

  it('reads durations as sacct prints Elapsed, TotalCPU and Timelimit', () => {
    assert.strictEqual(parseSlurmDuration('00:19.512'), 19.512);
    assert.strictEqual(parseSlurmDuration('13:58.310'), 838.31);
    assert.strictEqual(parseSlurmDuration('00:00:12'), 12);
    assert.strictEqual(parseSlurmDuration('01:02:03'), 3723);
    assert.strictEqual(parseSlurmDuration('1-02:03:04'), 93784);
    assert.strictEqual(parseSlurmDuration('2-00:00:00'), 172800);
    assert.strictEqual(parseSlurmDuration('3-12'), 3 * 86400 + 12 * 3600);
    for (const unknown of ['', 'INVALID', 'UNLIMITED', 'Partition_Limit', 'Unknown', '12', 'a:b', undefined]) {
      assert.strictEqual(parseSlurmDuration(unknown), undefined, String(unknown));
    }
    assert.strictEqual(parseTimeLimit('UNLIMITED'), 'unlimited');
    assert.strictEqual(parseTimeLimit('Partition_Limit'), undefined);
    assert.strictEqual(parseTimeLimit('00:10:00'), 600);
  });

  it('reads TRES strings and the GPUs in them', () => {
    const t = parseTres('billing=2,cpu=2,gres/gpu=1,mem=4G,node=1');
    assert.deepStrictEqual([...t], [['billing', '2'], ['cpu', '2'], ['gres/gpu', '1'], ['mem', '4G'], ['node', '1']]);
    assert.strictEqual(tresGpus(t), 1);
    assert.strictEqual(tresGpus(parseTres('cpu=8,gres/gpu:a100=2,gres/gpu:v100=1,mem=32G')), 3);
    assert.strictEqual(tresGpus(parseTres('cpu=1,mem=1G')), undefined);
    assert.strictEqual(parseTres('').size, 0);
  });

  it('reads timestamps as local time; Unknown, None and N/A stay unknown', () => {
    assert.strictEqual(parseSlurmTime('2026-12-01T10:00:00'), new Date(2026, 11, 1, 10, 0, 0).getTime());
    for (const unknown of ['Unknown', 'None', 'N/A', '', 'yesterday', undefined]) {
      assert.strictEqual(parseSlurmTime(unknown), undefined, String(unknown));
    }
  });

  it('writes memory and time for sbatch, rounded up to readable values', () => {
    assert.strictEqual(formatMemoryOption(4 * 1024 * MiB * 1.5), '6G');
    assert.strictEqual(formatMemoryOption(6.01 * 1024 * MiB), '7G');
    assert.strictEqual(formatMemoryOption(315 * MiB), '384M');
    assert.strictEqual(formatMemoryOption(1 * MiB), '128M');
    assert.strictEqual(formatMemoryOption(900 * MiB), '1G');
    assert.strictEqual(formatTimeOption(90), '0:02:00');
    assert.strictEqual(formatTimeOption(2700), '0:45:00');
    assert.strictEqual(formatTimeOption(21645), '6:01:00');
    assert.strictEqual(formatTimeOption(1.5 * 86400), '1-12:00:00');
  });
});
