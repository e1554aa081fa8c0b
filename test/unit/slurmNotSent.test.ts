// A submit that fails before its job reaches Slurm must say so, so that the run list records it
// as failed instead of "may have been created".
import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { isMuseError } from '../../src/core/errors';
import { isClearRefusal } from '../../src/core/runs';

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('ssh submit that cannot reach the cluster', () => {
  it('fails as not sent: a clear refusal for the run list', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-notsent-'));
    fs.writeFileSync(path.join(dir, 'config'), '');
    const prompts: SshPrompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };
    const backend = new SlurmBackend(
      { name: 'down', kind: 'ssh', host: '127.0.0.1', port: await closedPort(), user: 'nobody', knownHostsFile: path.join(dir, 'known_hosts'), sshConfigFile: path.join(dir, 'config'), noContainer: true },
      prompts,
      new SshConnectionPool(),
      { connection: { env: {}, homeDir: path.join(dir, 'nohome') } },
    );
    try {
      await assert.rejects(backend.submit({ software: 'sw_example', cmd: 'true' }), (e: unknown) => {
        assert.ok(isMuseError(e, 'network'), String(e));
        assert.strictEqual(e.details.notSent, true);
        assert.ok(isClearRefusal(e));
        return true;
      });
    } finally {
      await backend.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
