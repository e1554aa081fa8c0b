// Muse: Add Profile... in the real extension host: an SSH profile against the test cluster (its
// connection test finds Slurm, the singularity stand-in and the image, and the new profile runs
// add.py to 9.0), and a web API profile against the ws test server (signed in, software listed).
// Only the answers are stubbed (by question id); the steps, the test and the report are the
// extension's. Also: the exports of a normal activation hold no test hooks.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { loadClusterEnv } from '../cluster/clusterEnv';
import type { ClusterEnv } from '../cluster/clusterEnv';
import type { MuseExtensionApi } from '../../src/extension/extension';
import { museExports } from '../../src/extension/extension';
import type { Question } from '../../src/extension/prompts';
import { PromptRecorder, exampleScript, museApi, resetMuseSettings, runEnded, runScript, tempDir } from './support';

/** The report dialog of the connection test, answered `answer`. */
function report(seen: Question[], answer: string | undefined): (q: Question) => string | undefined {
  return (q) => {
    seen.push(q);
    return answer;
  };
}

function userProfiles(): Record<string, unknown>[] {
  return (vscode.workspace.getConfiguration('muse').inspect<Record<string, unknown>[]>('profiles')?.globalValue ?? []) as Record<string, unknown>[];
}

describe('Muse Runner exports', () => {
  it('hold the test hooks in test mode only', async () => {
    const api = await museApi();
    // These tests run in test mode: the hooks are there...
    assert.strictEqual(typeof api.setPromptAnswerer, 'function');
    // ...and what a normal activation exports has none of them, and cannot be changed.
    for (const mode of [vscode.ExtensionMode.Production, vscode.ExtensionMode.Development]) {
      const exported = museExports(mode, api) as unknown as Record<string, unknown>;
      assert.deepStrictEqual(Object.keys(exported).sort(), ['activationMs', 'ready']);
      assert.ok(Object.isFrozen(exported));
    }
  });
});

describe('Muse: Add Profile... for the web API', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let prompts: PromptRecorder;
  let server: MuseTestServer;
  const reports: Question[] = [];

  before(async () => {
    api = await museApi();
    server = await startMuseServer({ dataDir: path.join(tempDir('add-ws-'), 'server') });
    prompts = new PromptRecorder(api, {
      'profile.kind': 'Muse web API',
      'profile.url': server.url,
      'profile.username': 'alice',
      'profile.name': 'added-ws',
      'auth.username': 'alice',
      'auth.password': 'secret',
      'auth.remember': 'No',
      'profile.testReport': report(reports, 'Save Profile'),
    });
  });

  after(async () => {
    prompts?.dispose();
    await vscode.commands.executeCommand('muse.signOut', { type: 'profile', name: 'added-ws' });
    await resetMuseSettings();
    await server?.close();
  });

  it('asks URL, username and name, signs in, lists the software and saves the profile to the user settings', async () => {
    const saved = await vscode.commands.executeCommand('muse.addProfile');
    assert.ok(saved, api.lastCommandError());
    assert.deepStrictEqual(prompts.asked.map((q) => q.id), ['profile.kind', 'profile.url', 'profile.username', 'profile.name', 'auth.username', 'auth.password', 'auth.remember', 'profile.testReport']);
    const r = reports[0];
    assert.ok(r?.kind === 'message');
    assert.match(r.message, /^Signed in to added-ws: \d+ software available\.$/);
    assert.match(String(r.detail), /Software: .*sw_example/);
    assert.ok(server.requests.some((q) => /jwt\/obtain/.test(q.path)) && server.requests.some((q) => /software\/list/.test(q.path)));
    assert.deepStrictEqual(userProfiles(), [{ name: 'added-ws', kind: 'ws', url: server.url, username: 'alice' }]);
    assert.strictEqual(vscode.workspace.getConfiguration('muse').get('activeProfile'), 'added-ws');
  });

  it('refuses a name that is taken and a URL that is not one, with the message the input box shows', async () => {
    prompts.set('profile.url', 'muse.example.org');
    await vscode.commands.executeCommand('muse.addProfile');
    assert.match(String(api.lastCommandError()), /profile\.url: Type the address of the API/);
    prompts.set('profile.url', server.url);
    await vscode.commands.executeCommand('muse.addProfile');
    assert.match(String(api.lastCommandError()), /profile\.name: A profile named "added-ws" exists already/);
    assert.strictEqual(userProfiles().length, 1);
  });
});

