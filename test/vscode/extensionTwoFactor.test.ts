// An SSH profile on the test cluster's two-factor sshd (a TOTP code after the key), through the
// per-user agent of this run (MUSE_AGENT_DIR, set by run.sh): the code is asked once, in this
// window, for the submit and the polls after it; once the agent is stopped (its login gone), the
// background polls ask nothing, the profile's node says it needs a sign-in, and Sign In asks here.
// Only the answer to the code question is stubbed (a TOTP computed from the test secret).
// Without the cluster this suite is skipped loudly; under CI=true that is a failure.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunsNode } from '../../src/extension/runsView';
import { loadClusterEnv } from '../cluster/clusterEnv';
import type { ClusterEnv } from '../cluster/clusterEnv';
import { repoRoot } from '../support/repoRoot';
import { totp } from '../support/totp';
import { PromptRecorder, museApi, resetMuseSettings, runScript, setMuseSettings, until } from './support';

const PROFILE = 'vstest-2fa';
const CODE = 'ssh.keyboardInteractive';

describe('Muse Runner on a cluster with two-factor login (through the agent)', function () {
  this.timeout(180_000);
  let api: MuseExtensionApi;
  let env: ClusterEnv;
  let prompts: PromptRecorder;
  let run: Run | undefined;

  const profileContext = (): string => String(api.runsView.getTreeItem({ type: 'profile', name: PROFILE } as RunsNode).contextValue);
  /** Codes the 2FA sshd asked so far (its PAM stack logs one line per code question). */
  const codesAsked = (): number => fs.readFileSync(env.twoFactor!.codesLog, 'utf8').split('\n').filter(Boolean).length;
  /** `muse agent stop` as a user types it, on this run's agent (MUSE_AGENT_DIR, inherited from run.sh). */
  const stopAgent = async (): Promise<string> => {
    const cli = path.join(repoRoot(), 'dist', 'cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'agent', 'stop'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 30_000 });
    return stdout;
  };

  before(async function () {
    try {
      env = loadClusterEnv();
      if (!env.twoFactor) throw new Error('the test cluster has no 2FA sshd: run bash test/cluster/up.sh again');
    } catch (e) {
      if (process.env.CI === 'true') throw e;
      console.warn(`      !!! 2FA in-host tests SKIPPED: ${(e as Error).message}`);
      this.skip();
    }
    const tf = env.twoFactor!;
    api = await museApi();
    prompts = new PromptRecorder(api, { [CODE]: () => totp(tf.secret) });
    await setMuseSettings({
      profiles: [
        {
          name: PROFILE, kind: 'ssh', host: env.host, port: tf.port, user: env.user, identityFile: env.identityFile,
          knownHostsFile: env.knownHostsFile, remoteRoot: `${env.remoteRoot}/vstest-2fa-${process.pid}`,
          singularityCommand: env.singularityCommand, images: env.images,
        },
      ],
      activeProfile: PROFILE,
      pollInterval: 1,
    });
  });

  after(async () => {
    if (run) await vscode.commands.executeCommand('muse.cancel', { type: 'run', id: run.id });
    prompts?.dispose();
    if (api) await resetMuseSettings();
  });

  it('asks the code once, in this window, for the submit and the polls after it', async () => {
    const script = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'add.py');
    run = await runScript(api, script, 'sw_example', 'sleep 120');
    // The run's updates (submitted, then polled until RUNNING) on the one connection the agent holds.
    const updates: string[] = [];
    await until('the run updated three times, RUNNING', () => {
      const r = api.store.get(run!.id);
      if (r && !updates.includes(r.updatedAt)) updates.push(r.updatedAt);
      return r?.raw.slurmState === 'RUNNING' && updates.length >= 3 ? true : undefined;
    }, 90_000);
    assert.strictEqual(prompts.count(CODE), 1, `questions: ${JSON.stringify(prompts.asked.map((q) => q.id))}`);
    assert.doesNotMatch(profileContext(), /needsSignIn/);
  });

  it('after the agent stops, polls ask nothing and mark the profile; Sign In asks once and polling goes on', async () => {
    assert.ok(run, 'the first test submitted no run');
    const codesBefore = codesAsked();
    const askedBefore = prompts.count(CODE);
    // The agent, and its login with it, goes away; the run stays active on the cluster.
    assert.match(await stopAgent(), /stopped|pid/i);
    await until('the profile node to need a sign-in', () => (/needsSignIn/.test(profileContext()) ? true : undefined), 30_000);
    const item = api.runsView.getTreeItem({ type: 'profile', name: PROFILE } as RunsNode);
    assert.match(String(item.description), /needs a sign-in/);
    assert.strictEqual(prompts.count(CODE), askedBefore, `background polls asked: ${JSON.stringify(prompts.asked.map((q) => q.id))}`);
    assert.strictEqual(codesAsked(), codesBefore, 'a background poll started a code question on the server');
    assert.strictEqual(api.store.get(run!.id)?.state, 'waiting', 'the run is still active (it is polled)');

    // The node's Sign In action: one code, asked here; the mark clears.
    const signedIn = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE });
    assert.strictEqual(signedIn, true, `Sign In: ${api.lastCommandError()}`);
    assert.strictEqual(prompts.count(CODE), askedBefore + 1);
    assert.strictEqual(codesAsked(), codesBefore + 1);
    await until('the mark to clear', () => (/needsSignIn/.test(profileContext()) ? undefined : true), 10_000);

    // Polling goes on in the background on the new login: the job cancelled on the cluster behind
    // the extension's back (over the key-only sshd) is seen, with no further question.
    const jobId = api.store.get(run!.id)?.raw.jobId;
    assert.ok(jobId, 'the run has a Slurm job id');
    await promisify(execFile)('ssh', ['-i', env.identityFile, '-o', `UserKnownHostsFile=${env.knownHostsFile}`, '-o', 'BatchMode=yes', '-p', String(env.port), `${env.user}@${env.host}`, 'scancel', String(jobId)], { timeout: 30_000 });
    await until('the poll to see the run cancelled', () => (api.store.get(run!.id)?.state === 'cancelled' ? true : undefined), 60_000);
    assert.strictEqual(prompts.count(CODE), askedBefore + 1, `questions: ${JSON.stringify(prompts.asked.map((q) => q.id))}`);
    assert.strictEqual(codesAsked(), codesBefore + 1);
    assert.doesNotMatch(profileContext(), /needsSignIn/);
  });
});
