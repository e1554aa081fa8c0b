/**
 * Compare and the results table through the built CLI on the local runner (the sw_example image
 * through the singularity stand-in): `muse diff` of two add.py runs shows their command and
 * input file differences and the stdout lines that differ; a 2x3 sweep's
 * `muse results SWEEP --table [--extract] [--csv]` gives one row per task with its value.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createBackend } from '../../src/core/backends/factory';
import { loadConfig, resolveProfile, selectProfile } from '../../src/core/config';
import { isFinal } from '../../src/core/model';
import type { Run } from '../../src/core/model';
import { runStorePath } from '../../src/core/paths';
import { refreshRuns } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import { submitSweep } from '../../src/core/sweep/submitSweep';
import { buildCli, runMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';
import { until } from '../support/until';

describe('muse diff and muse results --table (local runner)', function () {
  this.timeout(120_000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let work: string;

  const muse = (args: string[]): Promise<MuseResult> => runMuse(args, { env, cwd: work });
  function expectOk(r: MuseResult, what: string): void {
    assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  function runs(): Run[] {
    return JSON.parse(fs.readFileSync(runStorePath(env), 'utf8')).runs;
  }

  before(async function () {
    this.timeout(300_000);
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-compare-it-'));
    work = path.join(tmp, 'work');
    fs.mkdirSync(work);
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    delete env.MUSE_PROFILE;
    delete env.MUSE_JWT;
    expectOk(await muse(['profiles', 'add', 'loc', '--kind', 'local', '--image', `sw_example=${swExampleImage()}`, '--singularity-command', SINGULARITY_STAND_IN, '--default']), 'add local profile');
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('muse diff shows the command and file differences, then the stdout lines that differ', async () => {
    fs.writeFileSync(path.join(work, 'notes.txt'), 'first\n');
    fs.writeFileSync(path.join(work, 'same.txt'), 'same\n');
    expectOk(await muse(['submit', 'sw_example', '--cmd', 'python /add.py 1 2', '--file', 'notes.txt', '--file', 'same.txt', '--wait']), 'run A');
    fs.writeFileSync(path.join(work, 'notes.txt'), 'second\n');
    expectOk(await muse(['submit', 'sw_example', '--cmd', 'python /add.py 3 4', '--file', 'notes.txt', '--file', 'same.txt', '--wait']), 'run B');
    const [b, a] = runs().sort((x, y) => (x.createdAt < y.createdAt ? 1 : -1));
    assert.ok(a!.fileHashes?.['notes.txt'] && a!.fileHashes['notes.txt'] !== b!.fileHashes?.['notes.txt'], 'hashes recorded at submit');

    const r = await muse(['diff', a!.key!, b!.key!]);
    expectOk(r, 'diff');
    assert.match(r.stdout, /command:\s+- python \/add\.py 1 2\n\s+\+ python \/add\.py 3 4/);
    assert.match(r.stdout, /file notes\.txt: changed \(content differs\)/);
    assert.match(r.stdout, /1 other input file: same content/);
    assert.match(r.stdout, /^@@ -1,1 \+1,1 @@\n-3\.0\n\+7\.0$/m);

    const same = await muse(['diff', a!.key!, a!.id]);
    assert.strictEqual(same.code, 2, 'the same run twice is a usage error');
  });

  it("muse results SWEEP --table gives one row per task; --extract and --csv", async () => {
    const profile = resolveProfile(selectProfile(loadConfig(env), 'loc', env), env);
    const backend = createBackend(profile, { getToken: async () => undefined });
    const store = new RunStore(runStorePath(env));
    await store.load();
    const spec = { template: 'python /add.py {a} {b}', params: [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['10', '20', '30'] }], combine: 'product' as const };
    const tasks = await submitSweep({ backend, store, profile, request: { software: 'sw_example', cmd: spec.template }, spec, label: 'add' });
    await until('every task to end', async () => {
      const now = await refreshRuns(backend, store, store.list().filter((x) => tasks.some((t) => t.id === x.id)));
      return now.every((x) => isFinal(x.state));
    }, { timeoutMs: 90_000, intervalMs: 300 });
    const sweepId = tasks[0]!.sweep!.id;

    const table = await muse(['results', sweepId.slice(0, 8), '--table']);
    expectOk(table, 'table');
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^task\s+a\s+b\s+state\s+elapsed\s+peak memory\s+last line$/);
    assert.strictEqual(lines.length, 7);
    assert.match(lines[1]!, /^0\s+1\s+10\s+ok\s+\S+\s+\S+.*\s11\.0$/);
    assert.match(lines[6]!, /^5\s+2\s+30\s+ok\s+.*\s32\.0$/);

    const csv = await muse(['results', sweepId, '--table', '--extract', '^([0-9]+)\\.0$', '--csv']);
    expectOk(csv, 'csv');
    const rows = csv.stdout.split('\r\n').filter(Boolean).map((l) => l.split(','));
    assert.deepStrictEqual(rows[0], ['task', 'a', 'b', 'state', 'elapsed_seconds', 'peak_memory_bytes', '^([0-9]+)\\.0$']);
    assert.deepStrictEqual(rows.slice(1).map((c) => [c[1], c[2], c[3], c[6]]), [
      ['1', '10', 'ok', '11'], ['1', '20', 'ok', '21'], ['1', '30', 'ok', '31'], ['2', '10', 'ok', '12'], ['2', '20', 'ok', '22'], ['2', '30', 'ok', '32'],
    ]);

    const saved = await muse(['results', sweepId, '--table', '--csv', '-o', 'table.csv']);
    expectOk(saved, 'csv to a file');
    assert.match(fs.readFileSync(path.join(work, 'table.csv'), 'utf8'), /^task,a,b,state,elapsed_seconds,peak_memory_bytes,last line\r\n0,1,10,ok,/);

    const bad = await muse(['results', sweepId, '--table', '--extract', 'loss=([0-9.]+']);
    assert.strictEqual(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /"loss=\(\[0-9\.\]\+" is not a valid regular expression/);
    await backend.dispose?.();
  });
});