describe('Muse: Add Profile... for the test cluster over SSH', function () {
  this.timeout(240_000);
  let api: MuseExtensionApi;
  let env: ClusterEnv;
  let prompts: PromptRecorder;
  let dir: string;
  const reports: Question[] = [];

  before(async function () {
    try {
      env = loadClusterEnv();
    } catch (e) {
      if (process.env.CI === 'true') throw e;
      console.warn(`      !!! Add Profile over SSH SKIPPED: ${(e as Error).message}`);
      this.skip();
    }
    api = await museApi();
    dir = tempDir('add-ssh-');
    // The user's ssh config, as Remote-SSH users have one: a Host alias with its key.
    fs.writeFileSync(path.join(dir, 'included'), `Host muse-test-cluster\n  HostName ${env.host}\n  Port ${env.port}\n  User ${env.user}\n  IdentityFile ${env.identityFile}\n`);
    fs.writeFileSync(path.join(dir, 'ssh_config'), `Include ${path.join(dir, 'included')}\n\nHost *\n  ServerAliveInterval 30\n`);
    fs.writeFileSync(path.join(dir, 'known_hosts'), '');
    prompts = new PromptRecorder(api, {
      'profile.kind': 'Slurm over SSH',
      'profile.sshHost': 'muse-test-cluster',
      'profile.remoteRoot': `${env.remoteRoot}/vstest-add-${process.pid}`,
      'profile.imagesFolder': path.dirname(env.images.sw_example),
      'profile.name': 'added-ssh',
      'ssh.unknownHostKey': 'Trust and Connect',
      'profile.testReport': report(reports, 'Save Profile'),
      'profile.images': 'sw_example',
    });
  });

  after(async () => {
    prompts?.dispose();
    if (api) await resetMuseSettings();
  });

  it('offers the Host of the ssh config (Include honoured), tests the connection and reports Slurm, the stand-in and the image', async () => {
    const saved = await vscode.commands.executeCommand('muse.addProfile', { sshConfigFile: path.join(dir, 'ssh_config'), knownHostsFile: path.join(dir, 'known_hosts') });
    assert.ok(saved, api.lastCommandError());
    const hostQ = prompts.asked.find((q) => q.id === 'profile.sshHost');
    assert.ok(hostQ?.kind === 'pick');
    assert.deepStrictEqual(hostQ.items.map((i) => i.label), ['muse-test-cluster', 'Enter user@host[:port]...']);
    const r = reports[0];
    assert.ok(r?.kind === 'message', JSON.stringify(prompts.asked.map((q) => q.id)));
    assert.strictEqual(r.message, `Connected to muse-test-cluster: Slurm is there.`);
    const detail = String(r.detail);
    assert.match(detail, /^Slurm: slurm(-wlm)? 22\.05/m); // Debian names it slurm-wlm
    assert.match(detail, new RegExp(`^Partitions: ${env.partition} \\(default\\)`, 'm'));
    assert.match(detail, /^Containers: singularity at \S+ \(singularity version muse-runner-test-stand-in 1\.0/m);
    assert.match(detail, new RegExp(`^Images in ${path.dirname(env.images.sw_example)}: sw_example$`, 'm'));
    const profile = userProfiles().find((p) => p.name === 'added-ssh');
    assert.ok(profile);
    assert.strictEqual(profile.host, 'muse-test-cluster');
    assert.deepStrictEqual(profile.images, { sw_example: env.images.sw_example });
    assert.strictEqual(vscode.workspace.getConfiguration('muse').get('activeProfile'), 'added-ssh');
  });

  it('runs python /add.py 4 5 in the image with the new profile, to 9.0', async () => {
    const run = await runScript(api, exampleScript(), 'sw_example', 'python /add.py 4 5');
    assert.strictEqual(run.profile, 'added-ssh');
    const done = await runEnded(api, run.id);
    assert.strictEqual(done.state, 'ok', `${done.state}: ${done.lastError ?? ''}`);
    const doc = (await vscode.commands.executeCommand('muse.openResults', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
    assert.ok(doc, api.lastCommandError());
    assert.strictEqual(doc.getText().trim(), '9.0');
  });
});
