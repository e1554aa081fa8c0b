/**
 * Slurm 22.05 accounting lags the controller: squeue can list a job COMPLETED while sacct has no
 * row yet, then sacct's first row says `allocation|PENDING`. A run must not read ended from squeue
 * and then go back to waiting: with accounting on, the outcome comes from sacct.
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

describe('ssh states while accounting lags (in-process ssh2 server)', function () {
  this.timeout(20_000);
  let fake: FakeSshServer;
  let backend: SlurmBackend;
  let sacctOut = '';
  let sacctCode = 0;
  let squeueOut = '';

  before(async () => {
    fake = await startFakeSshServer('muse-acctlag-', (client: Connection) => {
      client.on('session', (accept) => {
        accept().on('exec', (acc, _rej, info) => {
          const stream = acc();
          if (info.command.startsWith('sacct ')) {
            if (sacctCode !== 0) stream.stderr.write('sacct: error: accounting storage is disabled\n');
            else stream.write(sacctOut);
            stream.exit(sacctCode);
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

  const run: RunRef = { id: 'r1', key: 'k1', software: 'sw', request: normalizeRequest({ software: 'sw', cmd: 'true' }), raw: { jobId: '42' } };
  const row = (...f: string[]): string => f.join(FIELD_DELIMITER) + '\n';
  const state = async (): Promise<StateReport> => {
    const st = (await backend.states([run])).get(run.id);
    assert.ok(st && !(st instanceof Error), String(st));
    return st;
  };

  it('keeps a job that squeue lists COMPLETED waiting until sacct has its record, then reads the exit code from sacct', async () => {
    sacctCode = 0;
    sacctOut = '';
    squeueOut = row('42', 'muse-sw-k1', 'COMPLETED', '', 'node1', '0:01', 'None', '2026-01-01T00:00:00', '2026-01-01T00:00:01');
    const first = await state();
    assert.strictEqual(first.state, 'waiting');
    assert.match(first.raw.slurmState ?? '', /COMPLETED \(waiting for accounting\)/);

    sacctOut = row('42', 'allocation', 'PENDING', '0:0', 'node1', '00:00:01', 'None', '2026-01-01T00:00:00', 'Unknown');
    assert.strictEqual((await state()).state, 'waiting');

    sacctOut = row('42', 'muse-sw-k1', 'FAILED', '3:0', 'node1', '00:00:01', 'None', '2026-01-01T00:00:00', '2026-01-01T00:00:01');
    const last = await state();
    assert.strictEqual(last.state, 'failed');
    assert.strictEqual(last.raw.exitCode, 3);
  });

  it('takes an ended state from squeue when accounting is off', async () => {
    sacctCode = 1;
    squeueOut = row('42', 'muse-sw-k1', 'COMPLETED', '', 'node1', '0:01', 'None', '2026-01-01T00:00:00', '2026-01-01T00:00:01');
    assert.strictEqual((await state()).state, 'ok');
  });
});
