/**
 * "No second sbatch for one submit": the guarded sbatch step against an in-process ssh2 server
 * that plays the cluster's shell and drops the connection where a test says.
 */
import * as assert from 'assert';
import * as path from 'path';
import type { Connection } from 'ssh2';
import { sbatchOnce } from '../../src/core/backends/slurm/submitOnce';
import { SshConnection } from '../../src/core/backends/slurm/sshConnection';
import { isMuseError } from '../../src/core/errors';
import { passwordPrompts, startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';

/** What the fake cluster answers to one command: output, exit code, or dropping the connection. */
type Answer = { out?: string; err?: string; code?: number } | 'drop';

describe('sbatch at most once (in-process ssh2 server)', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: FakeSshServer;
  let script: ((command: string) => Answer)[] = [];
  const commands: string[] = [];
  const conns: SshConnection[] = [];

  before(async () => {
    fake = await startFakeSshServer('muse-sbatch-', (client: Connection) => {
      client.on('session', (accept) => {
        accept().on('exec', (acc, _rej, info) => {
          commands.push(info.command);
          const answer: Answer = (script.shift() ?? ((): Answer => ({ code: 127, err: 'unexpected command' })))(info.command);
          const stream = acc();
          if (answer === 'drop') {
            client.end();
            return;
          }
          if (answer.out) stream.write(answer.out);
          if (answer.err) stream.stderr.write(answer.err);
          stream.exit(answer.code ?? 0);
          stream.end();
        });
      });
    });
    dir = fake.dir;
  });
  after(async () => {
    for (const c of conns) c.close();
    await fake.close();
  });
  beforeEach(() => {
    commands.length = 0;
  });

  function connection(): SshConnection {
    const c = new SshConnection(
      { alias: '127.0.0.1', hostName: '127.0.0.1', port: fake.port, user: 'u', identityFiles: [], knownHostsFile: fake.knownHosts },
      passwordPrompts(),
      { env: {}, homeDir: path.join(dir, 'nohome') },
    );
    conns.push(c);
    return c;
  }

  const isGuard = (c: string) => c.includes('sbatch --parsable') && c.includes('mkdir .muse-sbatch');
  const guard = (a: Answer) => (c: string): Answer => {
    assert.ok(isGuard(c), c);
    return a;
  };

  it('returns the job id sbatch printed (id;cluster too)', async () => {
    script = [guard({ out: '4242;musetest\n' })];
    assert.strictEqual(await sbatchOnce(connection(), '/runs/k1', 'muse-sw-k1'), '4242');
    assert.strictEqual(commands.filter(isGuard).length, 1);
  });

  it('after a drop, runs the guard again, which only reads the recorded id', async () => {
    script = [guard('drop'), guard({ out: '77\n' })];
    assert.strictEqual(await sbatchOnce(connection(), '/runs/k2', 'muse-sw-k2'), '77');
    assert.deepStrictEqual(commands.map(isGuard), [true, true]);
  });

  it('after a drop with the lock taken and no id, finds the job by its unique name', async () => {
    script = [
      guard('drop'),
      guard({ code: 99 }),
      (c) => (assert.match(c, /^squeue -h -t all -n muse-sw-k3 -o %A$/), { out: '5150\n' }),
      (c) => (assert.match(c, /printf/), {}),
    ];
    assert.strictEqual(await sbatchOnce(connection(), '/runs/k3', 'muse-sw-k3'), '5150');
    assert.strictEqual(commands.filter(isGuard).length, 2);
  });

  it('never resubmits when the job cannot be found: says so plainly', async () => {
    script = [guard('drop'), guard({ code: 99 }), () => ({ out: '' }), (c) => (assert.match(c, /^sacct .*--name muse-sw-k4/), { out: '' })];
    await assert.rejects(sbatchOnce(connection(), '/runs/k4', 'muse-sw-k4'), (e: unknown) => isMuseError(e, 'network') && /not submitted again/.test((e as Error).message));
    assert.strictEqual(commands.filter(isGuard).length, 2);
  });

  it("reports sbatch's own refusal", async () => {
    script = [guard({ code: 96, err: 'sbatch: error: Batch job submission failed: Invalid partition name specified\n' })];
    await assert.rejects(sbatchOnce(connection(), '/runs/k5', 'muse-sw-k5'), (e: unknown) => isMuseError(e, 'server') && /Invalid partition/.test((e as Error).message));
  });

  it("an option sbatch cannot parse: a usage error with sbatch's own words, without its --help hint", async () => {
    script = [guard({ code: 96, err: "sbatch: unrecognized option '--bogus-opt=3'\nTry \"sbatch --help\" for more information\n" })];
    await assert.rejects(sbatchOnce(connection(), '/runs/k6', 'muse-sw-k6'), (e: unknown) => {
      const m = (e as Error).message;
      return isMuseError(e, 'usage') && m === "sbatch refused the job: sbatch: unrecognized option '--bogus-opt=3'";
    });
  });
});
