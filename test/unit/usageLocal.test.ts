import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LOCAL_PEAK_FILE, LOCAL_USAGE_FILE, localUsageText, parseLocalUsage, readLocalUsage, usageRecorderShell } from '../../src/core/usage/localUsage';
import { usageLine } from '../../src/core/usage/usageText';

const MiB = 1024 ** 2;

/** Runs `line` the way the local runner's wrapper would with the recorder around it; resolves with the exit code. */
function runRecorded(dir: string, line: string): Promise<number | null> {
  const { before, after } = usageRecorderShell(0.2);
  const wrapper = [before, 'sh -c "$1" </dev/null', 'code=$?', after, 'exit $code'].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', wrapper, 'muse-run', line], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (err) reject(new Error(`the wrapper wrote to stderr: ${err}`));
      else resolve(code);
    });
  });
}

describe('usage: local runner figures (Linux: /proc)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-usage-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('records the peak memory of a process holding 200 MB, the wall time, and keeps the exit code', async () => {
    const hold = `${JSON.stringify(process.execPath)} -e "const b = Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => process.exit(b[7] === 1 ? 3 : 4), 1200)"`;
    assert.strictEqual(await runRecorded(dir, hold), 3);
    const u = await readLocalUsage(dir);
    assert.ok(u, 'a usage record');
    assert.ok(!fs.existsSync(path.join(dir, LOCAL_PEAK_FILE)), 'the peak file is folded into the record');
    assert.ok(u.memoryPeakBytes !== undefined && u.memoryPeakBytes >= 200 * MiB && u.memoryPeakBytes < 200 * MiB * 1.5,
      `peak ${u.memoryPeakBytes} should be 200 MB plus Node's own`);
    assert.ok(u.wallSeconds !== undefined && u.wallSeconds >= 1.2, `wall ${u.wallSeconds}`);
  });

  it('counts the CPU time of the whole tree (grandchildren included), not the time spent sleeping', async () => {
    const busy = 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done';
    await runRecorded(dir, `sh -c '${busy}' & sh -c '${busy}'; wait; sleep 1`);
    const u = (await readLocalUsage(dir))!;
    assert.ok(u.cpuSeconds !== undefined && u.cpuSeconds > 0.1, `cpu ${u.cpuSeconds}`);
    assert.ok(u.wallSeconds !== undefined && u.wallSeconds >= 1, `wall ${u.wallSeconds}`);
    assert.ok(u.cpuSeconds <= u.wallSeconds * 2 + 0.1, 'no more than two busy processes at once');
    const idle = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-usage-'));
    try {
      await runRecorded(idle, 'sleep 1');
      const v = (await readLocalUsage(idle))!;
      assert.ok(v.cpuSeconds !== undefined && v.cpuSeconds < 0.2 && v.wallSeconds! >= 1, `sleep: cpu ${v.cpuSeconds} wall ${v.wallSeconds}`);
    } finally {
      fs.rmSync(idle, { recursive: true, force: true });
    }
  });

  it('reads the record as dash and bash write times; no peak sampled means unknown, not 0', () => {
    assert.deepStrictEqual(parseLocalUsage('0m0.000000s 0m0.004000s\n0m1.510000s 0m0.230000s\nuptime 969.32 975.90\npeak-kb 253268\n'), {
      wallSeconds: 6.58, userSeconds: 1.51, systemSeconds: 0.23, cpuSeconds: 1.74, memoryPeakBytes: 253268 * 1024,
    });
    assert.deepStrictEqual(parseLocalUsage('0m0.003s 0m0.000s\n75m3.500s 0m1,500s\nuptime  \n'), { userSeconds: 4503.5, systemSeconds: 1.5, cpuSeconds: 4505 });
    assert.deepStrictEqual(parseLocalUsage('peak-kb 0\n'), {});
  });

  it('shows as CPU time, peak and wall time (nothing was asked locally)', () => {
    const u = parseLocalUsage('0m0.01s 0m0.00s\n0m9.500s 0m0.500s\nuptime 100.00 112.00\npeak-kb 215040\n');
    assert.strictEqual(usageLine(localUsageText(u)), 'CPU time 0:10 · memory 210 MB · time 0:12');
  });

  it('has no record while a run has none', async () => {
    assert.strictEqual(await readLocalUsage(dir), undefined);
    fs.writeFileSync(path.join(dir, LOCAL_USAGE_FILE), 'uptime 10.00 12.50\n');
    assert.deepStrictEqual(await readLocalUsage(dir), { wallSeconds: 2.5 });
  });
});
