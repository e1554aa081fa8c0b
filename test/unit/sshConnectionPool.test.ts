/**
 * The SSH connection pool a CLI invocation or an extension host makes and passes to its Slurm
 * backends, against an in-process ssh2 server: one login per target and prompts within a pool,
 * kept while a backend uses it, closed when the last lets go or when the pool is disposed.
 */
import * as assert from 'assert';
import type { Connection } from 'ssh2';
import type { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import { isMuseError } from '../../src/core/errors';
import { fakeSlurmBackend, passwordPrompts, startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';
import { until } from '../support/until';

describe('SSH connection pool (in-process ssh2 server)', function () {
  this.timeout(20_000);
  let fake: FakeSshServer;
  let logins = 0;
  const made: SlurmBackend[] = [];

  before(async () => {
    fake = await startFakeSshServer('muse-pool-', (client: Connection) => {
      logins++;
      client.on('session', (accept) => {
        accept().on('exec', (acc) => {
          const stream = acc();
          stream.write('ok\n');
          stream.exit(0);
          stream.end();
        });
      });
    });
  });

  afterEach(async () => {
    for (const b of made.splice(0)) await b.dispose();
    await until('every test connection closed', () => fake.clients.size === 0);
  });

  after(async () => {
    await fake?.close();
  });

  function backend(pool: SshConnectionPool, prompts = passwordPrompts()): SlurmBackend {
    const b = fakeSlurmBackend(fake, pool, prompts);
    made.push(b);
    return b;
  }

  /** Runs one remote command through `b`'s connection (logging in if needed). */
  async function ping(b: SlurmBackend): Promise<void> {
    assert.strictEqual(await (await b.connection()).execOk(['true']), 'ok\n');
  }

  it('two backends of one target and prompts log in once and share the connection until both let go', async () => {
    const pool = new SshConnectionPool();
    const prompts = passwordPrompts();
    const a = backend(pool, prompts);
    const b = backend(pool, prompts);
    const before = logins;
    await Promise.all([ping(a), ping(b)]);
    assert.strictEqual(logins - before, 1, 'one login for both');
    const conn = await a.connection();
    assert.strictEqual(await b.connection(), conn);
    assert.strictEqual(pool.size, 1);

    await a.dispose();
    await ping(b);
    assert.ok(conn.connected, 'still open while b uses it');
    assert.strictEqual(logins - before, 1);

    await b.dispose();
    assert.strictEqual(pool.size, 0);
    assert.ok(!conn.connected);
    await until('the server saw the connection close', () => fake.clients.size === 0);
  });

  it('other prompts, or another pool, get a connection of their own', async () => {
    const pool = new SshConnectionPool();
    const other = new SshConnectionPool();
    const prompts = passwordPrompts();
    const a = backend(pool, prompts);
    const b = backend(pool, passwordPrompts());
    const c = backend(other, prompts);
    await Promise.all([ping(a), ping(b), ping(c)]);
    const conns = new Set(await Promise.all([a.connection(), b.connection(), c.connection()]));
    assert.strictEqual(conns.size, 3);
    assert.strictEqual(fake.clients.size, 3);
    pool.dispose();
    other.dispose();
  });

  it('dispose closes every connection of the pool, and no backend can take one from it afterwards', async () => {
    const pool = new SshConnectionPool();
    const a = backend(pool);
    const b = backend(pool);
    await Promise.all([ping(a), ping(b)]);
    const conns = await Promise.all([a.connection(), b.connection()]);
    pool.dispose();
    assert.ok(conns.every((c) => !c.connected));
    await until('the server saw both connections close', () => fake.clients.size === 0);
    await assert.rejects(backend(pool).connection(), (e: unknown) => isMuseError(e, 'usage'));
    // A backend disposed after its pool lets go of nothing twice.
    await a.dispose();
    await b.dispose();
    assert.strictEqual(pool.size, 0);
  });
});
