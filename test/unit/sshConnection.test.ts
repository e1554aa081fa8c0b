/**
 * The connection layer against an in-process ssh2 Server on 127.0.0.1, port 0: host key
 * checks, every login method, one shared connection, reconnect after a drop, idle close,
 * ProxyJump through the server itself.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Server, utils } from 'ssh2';
import type { Connection, ParsedKey } from 'ssh2';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { SshConnection } from '../../src/core/backends/slurm/sshConnection';
import type { SshEvent } from '../../src/core/backends/slurm/sshConnection';
import { resolveTarget } from '../../src/core/backends/slurm/sshTarget';
import { isMuseError } from '../../src/core/errors';
import { until } from '../support/until';

interface TestServer {
  port: number;
  hostKeyLine: string;
  /** Users logged in, in order. */
  logins: string[];
  commands: string[];
  clients: Set<Connection>;
  close(): Promise<void>;
}

function keygen(dir: string, name: string, passphrase = ''): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', '', '-f', file]);
  return file;
}

function firstKey(k: ParsedKey | ParsedKey[] | Error): ParsedKey {
  if (k instanceof Error) throw k;
  return Array.isArray(k) ? k[0] : k;
}

/** Users: `keyuser` (public key), `otp` (keyboard-interactive, answer 123456), `pw` (password "pw"). */
async function startServer(dir: string, clientPub: string): Promise<TestServer> {
  const hostKey = keygen(dir, `host-${Math.random().toString(36).slice(2)}`);
  const allowed = firstKey(utils.parseKey(readFileSync(clientPub)));
  const logins: string[] = [];
  const commands: string[] = [];
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [readFileSync(hostKey)] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method === 'publickey' && ctx.username === 'keyuser' && ctx.key.data.equals(allowed.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept();
        if (ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
        return ctx.reject();
      }
      if (ctx.method === 'keyboard-interactive' && ctx.username === 'otp') {
        return ctx.prompt([{ prompt: 'Verification code: ', echo: false }], 'Muse 2FA', 'Enter the code', (answers) =>
          answers[0] === '123456' ? ctx.accept() : ctx.reject(),
        );
      }
      if (ctx.method === 'password' && ctx.username === 'pw' && ctx.password === 'pw') return ctx.accept();
      ctx.reject(['publickey', 'keyboard-interactive', 'password']);
    });
    client.on('ready', () => {
      logins.push((client as unknown as { _username?: string })._username ?? 'user');
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          commands.push(info.command);
          const stream = acc();
          if (info.command === 'hang') return; // never answers: for abort tests
          stream.write(info.command);
          stream.stderr.write('err');
          stream.exit(info.command.startsWith('exit3') ? 3 : 0);
          stream.end();
        });
      });
      client.on('tcpip', (accept, reject, info) => {
        const sock = net.connect(info.destPort, info.destIP);
        sock.once('connect', () => {
          const ch = accept();
          ch.pipe(sock).pipe(ch);
        });
        sock.once('error', () => reject());
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const pub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  return {
    port,
    hostKeyLine: `[127.0.0.1]:${port} ${pub}`,
    logins,
    commands,
    clients,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end();
        server.close(() => resolve());
      }),
  };
}

/** Prompts that answer from a script and record what was asked. */
function fakePrompts(answers: { hostKey?: boolean; passphrases?: string[]; otp?: string[]; password?: string } = {}) {
  const asked: string[] = [];
  const passphrases = [...(answers.passphrases ?? [])];
  const prompts: SshPrompts = {
    async passphrase(keyPath) {
      asked.push(`passphrase:${path.basename(keyPath)}`);
      return passphrases.shift();
    },
    async password(user, host) {
      asked.push(`password:${user}@${host}`);
      return answers.password;
    },
    async keyboardInteractive(name, _instructions, ps) {
      asked.push(`ki:${name}:${ps.map((p) => `${p.prompt}${p.echo ? '' : '(hidden)'}`).join('|')}`);
      return answers.otp;
    },
    async unknownHostKey(host, port, keyType, fp) {
      asked.push(`hostkey:${host}:${port}:${keyType}:${fp.startsWith('SHA256:') ? 'SHA256' : fp}`);
      return answers.hostKey ?? false;
    },
  };
  return { prompts, asked };
}

