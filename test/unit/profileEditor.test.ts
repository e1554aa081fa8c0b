// What Add Profile and the Run button rely on without VS Code: the Host list of an ssh config
// (Include honoured, patterns left out) and which files the active profile can run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { listSshConfigHosts } from '../../src/core/backends/slurm/sshConfigHosts';
import { resolveTarget } from '../../src/core/backends/slurm/sshTarget';
import { canRunFile } from '../../src/extension/runnable';

describe('ssh config hosts for Add Profile', () => {
  let home: string;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sshcfg-'));
    const ssh = path.join(home, '.ssh');
    fs.mkdirSync(path.join(ssh, 'config.d'), { recursive: true });
    fs.writeFileSync(
      path.join(ssh, 'config'),
      ['# mine', 'Host muse login-muse', '  HostName muse.example.org', '  User alice', '  Port 2222', '', 'Include config.d/*.conf ~/.ssh/extra', '', 'Host *.internal !bastion', '  User root', 'Match host foo', '  User bob', 'Host muse', '  User mallory', ''].join('\n'),
    );
    fs.writeFileSync(path.join(ssh, 'config.d', 'b.conf'), 'Host beta\n  HostName=beta.example.org\n');
    fs.writeFileSync(path.join(ssh, 'config.d', 'a.conf'), 'Host alpha\n  HostName alpha.example.org\n  Include ~/.ssh/nested\n');
    fs.writeFileSync(path.join(ssh, 'config.d', 'ignored.txt'), 'Host not-included\n');
    fs.writeFileSync(path.join(ssh, 'nested'), 'Host "deep one"\n');
    // ~/.ssh/extra does not exist: skipped, as ssh does.
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('lists each Host once, in file order, through nested Includes, without patterns', async () => {
    const hosts = await listSshConfigHosts(undefined, home);
    assert.deepStrictEqual(hosts.map((h) => h.alias), ['muse', 'login-muse', 'alpha', 'deep one', 'beta']);
    const muse = hosts[0];
    // The first value wins, as in ssh: the later "Host muse / User mallory" does not change it.
    assert.deepStrictEqual({ ...muse, file: path.basename(muse.file) }, { alias: 'muse', hostName: 'muse.example.org', user: 'alice', port: 2222, file: 'config' });
    assert.strictEqual(hosts[4].hostName, 'beta.example.org');
  });

  it('connects to a Host that an included file declares: the connection follows Include too', async () => {
    const t = await resolveTarget({ host: 'alpha' }, { homeDir: home, localUser: 'me' });
    assert.strictEqual(t.hostName, 'alpha.example.org');
    const m = await resolveTarget({ host: 'muse' }, { homeDir: home, localUser: 'me' });
    assert.deepStrictEqual([m.hostName, m.user, m.port], ['muse.example.org', 'alice', 2222]);
  });

  it('gives an empty list when there is no config file', async () => {
    assert.deepStrictEqual(await listSshConfigHosts(path.join(home, 'nope')), []);
  });
});

describe('the Run button: files the active profile can run', () => {
  it('shows on a language or extension with a template (the default ones or the profile\'s), or a #! line', () => {
    assert.strictEqual(canRunFile(undefined, 'python', 'add.py', 'import sys'), true);
    assert.strictEqual(canRunFile(undefined, 'plaintext', 'job.sh', 'echo hi'), true);
    assert.strictEqual(canRunFile(undefined, 'plaintext', 'tool', '#!/usr/bin/env ruby'), true);
    assert.strictEqual(canRunFile({ ruby: 'ruby {file}' }, 'ruby', 'x.rb', ''), true);
    assert.strictEqual(canRunFile({ '.m': 'octave {file}' }, 'objective-c', 'x.m', ''), true);
  });

  it('does not show on Markdown, JSON or a file with nothing to run it with', () => {
    assert.strictEqual(canRunFile(undefined, 'markdown', 'README.md', '# Title'), false);
    assert.strictEqual(canRunFile({ python: 'python3 {file}' }, 'json', 'data.json', '{'), false);
    assert.strictEqual(canRunFile(undefined, 'ruby', 'x.rb', 'puts 1'), false);
  });
});
