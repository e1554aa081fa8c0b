/**
 * The agent in this process against an in-process ssh2 server (the password `pw`): two clients
 * standing for two windows share one login; a login's question goes to the client whose call
 * needed it, and a background call is never asked (it fails saying the cluster needs a sign-in);
 * progress and cancellation travel; a client of another protocol version is told what to do.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import { mkdtempSync, promises as fs, rmSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { Connection } from 'ssh2';
import { AgentServer } from '../../src/agent/agentServer';
import { AgentBackend } from '../../src/core/agent/agentBackend';
import { AgentClient } from '../../src/core/agent/agentClient';
import { frame } from '../../src/core/agent/agentProtocol';
import type { Backend, OpOptions, RunRef } from '../../src/core/backend';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { isMuseError } from '../../src/core/errors';
import { asUserGesture, isUserInitiated } from '../../src/extension/userGesture';
import type { SshProfile } from '../../src/core/profiles';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';
import { until } from '../support/until';

/** Prompts that count what they were asked and answer the password `pw`. */
function countingPrompts(): SshPrompts & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    passphrase: async () => undefined,
    password: async (user) => {
      asked.push(`password ${user}`);
      return 'pw';
    },
    keyboardInteractive: async () => undefined,
    unknownHostKey: async () => false,
  };
}

const run: RunRef = { id: 'r1', key: 'k1', software: 'sw', raw: { jobId: '12' } } as RunRef;

