import * as assert from 'assert';
import { describeTarget, parseDestination, resolveTarget } from '../../src/core/backends/slurm/sshTarget';
import { isMuseError } from '../../src/core/errors';

const CONFIG = `
Host muse
  HostName muse-login.example.org
  User alice
  Port 2222
  IdentityFile ~/.ssh/muse_ed25519
  ProxyJump bastion

Host bastion
  HostName bastion.example.org
  User jumper
  IdentityFile %d/.ssh/bastion_key

Host *.cluster.example
  User bob
  Port 2200

Host twohops
  HostName deep.example
  ProxyJump alice@first:2201,second

Host *
  IdentityFile ~/.ssh/id_default
`;

const env = { configText: CONFIG, homeDir: '/home/me', localUser: 'me' };

describe('ssh config resolution', () => {
  it('resolves a Host alias: HostName, User, Port, IdentityFile, ProxyJump', async () => {
    const t = await resolveTarget({ host: 'muse' }, env);
    assert.strictEqual(t.hostName, 'muse-login.example.org');
    assert.strictEqual(t.user, 'alice');
    assert.strictEqual(t.port, 2222);
    assert.deepStrictEqual(t.identityFiles, ['/home/me/.ssh/muse_ed25519', '/home/me/.ssh/id_default']);
    assert.strictEqual(t.knownHostsFile, '/home/me/.ssh/known_hosts');
    assert.ok(t.jump);
    assert.strictEqual(t.jump.hostName, 'bastion.example.org');
    assert.strictEqual(t.jump.user, 'jumper');
    assert.deepStrictEqual(t.jump.identityFiles, ['/home/me/.ssh/bastion_key', '/home/me/.ssh/id_default']);
    assert.strictEqual(describeTarget(t), 'alice@muse-login.example.org:2222 (via jumper@bastion.example.org)');
  });

  it('lets the profile win over the config file', async () => {
    const t = await resolveTarget({ host: 'muse', user: 'carol', port: 22, identityFile: '~/k', proxyJump: 'none', knownHostsFile: '/tmp/kh' }, env);
    assert.strictEqual(t.user, 'carol');
    assert.strictEqual(t.port, 22);
    assert.deepStrictEqual(t.identityFiles, ['/home/me/k']);
    assert.strictEqual(t.jump, undefined);
    assert.strictEqual(t.knownHostsFile, '/tmp/kh');
  });

  it('matches Host patterns, and defaults to the local user and port 22', async () => {
    const p = await resolveTarget({ host: 'n1.cluster.example' }, env);
    assert.deepStrictEqual([p.hostName, p.user, p.port], ['n1.cluster.example', 'bob', 2200]);
    const d = await resolveTarget({ host: 'plain.example' }, env);
    assert.deepStrictEqual([d.hostName, d.user, d.port], ['plain.example', 'me', 22]);
  });

  it('follows a ProxyJump chain in order: the last hop is next to the target', async () => {
    const t = await resolveTarget({ host: 'twohops' }, env);
    assert.strictEqual(t.jump?.alias, 'second');
    assert.strictEqual(t.jump?.jump?.alias, 'first');
    assert.strictEqual(t.jump?.jump?.user, 'alice');
    assert.strictEqual(t.jump?.jump?.port, 2201);
  });

  it('takes a profile proxyJump user@host:port', async () => {
    const t = await resolveTarget({ host: 'x.example', proxyJump: 'j@gw.example:2022' }, env);
    assert.deepStrictEqual([t.jump?.user, t.jump?.hostName, t.jump?.port], ['j', 'gw.example', 2022]);
  });

  it('refuses hosts and destinations with shell characters or bad ports', async () => {
    await assert.rejects(resolveTarget({ host: 'a;b' }, env), (e: unknown) => isMuseError(e, 'usage'));
    assert.throws(() => parseDestination('u@h:99999'), (e: unknown) => isMuseError(e, 'usage'));
    assert.deepStrictEqual(parseDestination('[::1]:22'), { user: undefined, host: '::1', port: 22 });
  });

  it('reads no config file when there is none, and complains about a named one that is missing', async () => {
    const t = await resolveTarget({ host: 'h' }, { homeDir: '/nonexistent-home', localUser: 'me' });
    assert.strictEqual(t.hostName, 'h');
    await assert.rejects(resolveTarget({ host: 'h', sshConfigFile: '/nonexistent/config' }, { homeDir: '/x', localUser: 'me' }), (e: unknown) => isMuseError(e, 'usage'));
  });

  it('reads every UserKnownHostsFile entry and the global files; new keys go to the first user file', async () => {
    const cfg = 'Host kh\n  UserKnownHostsFile ~/.ssh/kh_a "/srv/ssh/kh b" %d/kh_%r\n  User ann\n  GlobalKnownHostsFile /site/known\n';
    const t = await resolveTarget({ host: 'kh' }, { configText: cfg, homeDir: '/home/me', localUser: 'me' });
    assert.deepStrictEqual(t.userKnownHostsFiles, ['/home/me/.ssh/kh_a', '/srv/ssh/kh b', '/home/me/kh_ann']);
    assert.strictEqual(t.knownHostsFile, '/home/me/.ssh/kh_a');
    assert.deepStrictEqual(t.globalKnownHostsFiles, ['/site/known']);
    const d = await resolveTarget({ host: 'plain' }, env);
    assert.deepStrictEqual(d.userKnownHostsFiles, ['/home/me/.ssh/known_hosts', '/home/me/.ssh/known_hosts2']);
    assert.deepStrictEqual(d.globalKnownHostsFiles, ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    // The profile's file replaces the user files (as ssh -o UserKnownHostsFile does); the global ones stay.
    const p = await resolveTarget({ host: 'kh', knownHostsFile: '/tmp/kh' }, { configText: cfg, homeDir: '/home/me', localUser: 'me' });
    assert.deepStrictEqual([p.knownHostsFile, p.userKnownHostsFiles, p.globalKnownHostsFiles], ['/tmp/kh', ['/tmp/kh'], ['/site/known']]);
  });
});
