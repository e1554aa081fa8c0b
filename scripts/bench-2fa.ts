/**
 * 2FA bench (`npx tsx scripts/bench-2fa.ts`, run by `npm run bench` as "twofa"), against the
 * test cluster's two-factor sshd (test/cluster/up.sh): codes asked for the scenario of issue 13,
 * 10 `muse` calls (a submit and 9 `muse state`) and two windows (stand-in processes polling
 * their runs), counted by the server (its PAM counter) and by the askers (their logs): each
 * client logging in by itself, then all of them through the per-user agent.
 * Nothing is asserted: the lines are for people and for the note.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Run } from '../src/core/model';
import { runRef } from '../src/core/runs';
import { loadClusterEnv, runSsh } from '../test/cluster/clusterEnv';
import type { ClusterEnv } from '../test/cluster/clusterEnv';
import { spawnSupportScript } from '../test/support/childScript';
import { runMuse } from '../test/support/museCli';
import { readAskpassLog, writeTotpAskpass } from '../test/support/totpAskpass';
import type { WindowStandInConfig } from '../test/support/windowStandIn';

type TwoFactor = NonNullable<ClusterEnv['twoFactor']>;

const CLI_CALLS = 10;
const WINDOWS = 2;

function lines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** The scenario once; `extraEnv` selects how the CLI and the windows reach the cluster. */
async function scenario(cluster: ClusterEnv, tf: TwoFactor, label: string, extraEnv: NodeJS.ProcessEnv): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `muse-bench-2fa-${label.replace(/\W+/g, '-')}-`));
  const remoteRoot = `~/muse-runs/bench-2fa-${path.basename(tmp)}`;
  try {
    const asksLog = path.join(tmp, 'asks.log');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MUSE_DATA_DIR: path.join(tmp, 'data'),
      MUSE_CONFIG_DIR: path.join(tmp, 'config'),
      SSH_ASKPASS: writeTotpAskpass(tmp, tf.secret, asksLog),
      ...extraEnv,
    };
    for (const k of ['MUSE_PROFILE', 'SSH_ASKPASS_REQUIRE', 'SSH_AUTH_SOCK']) delete env[k];
    const profile = {
      name: 'twofa', kind: 'ssh' as const, host: cluster.host, port: tf.port, user: cluster.user,
      identityFile: cluster.identityFile, knownHostsFile: cluster.knownHostsFile, sshConfigFile: path.join(tmp, 'ssh_config'),
      remoteRoot, images: cluster.images, singularityCommand: cluster.singularityCommand,
    };
    writeFileSync(profile.sshConfigFile, '');
    const add = await runMuse(['profiles', 'add', 'twofa', '--kind', 'ssh', '--default', '--host', profile.host, '--port', String(profile.port),
      '--user', profile.user, '--identity-file', profile.identityFile, '--known-hosts-file', profile.knownHostsFile, '--ssh-config-file', profile.sshConfigFile,
      '--remote-root', remoteRoot, '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand], { env, cwd: tmp });
    if (add.code !== 0) throw new Error(`profiles add: ${add.stderr}`);

    const before = lines(tf.codesLog);
    const started = Date.now();
    const sub = await runMuse(['submit', 'sw_example', '--cmd', 'echo bench-2fa'], { env, cwd: tmp });
    if (sub.code !== 0) throw new Error(`submit: ${sub.stderr}`);
    const key = sub.stdout.trim().split('\n')[0];
    const run = (JSON.parse(readFileSync(path.join(tmp, 'data', 'runs.json'), 'utf8')) as { runs: Run[] }).runs[0];
    // Two windows open while the CLI works, each polling the run three times.
    const viaAgent = Boolean(extraEnv.MUSE_AGENT_DIR);
    const cfg: WindowStandInConfig = { profile, runs: [runRef(run)], secret: tf.secret, asksLog, calls: 3, viaAgent };
    const cfgFile = path.join(tmp, 'window.json');
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const windows = Array.from({ length: WINDOWS }, () => spawnSupportScript('windowStandIn', [cfgFile], env));
    for (let i = 1; i < CLI_CALLS; i++) {
      const r = await runMuse(['state', key], { env, cwd: tmp });
      if (r.code !== 0) throw new Error(`state: ${r.stderr}`);
    }
    for (const w of await Promise.all(windows)) if (w.code !== 0 || !/"errors":\[\]/.test(w.stdout)) throw new Error(`window: ${w.stdout} ${w.stderr}`);
    const server = lines(tf.codesLog) - before;
    const asked = readAskpassLog(readFileSync(asksLog, 'utf8'));
    if (viaAgent) await runMuse(['agent', 'stop'], { env, cwd: tmp });
    console.log(
      `${`2FA codes, ${CLI_CALLS} CLI calls + ${WINDOWS} windows, ${label}`.padEnd(52)} server ${String(server).padStart(3)}  asked ${String(asked.length).padStart(3)} ` +
        `(of ${new Set(asked.map((a) => a.askerPid)).size} process(es))  ${((Date.now() - started) / 1000).toFixed(1)} s  (target with the agent: 1)`,
    );
  } finally {
    await runSsh(cluster, `rm -rf -- ${remoteRoot}`).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cluster = loadClusterEnv();
  if (!cluster.twoFactor) throw new Error('The test cluster has no 2FA sshd: run bash test/cluster/up.sh again.');
  await scenario(cluster, cluster.twoFactor, 'no agent', { MUSE_NO_AGENT: '1' });
  // The agent of a folder of the bench's own; the windows (run from sources) start the built one.
  const agentDir = mkdtempSync(path.join(os.tmpdir(), 'muse-bench-agent-'));
  try {
    await scenario(cluster, cluster.twoFactor, 'agent', { MUSE_AGENT_DIR: agentDir, MUSE_AGENT_SCRIPT: path.join(__dirname, '..', 'dist', 'agent.js') });
  } finally {
    rmSync(agentDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
