/**
 * A sweep over SSH as one job array: the batch script runs each task's own line of the task
 * table (executed here with bash, as Slurm would with SLURM_ARRAY_TASK_ID), and the poll reads
 * every task's state from ONE sacct (task rows `50_3`, pending ranges `50_[4-5%2]`).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Connection } from 'ssh2';
import type { RunRef } from '../../src/core/backend';
import { TASKS_FILE, buildBatchScript } from '../../src/core/backends/slurm/batchScript';
import { parseMaxArraySize } from '../../src/core/backends/slurm/maxArraySize';
import type { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import { arraySpecOf, checkArraySize, taskTable } from '../../src/core/backends/slurm/slurmSweep';
import { isMuseError } from '../../src/core/errors';
import { normalizeRequest } from '../../src/core/model';
import { expandSweep } from '../../src/core/sweep/sweepSpec';
import { fakeSlurmBackend, startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';

describe('sweep over SSH: the array script and its task states', function () {
  this.timeout(20_000);

  it('writes --array with the throttle and runs each task\'s own line, values as one argument', () => {
    assert.strictEqual(arraySpecOf([0, 1, 2, 3, 4, 5], 2), '0-5%2');
    assert.strictEqual(arraySpecOf([1, 4, 7, 8, 9]), '1,4,7-9');
    const tasks = expandSweep({ template: 'printf "%s|%s\\n" {a} {b}', params: [{ name: 'a', values: ['x y', '$(id)'] }, { name: 'b', values: ["it's"] }], combine: 'product' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sweepscript-'));
    try {
      const script = buildBatchScript({ jobName: 'muse-sw-k', runDir: dir, cmd: 'printf {a} {b}', noContainer: true, sweep: { arraySpec: arraySpecOf([0, 1], 2) } });
      assert.match(script, /^#SBATCH --array=0-1%2$/m);
      assert.match(script, /^#SBATCH --output=__WS__stdout_%a\.txt$/m);
      fs.writeFileSync(path.join(dir, 'b.sh'), script);
      fs.writeFileSync(path.join(dir, TASKS_FILE), taskTable(tasks, 2));
      const run = (i: number) => execFileSync('bash', ['b.sh'], { cwd: dir, env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i) } }).toString();
      assert.strictEqual(run(0), "x y|it's\n");
      assert.strictEqual(run(1), "$(id)|it's\n");
      assert.throws(() => buildBatchScript({ jobName: 'j', runDir: dir, cmd: 'x {a}', noContainer: true, sbatchList: ['--array=0-3'], sweep: { arraySpec: '0-1' } }), (e: unknown) => isMuseError(e, 'usage'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads MaxArraySize and refuses a sweep past it', () => {
    assert.strictEqual(parseMaxArraySize('MailProg                = /bin/true\nMaxArraySize            = 1001\nMaxJobCount = 10000\n'), 1001);
    assert.strictEqual(parseMaxArraySize('nothing'), undefined);
    checkArraySize(1000, 1001, 'h');
    assert.throws(() => checkArraySize(1001, 1001, 'h'), (e: unknown) => isMuseError(e, 'usage') && /MaxArraySize=1001/.test(e.message) && e.details.notSent === true);
  });

  describe('states of the tasks (in-process ssh2 server)', () => {
    let fake: FakeSshServer;
    let backend: SlurmBackend;
    let commands: string[] = [];
    let sacctRows: Array<Record<string, string>> = [];
    before(async () => {
      fake = await startFakeSshServer('muse-sweepstates-', (client: Connection) => {
        client.on('session', (accept) => {
          accept().on('exec', (acc, _rej, info) => {
            const stream = acc();
            commands.push(info.command);
            if (info.command.startsWith('sacct ')) {
              const fields = /--format=(\S+)/.exec(info.command)![1].replace(/'/g, '').split(',');
              for (const r of sacctRows) stream.write(fields.map((f) => r[f] ?? '').join(FIELD_DELIMITER) + '\n');
              stream.exit(0);
            } else if (info.command.startsWith('squeue ')) {
              stream.exit(0);
            } else {
              stream.exit(127);
            }
            stream.end();
          });
        });
      });
      backend = fakeSlurmBackend(fake);
    });
    after(async () => {
      await backend?.dispose();
      await fake?.close();
    });

    it('gives each task its own state from one sacct', async () => {
      commands = [];
      const row = (id: string, state: string, exit = '0:0') => ({ JobID: id, JobName: 'muse-sw-fk', State: state, ExitCode: exit, NodeList: 'n1', Elapsed: '00:00:01', Reason: 'None' });
      sacctRows = [row('50_0', 'COMPLETED'), row('50_1', 'FAILED', '3:0'), row('50_2', 'RUNNING'), row('50_3', 'CANCELLED by 0'), row('50_[4-5%2]', 'PENDING')];
      const runs: RunRef[] = [0, 1, 2, 3, 4, 5].map((i) => ({ id: `t${i}`, key: `fk_${i}`, software: 'sw', request: normalizeRequest({ software: 'sw', cmd: 'x' }), raw: { jobId: `50_${i}` }, location: '/r/fk' }));
      const got = await backend.states(runs);
      const st = (i: number) => {
        const s = got.get(`t${i}`);
        assert.ok(s && !(s instanceof Error), String(s));
        return s;
      };
      assert.deepStrictEqual([0, 1, 2, 3, 4, 5].map((i) => st(i).state), ['ok', 'failed', 'waiting', 'cancelled', 'waiting', 'waiting']);
      assert.strictEqual(st(1).raw.exitCode, 3);
      assert.strictEqual(st(1).raw.jobId, '50_1');
      assert.strictEqual(st(2).raw.slurmState, 'RUNNING');
      assert.strictEqual(st(4).raw.slurmState, 'PENDING');
      assert.strictEqual(commands.filter((c) => c.startsWith('sacct ')).length, 1, commands.join('\n'));
      assert.match(commands.find((c) => c.startsWith('sacct '))!, /-j '?50'? /);
    });
  });
});
