/**
 * The SSH poll's usage figures and wait reasons: one sacct (job rows and their steps, with the
 * usage fields) and at most one squeue (for the jobs accounting does not list yet and for why
 * pending jobs wait) per poll, counted at an in-process ssh2 server.
 */
import * as assert from 'assert';
import type { Connection } from 'ssh2';
import type { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { FIELD_DELIMITER } from '../../src/core/backends/slurm/slurmParse';
import type { RunRef } from '../../src/core/backend';
import { normalizeRequest } from '../../src/core/model';
import type { StateReport } from '../../src/core/model';
import { fakeSlurmBackend, startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';

describe('ssh poll: usage figures and wait reasons (in-process ssh2 server)', function () {
  this.timeout(20_000);
  let fake: FakeSshServer;
  let backend: SlurmBackend;
  let commands: string[] = [];
  /** Rows by field name: the server prints them in the order sacct was asked for. */
  let sacctRows: Array<Record<string, string>> = [];
  let squeueOut = '';

  before(async () => {
    fake = await startFakeSshServer('muse-pollusage-', (client: Connection) => {
      client.on('session', (accept) => {
        accept().on('exec', (acc, _rej, info) => {
          const stream = acc();
          commands.push(info.command);
          if (info.command.startsWith('sacct ')) {
            const fields = /--format=(\S+)/.exec(info.command)![1].replace(/'/g, '').split(',');
            for (const r of sacctRows) stream.write(fields.map((f) => r[f] ?? '').join(FIELD_DELIMITER) + '\n');
            stream.exit(0);
          } else if (info.command.startsWith('squeue ')) {
            stream.write(squeueOut);
            stream.exit(0);
          } else {
            stream.stderr.write('unexpected command');
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

  beforeEach(() => {
    commands = [];
    sacctRows = [];
    squeueOut = '';
  });

  const runOf = (jobId: string, sbatch: string[] = []): RunRef => ({
    id: `r${jobId}`,
    key: `k${jobId}`,
    software: 'sw',
    request: normalizeRequest({ software: 'sw', cmd: 'true', sbatchList: sbatch }),
    raw: { jobId },
  });
  const job = (id: string, state: string, over: Record<string, string> = {}): Record<string, string> => ({
    JobID: id, JobName: `muse-sw-k${id}`, State: state, ExitCode: '0:0', NodeList: 'node1', Elapsed: '00:01:40', Reason: 'None',
    Timelimit: '00:10:00', TotalCPU: '01:30.000', AllocCPUS: '1', ReqMem: '1G', MaxRSS: '', AllocTRES: 'billing=1,cpu=1,mem=1G,node=1',
    Submit: '2026-12-01T10:00:00', Start: '2026-12-01T10:00:30', End: '2026-12-01T10:02:10', ...over,
  });
  const step = (id: string, over: Record<string, string> = {}): Record<string, string> => ({
    JobID: id, JobName: 'batch', State: 'COMPLETED', ExitCode: '0:0', NodeList: 'node1', Elapsed: '00:01:40', Reason: '',
    Timelimit: '', TotalCPU: '01:30.000', AllocCPUS: '1', ReqMem: '', MaxRSS: '204800K', AllocTRES: 'cpu=1,mem=1G,node=1',
    Submit: '2026-12-01T10:00:30', Start: '2026-12-01T10:00:30', End: '2026-12-01T10:02:10', ...over,
  });
  const sq = (...f: string[]): string => f.join(FIELD_DELIMITER) + '\n';
  const count = (prefix: string): number => commands.filter((c) => c.startsWith(prefix)).length;
  const statesOf = async (runs: RunRef[]): Promise<Map<string, StateReport>> => {
    const out = new Map<string, StateReport>();
    for (const [id, s] of await backend.states(runs)) {
      assert.ok(!(s instanceof Error), String(s));
      out.set(id, s);
    }
    return out;
  };

  it('gives an ended job its figures and pending jobs their reason and expected start, with one sacct and one squeue', async () => {
    sacctRows = [
      job('42', 'COMPLETED'), step('42.batch'),
      job('43', 'PENDING', { NodeList: 'None assigned', Elapsed: '00:00:00', Reason: 'Priority', Start: 'Unknown', End: 'Unknown', AllocCPUS: '0', TotalCPU: '00:00:00' }),
      job('45', 'TIMEOUT', { ExitCode: '0:0', Elapsed: '00:10:02', TotalCPU: '00:05.000' }), step('45.batch', { State: 'CANCELLED', ExitCode: '0:15', MaxRSS: '10M' }),
    ];
    // 44: submitted a moment ago, not in accounting yet; 43: pending in both.
    squeueOut =
      sq('43', 'muse-sw-k43', 'PENDING', '', '', '0:00', 'Priority', '2026-12-01T14:20:00', 'N/A') +
      sq('44', 'muse-sw-k44', 'PENDING', '', '', '0:00', 'BeginTime', '2026-12-01T15:00:00', 'N/A');
    const st = await statesOf([runOf('42'), runOf('43'), runOf('44'), runOf('45')]);

    assert.strictEqual(count('sacct '), 1, commands.join('\n'));
    assert.strictEqual(count('squeue '), 1, commands.join('\n'));
    assert.strictEqual(commands.length, 2, commands.join('\n'));
    const sacct = commands.find((c) => c.startsWith('sacct '))!;
    assert.doesNotMatch(sacct, / -X /, 'the steps are listed: MaxRSS lives there');
    assert.match(sacct, /MaxRSS/);
    const squeue = commands.find((c) => c.startsWith('squeue '))!;
    assert.match(squeue, /-j '?(44,43|43,44)'?/, 'one squeue for the job sacct lacks and the pending one');
    assert.match(squeue, /%r.*%S/);

    const done = st.get('r42')!;
    assert.strictEqual(done.state, 'ok');
    const u = done.raw.usage!;
    assert.strictEqual(u.source, 'slurm');
    assert.strictEqual(u.memoryPeakBytes, 200 * 1024 * 1024);
    assert.strictEqual(u.memoryRequestBytes, 1024 ** 3);
    assert.strictEqual(u.elapsedSeconds, 100);
    assert.ok(Math.abs(u.cpuEfficiency! - 0.9) < 1e-9, String(u.cpuEfficiency));
    assert.strictEqual(u.waitSeconds, 30);
    assert.strictEqual(done.raw.wait, undefined);

    const pending = st.get('r43')!;
    assert.strictEqual(pending.state, 'waiting');
    assert.strictEqual(pending.raw.usage, undefined, 'no figures before it starts');
    assert.deepStrictEqual(pending.raw.wait, { reason: 'Priority', expectedStart: new Date(2026, 11, 1, 14, 20).getTime() });
    assert.deepStrictEqual(st.get('r44')!.raw.wait, { reason: 'BeginTime', expectedStart: new Date(2026, 11, 1, 15, 0).getTime() });

    const timeout = st.get('r45')!;
    assert.strictEqual(timeout.state, 'failed');
    assert.strictEqual(timeout.raw.usage?.state, 'TIMEOUT');
    assert.strictEqual(timeout.raw.usage?.timeLimit, 600);
  });

  it('asks no squeue when every job is in accounting and none is pending; an array gives each task its figures', async () => {
    sacctRows = [
      job('50_1', 'COMPLETED'), step('50_1.batch', { MaxRSS: '100M' }),
      job('50_2', 'OUT_OF_MEMORY', { ExitCode: '0:125' }), step('50_2.batch', { State: 'OUT_OF_MEMORY', MaxRSS: '1100M' }),
      job('51', 'CANCELLED by 0', { NodeList: 'None assigned', Start: 'None', Elapsed: '00:00:00', TotalCPU: '00:00:00' }),
    ];
    const st = await statesOf([runOf('50', ['--array=1-2']), runOf('51')]);
    assert.deepStrictEqual(commands.map((c) => c.split(' ')[0]), ['sacct']);
    const arr = st.get('r50')!.raw.usage!;
    assert.deepStrictEqual(arr.tasks?.map((t) => [t.task, t.state, t.memoryPeakBytes]), [
      ['1', 'COMPLETED', 100 * 1024 ** 2],
      ['2', 'OUT_OF_MEMORY', 1100 * 1024 ** 2],
    ]);
    assert.strictEqual(arr.state, 'OUT_OF_MEMORY', 'the headline is the task the advice is about');
    const cancelled = st.get('r51')!.raw.usage!;
    assert.strictEqual(cancelled.started, false);
    assert.strictEqual(cancelled.elapsedSeconds, undefined, 'unknown, never 0');
    assert.strictEqual(cancelled.cpuSeconds, undefined);
  });
});
