import * as assert from 'assert';
import * as path from 'path';
import {
  defaultGlobalKnownHostsFiles,
  defaultIdentityFiles,
  resolveTarget,
  sshAgents,
} from '../../src/core/backends/slurm/sshTarget';
import { isMuseError } from '../../src/core/errors';
import { checkLocalRunnerPlatform } from '../../src/core/backends/local/launcher';
import { expandLocalHome } from '../../src/core/paths';

// Windows path rules are injected (path.win32), so these run on Linux too.
const home = 'C:\\Users\\Ann';
const win = { homeDir: home, localUser: 'ann', pathApi: path.win32, env: { ProgramData: 'C:\\ProgramData' } };

describe('Windows machines on the SSH path', () => {
  it('expands ~ of local paths with the Windows home, both separators; other paths are left alone', () => {
    assert.strictEqual(expandLocalHome('~', home, path.win32), home);
    assert.strictEqual(expandLocalHome('~/.ssh/id_ed25519', home, path.win32), 'C:\\Users\\Ann\\.ssh\\id_ed25519');
    assert.strictEqual(expandLocalHome('~\\keys\\muse', home, path.win32), 'C:\\Users\\Ann\\keys\\muse');
    assert.strictEqual(expandLocalHome('D:\\keys\\k', home, path.win32), 'D:\\keys\\k');
    // On Linux `~\x` is a file name, not the home.
    assert.strictEqual(expandLocalHome('~\\x', '/home/ann', path.posix), '~\\x');
    assert.strictEqual(expandLocalHome('~/x', '/home/ann', path.posix), '/home/ann/x');
  });

  it('finds key files, known_hosts and the ssh config under the Windows home', async () => {
    const cfg = 'Host muse\n  HostName muse.example\n  IdentityFile ~/.ssh/muse_key\n';
    const t = await resolveTarget({ host: 'muse' }, { ...win, configText: cfg });
    assert.deepStrictEqual(t.identityFiles, ['C:\\Users\\Ann\\.ssh\\muse_key']);
    assert.deepStrictEqual(t.userKnownHostsFiles, ['C:\\Users\\Ann\\.ssh\\known_hosts', 'C:\\Users\\Ann\\.ssh\\known_hosts2']);
    assert.strictEqual(t.knownHostsFile, 'C:\\Users\\Ann\\.ssh\\known_hosts');
    assert.deepStrictEqual(t.globalKnownHostsFiles, ['C:\\ProgramData\\ssh\\ssh_known_hosts', 'C:\\ProgramData\\ssh\\ssh_known_hosts2']);
    assert.deepStrictEqual(defaultGlobalKnownHostsFiles(path.win32, {}), ['C:\\ProgramData\\ssh\\ssh_known_hosts', 'C:\\ProgramData\\ssh\\ssh_known_hosts2']);
    assert.deepStrictEqual(defaultIdentityFiles(home, path.win32), ['C:\\Users\\Ann\\.ssh\\id_ed25519', 'C:\\Users\\Ann\\.ssh\\id_ecdsa', 'C:\\Users\\Ann\\.ssh\\id_rsa']);
    const p = await resolveTarget({ host: 'muse', identityFile: '~\\keys\\k', knownHostsFile: '~/kh' }, { ...win, configText: cfg });
    assert.deepStrictEqual(p.identityFiles, ['C:\\Users\\Ann\\keys\\k']);
    assert.strictEqual(p.knownHostsFile, 'C:\\Users\\Ann\\kh');
    // A named config file under the home is looked for there (here it is missing: the message names it).
    await assert.rejects(
      resolveTarget({ host: 'muse', sshConfigFile: '~\\.ssh\\config' }, win),
      (e: unknown) => isMuseError(e, 'usage') && e.message.includes('C:\\Users\\Ann\\.ssh\\config'),
    );
  });

  it('uses the OpenSSH agent pipe, then Pageant, when SSH_AUTH_SOCK is unset on Windows', () => {
    assert.deepStrictEqual(sshAgents({}, 'win32'), ['\\\\.\\pipe\\openssh-ssh-agent', 'pageant']);
    assert.deepStrictEqual(sshAgents({ SSH_AUTH_SOCK: '\\\\.\\pipe\\my-agent' }, 'win32'), ['\\\\.\\pipe\\my-agent']);
    assert.deepStrictEqual(sshAgents({}, 'linux'), []);
    assert.deepStrictEqual(sshAgents({ SSH_AUTH_SOCK: '/tmp/agent.sock' }, 'linux'), ['/tmp/agent.sock']);
  });
});

describe('the local runner on Windows', () => {
  it('says clearly that it needs a POSIX shell', () => {
    assert.throws(
      () => checkLocalRunnerPlatform('win32'),
      (e: unknown) => isMuseError(e, 'unsupported') && /POSIX shell/.test(e.message) && /WSL/.test(e.message),
    );
    checkLocalRunnerPlatform('linux');
    checkLocalRunnerPlatform('darwin');
  });
});
