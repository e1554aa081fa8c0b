// An SSH profile on the test cluster's two-factor sshd (a TOTP code after the key), through the
// per-user agent of this run (MUSE_AGENT_DIR, set by run.sh): the code is asked once, in this
// window, for the submit and the polls after it.
// Only the answer to the code question is stubbed (a TOTP computed from the test secret).
// Without the cluster this suite is skipped loudly; under CI=true that is a failure.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunsNode } from '../../src/extension/runsView';
import { loadClusterEnv } from '../cluster/clusterEnv';
import type { ClusterEnv } from '../cluster/clusterEnv';
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
});
