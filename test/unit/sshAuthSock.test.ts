/**
 * The Muse agent's logins use the ssh-agent of the client that calls (its SSH_AUTH_SOCK from the
 * handshake) when that socket is alive and the user's, not the one the agent inherited from a
 * session that may be gone.
 */
import * as assert from 'assert';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { AgentServer } from '../../src/agent/agentServer';
import { adoptAuthSock } from '../../src/agent/sshAuthSock';
import { AgentBackend } from '../../src/core/agent/agentBackend';
import { AgentClient } from '../../src/core/agent/agentClient';
import type { Backend } from '../../src/core/backend';
import type { SshProfile } from '../../src/core/profiles';
import type { SshPrompts } from '../../src/core/sshPrompts';

describe('the agent adopts the caller\'s ssh-agent socket', function () {
  let dir: string;
  let sockServer: net.Server;
  let liveSock: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'muse-authsock-'));
    liveSock = path.join(dir, 'ssh-agent.sock');
    sockServer = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => sockServer.listen(liveSock, r));
  });
  afterEach(async () => {
    await new Promise<void>((r) => sockServer.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a live socket of the user, and refuses a gone one, a plain file or a relative path', async () => {
    const env: NodeJS.ProcessEnv = { SSH_AUTH_SOCK: '/tmp/ssh-gone/agent.1' };
    const file = path.join(dir, 'plain');
    writeFileSync(file, '');
    assert.strictEqual(await adoptAuthSock(env, path.join(dir, 'nothing-here')), false);
    assert.strictEqual(await adoptAuthSock(env, file), false);
    assert.strictEqual(await adoptAuthSock(env, 'ssh-agent.sock'), false);
    assert.strictEqual(await adoptAuthSock(env, 42), false);
    assert.strictEqual(env.SSH_AUTH_SOCK, '/tmp/ssh-gone/agent.1');
    assert.strictEqual(await adoptAuthSock(env, liveSock), true);
    assert.strictEqual(env.SSH_AUTH_SOCK, liveSock);
    assert.strictEqual(await adoptAuthSock(env, liveSock), false); // already in use
  });

  it('is told the socket in the handshake and uses it before the call logs in', async () => {
    const agentEnv: NodeJS.ProcessEnv = { SSH_AUTH_SOCK: '/tmp/ssh-gone/agent.1' };
    let seenAtCall: string | undefined;
    const server = new AgentServer({
      socketPath: path.join(dir, 'agent.sock'),
      env: agentEnv,
      makeBackend: () => ({ kind: 'ssh', cancel: async () => void (seenAtCall = agentEnv.SSH_AUTH_SOCK) }) as unknown as Backend,
    });
    await server.listen();
    const client = new AgentClient({ env: { MUSE_AGENT_DIR: dir, SSH_AUTH_SOCK: liveSock }, autoStart: false, client: { kind: 'cli', pid: process.pid } });
    try {
      const profile = { name: 'p', kind: 'ssh', host: 'h' } as SshProfile;
      await new AgentBackend(profile, client, {} as SshPrompts).cancel({ id: 'r', raw: { jobId: '1' } } as never);
      assert.strictEqual(seenAtCall, liveSock);
    } finally {
      client.dispose();
      await server.close('test end');
    }
  });
});