describe('SSH connection layer (in-process ssh2 server)', function () {
  this.timeout(30_000);
  let dir: string;
  let server: TestServer;
  let clientKey: string;
  let encKey: string;
  let knownHosts: string;
  const conns: SshConnection[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'muse-ssh-'));
    clientKey = keygen(dir, 'client');
    encKey = path.join(dir, 'enc');
    // The same key, encrypted with a passphrase.
    execFileSync('cp', [clientKey, encKey]);
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'sesame', '-f', encKey]);
    server = await startServer(dir, `${clientKey}.pub`);
  });
  after(async () => {
    for (const c of conns) c.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    knownHosts = path.join(dir, `known_hosts-${Math.random().toString(36).slice(2)}`);
    server.commands.length = 0;
  });

  async function connect(profile: { user: string; identityFile?: string; proxyJump?: string }, prompts: SshPrompts, opts = {}) {
    const target = await resolveTarget(
      { host: '127.0.0.1', port: server.port, knownHostsFile: knownHosts, ...profile },
      { configText: '', homeDir: dir, localUser: 'me' },
    );
    const c = new SshConnection(target, prompts, { env: {}, homeDir: path.join(dir, 'nohome'), ...opts });
    conns.push(c);
    return c;
  }

  it('asks about an unknown host key, records it on consent, and does not ask again', async () => {
    const { prompts, asked } = fakePrompts({ hostKey: true });
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    const r = await c.exec(['echo', 'hi']);
    assert.strictEqual(r.stdout.toString(), 'echo hi');
    assert.deepStrictEqual(asked, [`hostkey:127.0.0.1:${server.port}:ssh-ed25519:SHA256`]);
    assert.strictEqual(readFileSync(knownHosts, 'utf8').trim(), server.hostKeyLine);
    c.close();
    const again = fakePrompts({ hostKey: false });
    const c2 = await connect({ user: 'keyuser', identityFile: clientKey }, again.prompts);
    await c2.exec(['true']);
    assert.deepStrictEqual(again.asked, []);
  });

  it('refuses an unknown host key the user declines, writing nothing', async () => {
    const { prompts, asked } = fakePrompts({ hostKey: false });
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    await assert.rejects(c.exec(['true']), (e: unknown) => isMuseError(e, 'refused') && /not accepted/.test((e as Error).message));
    assert.strictEqual(asked.length, 1);
    assert.ok(!existsSync(knownHosts));
    assert.deepStrictEqual(server.commands, []);
  });

  it('refuses a mismatched host key without asking, naming host, fingerprint and line', async () => {
    const other = keygen(dir, 'impostor');
    const pub = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(knownHosts, `# header\n[127.0.0.1]:${server.port} ${pub}\n`);
    const { prompts, asked } = fakePrompts({ hostKey: true });
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    await assert.rejects(c.exec(['true']), (e: unknown) => {
      const m = (e as Error).message;
      return isMuseError(e, 'refused') && /MISMATCH/.test(m) && m.includes(`[127.0.0.1]:${server.port}`) && /SHA256:/.test(m) && m.includes(`${knownHosts} line 2`);
    });
    assert.deepStrictEqual(asked, []);
    assert.deepStrictEqual(server.commands, []);
  });

  it('asks the passphrase of an encrypted key, again after a wrong one', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts, asked } = fakePrompts({ passphrases: ['wrong', 'sesame'] });
    const c = await connect({ user: 'keyuser', identityFile: encKey }, prompts);
    await c.exec(['true']);
    assert.deepStrictEqual(asked, ['passphrase:enc', 'passphrase:enc']);
  });

  it('answers keyboard-interactive (2FA) prompts through the callback', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts, asked } = fakePrompts({ otp: ['123456'] });
    const c = await connect({ user: 'otp' }, prompts);
    await c.exec(['true']);
    assert.deepStrictEqual(asked, ['ki:Muse 2FA:Verification code: (hidden)']);
  });

  it('logs in with a password', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts, asked } = fakePrompts({ otp: undefined, password: 'pw' });
    const c = await connect({ user: 'pw' }, prompts);
    await c.exec(['true']);
    assert.ok(asked.includes('password:pw@127.0.0.1'));
  });

  it('fails with an auth error naming what was tried for a wrong key', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const wrong = keygen(dir, 'wrong');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: wrong }, prompts);
    await assert.rejects(c.exec(['true']), (e: unknown) => isMuseError(e, 'auth') && (e as Error).message.includes(`key ${wrong}`));
  });

  it('shares one connection (single flight), counts commands and reports them', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    const events: SshEvent[] = [];
    c.onEvent((e) => events.push(e));
    const hostile = ['a b', "it's", '$(id)', '`id`', 'x\ny', 'né'];
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => c.exec(['printf', String(i), ...hostile])));
    assert.strictEqual(c.connectCount, 1);
    assert.strictEqual(c.commandCount, 5);
    assert.strictEqual(events.filter((e) => e.type === 'connect').length, 1);
    assert.strictEqual(events.filter((e) => e.type === 'command').length, 5);
    assert.strictEqual(results[0].stdout.toString(), `printf 1 'a b' 'it'\\''s' '$(id)' '\`id\`' 'x\ny' 'né'`);
    assert.strictEqual(results[0].stderr.toString(), 'err');
    const r3 = await c.exec(['exit3']);
    assert.strictEqual(r3.code, 3);
    await assert.rejects(c.execOk(['exit3']), (e: unknown) => isMuseError(e, 'server') && /exit 3/.test((e as Error).message));
  });

  it('reconnects transparently after the server drops the connection', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    await c.exec(['one']);
    for (const sc of server.clients) sc.end();
    await until('the drop to be seen', () => !c.connected);
    const r = await c.exec(['two']);
    assert.strictEqual(r.stdout.toString(), 'two');
    assert.strictEqual(c.connectCount, 2);
  });

  it('fails a command in flight with a network error when the connection drops', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    const p = c.exec(['hang']);
    await until('the command to arrive', () => server.commands.includes('hang'));
    c.destroyForTest();
    await assert.rejects(p, (e: unknown) => isMuseError(e, 'network'));
  });

  it('stops a command when its AbortSignal fires', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    const ac = new AbortController();
    const p = c.exec(['hang'], { signal: ac.signal });
    await until('the command to arrive', () => server.commands.includes('hang'));
    ac.abort();
    await assert.rejects(p, (e: unknown) => isMuseError(e, 'cancelled'));
    // The connection stays usable.
    assert.strictEqual((await c.exec(['after'])).stdout.toString(), 'after');
  });

  it('closes a connection closed while it was still logging in, once the login ends', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts);
    const earlier = new Set(server.clients);
    const logins = server.logins.length;
    const ac = new AbortController();
    const p = c.exec(['x'], { signal: ac.signal });
    ac.abort(); // the caller gives up during the login (a download whose file failed at once)
    await assert.rejects(p, (e: unknown) => isMuseError(e, 'cancelled'));
    c.close();
    await until('the login to end on the server', () => server.logins.length > logins);
    await until('the connection to be closed', () => [...server.clients].every((x) => earlier.has(x)));
    assert.deepStrictEqual(server.commands, [], 'no command ran');
  });

  it('closes the connection after the idle time', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({});
    const c = await connect({ user: 'keyuser', identityFile: clientKey }, prompts, { idleMs: 50 });
    await c.exec(['x']);
    assert.ok(c.connected);
    await until('the idle close', () => !c.connected);
  });

  it('goes through a ProxyJump host', async () => {
    writeFileSync(knownHosts, server.hostKeyLine + '\n');
    const { prompts } = fakePrompts({ password: 'pw' });
    const before = server.logins.length;
    const c = await connect({ user: 'keyuser', identityFile: clientKey, proxyJump: `pw@127.0.0.1:${server.port}` }, prompts);
    assert.strictEqual((await c.exec(['via', 'jump'])).stdout.toString(), 'via jump');
    // Two logins: the jump host (password) and the target through the tunnel (key).
    assert.strictEqual(server.logins.length - before, 2);
  });
});