describe('agent server (in this process, in-process ssh2 server)', function () {
  this.timeout(30_000);
  let fake: FakeSshServer;
  let dir: string;
  let logins = 0;
  let commands: string[] = [];
  let server: AgentServer | undefined;
  const clients: AgentClient[] = [];

  before(async () => {
    fake = await startFakeSshServer('muse-agent-', (client: Connection) => {
      logins++;
      client.on('session', (accept) => {
        accept().on('exec', (acc, _rej, info) => {
          commands.push(info.command);
          const stream = acc();
          stream.write('ok\n');
          stream.exit(0);
          stream.end();
        });
      });
    });
  });
  after(async () => fake.close());

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'muse-agent-sock-'));
    logins = 0;
    commands = [];
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.dispose();
    await server?.close('test end');
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const profile = (): SshProfile => ({ name: 'fake', kind: 'ssh', host: '127.0.0.1', port: fake.port, user: 'u', knownHostsFile: fake.knownHosts, sshConfigFile: fake.sshConfigFile, remoteRoot: '/runs', images: { sw: '/img' } });

  async function startServer(makeBackend?: (p: SshProfile) => Backend): Promise<void> {
    server = new AgentServer({
      socketPath: path.join(dir, 'agent.sock'),
      makeBackend: makeBackend ?? ((p, prompts, pool) => new SlurmBackend(p, prompts, pool, { connection: { env: {}, homeDir: path.join(fake.dir, 'nohome') } })),
    });
    await server.listen();
  }

  function client(kind: 'window' | 'cli' = 'window'): AgentClient {
    const c = new AgentClient({ env: { MUSE_AGENT_DIR: dir }, autoStart: false, client: { kind, pid: process.pid } });
    clients.push(c);
    return c;
  }

  it('serves two windows and a CLI call over one login, asking only the one whose call needed it', async () => {
    await startServer();
    const pa = countingPrompts();
    const pb = countingPrompts();
    const pc = countingPrompts();
    const a = new AgentBackend(profile(), client(), pa);
    const b = new AgentBackend(profile(), client(), pb);
    const c = new AgentBackend(profile(), client('cli'), pc);
    // Window B's background poll comes first: it must not ask, and says a sign-in is needed.
    await assert.rejects(b.cancel(run, { background: true }), (e: unknown) => isMuseError(e, 'auth') && e.details.needsSignIn === true && /needs a sign-in/.test(e.message));
    assert.deepStrictEqual(pb.asked, []);
    // Window A's user action logs in: A is asked, once.
    await a.cancel(run);
    assert.deepStrictEqual(pa.asked, ['password u']);
    // Now everyone uses that connection: no more questions, no more logins.
    await b.cancel(run, { background: true });
    await c.cancel(run);
    await a.cancel(run);
    assert.deepStrictEqual([pa.asked.length, pb.asked.length, pc.asked.length], [1, 0, 0]);
    assert.strictEqual(logins, 1);
    assert.strictEqual(commands.length, 4);
    const status = await clients[0].status();
    assert.ok(status);
    assert.strictEqual(status.pid, process.pid);
    assert.strictEqual(status.clients.length, 3);
    assert.deepStrictEqual(
      status.connections.map((x) => [x.target, x.connected, x.logins, x.commands]),
      [[`u@127.0.0.1:${fake.port}`, true, 1, 4]],
    );
  });

  it("sends a window's calls outside a user's gesture as background (never asked), asks inside one, and tells the window when the agent goes away", async () => {
    await startServer();
    let lost = 0;
    const c = new AgentClient({ env: { MUSE_AGENT_DIR: dir }, autoStart: false, client: { kind: 'window', pid: process.pid }, isBackground: () => !isUserInitiated(), onLost: () => lost++ });
    clients.push(c);
    const prompts = countingPrompts();
    const w = new AgentBackend(profile(), c, prompts);
    const signIn = (e: unknown): boolean => isMuseError(e, 'auth') && e.details.needsSignIn === true;
    // Work nobody marked (a timer's, a document re-read): background by default.
    await assert.rejects(w.cancel(run), signIn);
    // A timer armed by a command that has ended since is background too.
    let later: Promise<void> | undefined;
    await asUserGesture('muse.followOutput', () => {
      later = new Promise((r) => setTimeout(r, 20)).then(() => w.cancel(run));
    });
    await assert.rejects(later!, signIn);
    assert.deepStrictEqual(prompts.asked, []);
    assert.strictEqual(logins, 0);
    // The user's Sign In: asked once, here.
    await asUserGesture('muse.signIn', () => w.cancel(run));
    assert.deepStrictEqual(prompts.asked, ['password u']);
    await w.cancel(run); // background again, on the login the user gave: no question
    assert.deepStrictEqual(prompts.asked, ['password u']);
    // The agent stops (muse agent stop): the window hears of it (its poller then polls soon).
    await server!.close('stop asked');
    server = undefined;
    await until('the window to hear that the agent went away', () => lost === 1);
  });

  it('relays progress, writes where the client said, and stops the work when the client cancels', async () => {
    let aborted = false;
    const slow = {
      kind: 'ssh',
      content: async (_r: RunRef, dest: string, opts: OpOptions = {}) => {
        opts.onProgress?.({ phase: 'download', done: 5, total: 10 });
        await fs.writeFile(dest, 'zip');
        if (dest.endsWith('slow.zip')) {
          await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
          aborted = true;
        }
        return { path: dest, bytes: 3 };
      },
    } as unknown as Backend;
    await startServer(() => slow);
    const b = new AgentBackend(profile(), client(), countingPrompts());
    const seen: number[] = [];
    const r = await b.content(run, path.join(dir, 'run.zip'), { onProgress: (p) => seen.push(p.done) });
    assert.deepStrictEqual(r, { path: path.join(dir, 'run.zip'), bytes: 3 });
    assert.strictEqual(await fs.readFile(path.join(dir, 'run.zip'), 'utf8'), 'zip');
    assert.deepStrictEqual(seen, [5]);
    const ctl = new AbortController();
    const p = b.content(run, path.join(dir, 'slow.zip'), { signal: ctl.signal });
    await until('the slow call started', async () => fs.stat(path.join(dir, 'slow.zip')).then(() => true));
    ctl.abort();
    await assert.rejects(p, (e: unknown) => isMuseError(e, 'cancelled'));
    await until('the agent stopped the work', () => aborted);
  });

  it('lets the caller do the work itself when the agent cannot be used, and says why once', async () => {
    const sock = path.join(dir, 'agent.sock');
    const older = net.createServer((s) => s.once('data', () => s.end(frame({ t: 'mismatch', version: 0, message: 'x' }))));
    await new Promise<void>((r) => older.listen(sock, r));
    const told: string[] = [];
    let directCalls = 0;
    const direct = { kind: 'ssh', cancel: async () => void directCalls++ } as unknown as Backend;
    try {
      const b = new AgentBackend(profile(), client(), countingPrompts(), (why) => {
        told.push(why.message);
        return direct;
      });
      await b.cancel(run);
      await b.cancel(run);
      assert.strictEqual(directCalls, 2);
      assert.strictEqual(told.length, 1);
      assert.match(told[0], /protocol 0.*muse agent stop/);
    } finally {
      await new Promise<void>((r) => older.close(() => r()));
    }
    // A folder that cannot be made (a file in the way): the same fallback.
    await fs.writeFile(path.join(dir, 'file'), '');
    const blocked = new AgentClient({ env: { MUSE_AGENT_DIR: path.join(dir, 'file', 'agent') }, client: { kind: 'cli', pid: process.pid } });
    clients.push(blocked);
    const b2 = new AgentBackend(profile(), blocked, countingPrompts(), () => direct);
    await b2.cancel(run);
    assert.strictEqual(directCalls, 3);
    // A call the agent took and failed is not done again here (a submit is never sent twice).
    await startServer();
    const b3 = new AgentBackend(profile(), client(), countingPrompts(), () => direct);
    await assert.rejects(b3.cancel({ ...run, raw: {} } as RunRef), (e: unknown) => isMuseError(e, 'notFound'));
    assert.strictEqual(directCalls, 3);
  });

  it('tells a client of another protocol version to reload (and stops that agent on `stop`), and refuses a client that skips the handshake', async () => {
    const sock = path.join(dir, 'agent.sock');
    // An agent of a newer protocol answers with its version.
    // Its pid stands for a process of ours: `stop` of this older client signals it.
    const standIn = spawn('sleep', ['60']);
    const exited = new Promise((r) => standIn.on('exit', (_c, sig) => r(sig)));
    const newer = net.createServer((s) => s.once('data', () => s.end(frame({ t: 'mismatch', version: 99, message: 'x', pid: standIn.pid }))));
    await new Promise<void>((r) => newer.listen(sock, r));
    try {
      await assert.rejects(client().status(), (e: unknown) => isMuseError(e, 'usage') && /protocol 99.*reload the VS Code window/.test(e.message));
      assert.deepStrictEqual(await client().stop(), { pid: standIn.pid });
      assert.strictEqual(await exited, 'SIGTERM');
    } finally {
      standIn.kill('SIGKILL');
      await new Promise<void>((r) => newer.close(() => r()));
    }
    await startServer();
    const raw = net.connect(sock);
    const reply = new Promise<string>((resolve) => {
      let text = '';
      raw.on('data', (d) => (text += String(d)));
      raw.on('close', () => resolve(text));
    });
    raw.write(JSON.stringify({ t: 'hello', version: 0, client: { kind: 'test', pid: 1 } }) + '\n');
    assert.match(await reply, /"t":"mismatch","version":1.*reload the VS Code window/);
  });
});
