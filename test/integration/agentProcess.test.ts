/**
 * The agent as a real detached process, started on demand by its clients: two clients starting
 * it at once end with one agent; killed with SIGKILL it leaves a socket nobody answers on, which
 * the next client replaces with a new agent; with no client and no connection it exits by itself;
 * its folder is the user's alone (another user's connect is refused, checked when the tests run as root).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { mkdtempSync, promises as fs, rmSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { AgentClient } from '../../src/core/agent/agentClient';
import { isMuseError } from '../../src/core/errors';
import { processAlive } from '../../src/core/processAlive';
import { spawnSupportScript } from '../support/childScript';
import { until } from '../support/until';

describe('agent process (started on demand)', function () {
  this.timeout(60_000);
  let dir: string;
  const pids = new Set<number>();

  beforeEach(() => {
    // Under the temp folder, as $XDG_RUNTIME_DIR would be: the agent makes `muse` inside.
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'muse-agentp-')), 'muse');
  });
  afterEach(() => {
    for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    pids.clear();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  const env = (more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, MUSE_AGENT_DIR: dir, ...more });

  it('is started once when two clients start it at the same moment', async () => {
    const [a, b] = await Promise.all([spawnSupportScript('agentStarter', [], env()), spawnSupportScript('agentStarter', [], env())]);
    assert.strictEqual(a.code, 0, a.stderr);
    assert.strictEqual(b.code, 0, b.stderr);
    const pa = Number(a.stdout.trim());
    pids.add(pa);
    pids.add(Number(b.stdout.trim()));
    assert.strictEqual(pa, Number(b.stdout.trim()), 'both clients reached the same agent');
    assert.ok(processAlive(pa));
    // Only one agent process serves this folder.
    const agents = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('agentMain.js'))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((pid) => {
        try {
          return require('fs').readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`MUSE_AGENT_DIR=${dir}\0`);
        } catch {
          return false;
        }
      });
    assert.deepStrictEqual(agents, [pa]);
    // Its folder and socket are the user's alone.
    assert.strictEqual((await fs.stat(dir)).mode & 0o777, 0o700);
    assert.strictEqual((await fs.stat(path.join(dir, 'agent.sock'))).mode & 0o077, 0);
    if (process.getuid?.() === 0) {
      // Another user cannot reach the socket, even with the folder above ours open to all.
      await fs.chmod(path.dirname(dir), 0o755);
      const sock = path.join(dir, 'agent.sock');
      const script = `require('net').connect(${JSON.stringify(sock)}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`;
      assert.strictEqual(execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { encoding: 'utf8' }).trim(), 'EACCES');
    }
    const status = await new AgentClient({ env: env(), autoStart: false }).status();
    assert.strictEqual(status?.pid, pa);
    assert.strictEqual(status?.socket, path.join(dir, 'agent.sock'));
  });

  it('is replaced after a SIGKILL: the stale socket is removed and the next client starts a new agent', async () => {
    const client = new AgentClient({ env: env(), client: { kind: 'test', pid: process.pid } });
    const first = await client.ensureRunning();
    pids.add(first);
    process.kill(first, 'SIGKILL');
    await until('the agent is gone', () => !processAlive(first));
    // Its socket file stays behind, and nobody answers on it.
    await fs.stat(path.join(dir, 'agent.sock'));
    await assert.rejects(
      new Promise((resolve, reject) => net.connect(path.join(dir, 'agent.sock')).on('connect', resolve).on('error', reject)),
      (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
    );
    const second = await client.ensureRunning();
    pids.add(second);
    assert.notStrictEqual(second, first);
    assert.ok(processAlive(second));
    client.dispose();
  });

  it('fails a call in flight when killed, with a retryable error that does not claim the call was not sent', async () => {
    const client = new AgentClient({ env: env(), client: { kind: 'test', pid: process.pid } });
    const pid = await client.ensureRunning();
    pids.add(pid);
    // `status` answers at once; ask and kill in the same tick so the answer cannot come first.
    const asked = client.status();
    process.kill(pid, 'SIGKILL');
    await assert.rejects(asked, (e: unknown) => isMuseError(e, 'network') && !e.details.notSent && /started again by the next one/.test(e.message));
    const next = await client.ensureRunning();
    pids.add(next);
    assert.notStrictEqual(next, pid);
    client.dispose();
  });

  it('exits by itself when idle, and `stop` stops it', async () => {
    const idle = new AgentClient({ env: env({ MUSE_AGENT_IDLE_MS: '400' }), client: { kind: 'test', pid: process.pid } });
    const pid = await idle.ensureRunning();
    pids.add(pid);
    // A client connected keeps it.
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(processAlive(pid), 'an agent with a client stays');
    idle.dispose();
    await until('the idle agent exited', () => !processAlive(pid), { timeoutMs: 10_000 });
    const c = new AgentClient({ env: env(), client: { kind: 'test', pid: process.pid } });
    const pid2 = await c.ensureRunning();
    pids.add(pid2);
    const stopped = await new AgentClient({ env: env(), autoStart: false }).stop();
    assert.strictEqual(stopped?.pid, pid2);
    await until('the stopped agent exited', () => !processAlive(pid2));
    assert.strictEqual(await new AgentClient({ env: env(), autoStart: false }).status(), undefined);
    c.dispose();
  });
});
