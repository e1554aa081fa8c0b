/**
 * The CLI against a cluster with two-factor login: the test cluster's second sshd asks a TOTP
 * code (keyboard-interactive through PAM) after the key, and counts every code it asks.
 * - without a shared connection, every `muse` call that reaches the cluster logs in again and
 *   is asked a code (the "before" figure of issue 13);
 * - on a terminal the code is asked there and not echoed; with no terminal and no SSH_ASKPASS,
 *   a clear error says what the cluster asks and how to answer it;
 * - through the per-user agent, 10 calls and two windows are asked ONE code, by the client whose
 *   foreground operation logged in; a background poll with no connection asks nothing and fails
 *   with the sign-in error; `muse agent stop` ends the session (the next call asks again).
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runRef } from '../../src/core/runs';
import type { Run } from '../../src/core/model';
import { shellCommand } from '../../src/core/shellQuote';
import { spawnSupportScript } from '../support/childScript';
import { buildCli, spawnMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { repoRoot } from '../support/repoRoot';
import { totp } from '../support/totp';
import { readAskpassLog, writeTotpAskpass } from '../support/totpAskpass';
import { until } from '../support/until';
import type { WindowStandInConfig, WindowStandInResult } from '../support/windowStandIn';
import { loadClusterEnv, runSsh } from './clusterEnv';
import type { ClusterEnv } from './clusterEnv';

type TwoFactor = NonNullable<ClusterEnv['twoFactor']>;

/** Codes the 2FA sshd has asked so far (lines of its PAM counter). */
function codesAsked(tf: TwoFactor): number {
  try {
    return fs.readFileSync(tf.codesLog, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

describe('two-factor SSH login (keyboard-interactive code after the key)', function () {
  this.timeout(120000);
  let cluster: ClusterEnv;
  let tf: TwoFactor;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let askpass: string;
  let asksLog: string;
  let key = '';
  const runName = `twofa-${randomBytes(4).toString('hex')}`;

  async function muse(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<MuseResult & { pid: number }> {
    const child = spawnMuse(args, { env: { ...env, ...extraEnv }, cwd: tmp });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
    try {
      return { ...(await child.result), pid: child.pid! };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Two windows (stand-in processes) polling `run` through the agent of `agentEnv`, at once. */
  async function windows(run: Run, agentEnv: NodeJS.ProcessEnv, o: { calls: number; background?: boolean; asksLog: string }): Promise<WindowStandInResult[]> {
    const cfg: WindowStandInConfig = {
      profile: { name: 'twofa', kind: 'ssh', host: cluster.host, port: tf.port, user: cluster.user, identityFile: cluster.identityFile,
        knownHostsFile: cluster.knownHostsFile, sshConfigFile: path.join(tmp, 'ssh_config'), remoteRoot: `~/muse-runs/${runName}`,
        images: cluster.images, singularityCommand: cluster.singularityCommand },
      runs: [runRef(run)], secret: tf.secret, asksLog: o.asksLog, calls: o.calls, background: o.background, viaAgent: true,
    };
    fs.writeFileSync(cfg.profile.sshConfigFile!, '');
    const file = path.join(tmp, `window-${Date.now()}.json`);
    fs.writeFileSync(file, JSON.stringify(cfg));
    const out = await Promise.all([1, 2].map(() => spawnSupportScript('windowStandIn', [file], agentEnv)));
    return out.map((r) => {
      assert.strictEqual(r.code, 0, `window stand-in: ${r.stdout} ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as WindowStandInResult;
    });
  }

  function storedRun(dataEnv: NodeJS.ProcessEnv, key: string): Run {
    const runs = (JSON.parse(fs.readFileSync(path.join(dataEnv.MUSE_DATA_DIR!, 'runs.json'), 'utf8')) as { runs: Run[] }).runs;
    const r = runs.find((x) => x.key === key);
    assert.ok(r, `run ${key} stored`);
    return r;
  }

  function expectOk(r: MuseResult, what: string): void {
    assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  before(async function () {
    this.timeout(180000);
    cluster = loadClusterEnv();
    if (!cluster.twoFactor) throw new Error('The test cluster has no 2FA sshd (env.json lacks "twoFactor"): run bash test/cluster/up.sh again.');
    tf = cluster.twoFactor;
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-2fa-'));
    asksLog = path.join(tmp, 'asks.log');
    askpass = writeTotpAskpass(tmp, tf.secret, asksLog);
    // Each call logs in by itself (MUSE_NO_AGENT), except in the agent's tests below (their own agent folder).
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config'), MUSE_NO_AGENT: '1' };
    for (const k of ['MUSE_AGENT_DIR', 'MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG', 'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'SSH_AUTH_SOCK']) delete env[k];
    const add = await muse([
      'profiles', 'add', 'twofa', '--kind', 'ssh', '--default',
      '--host', cluster.host, '--port', String(tf.port), '--user', cluster.user,
      '--identity-file', cluster.identityFile, '--known-hosts-file', cluster.knownHostsFile,
      '--remote-root', `~/muse-runs/${runName}`,
      '--image', `sw_example=${cluster.images.sw_example}`, '--singularity-command', cluster.singularityCommand,
    ]);
    expectOk(add, 'profiles add');
  });

  after(async function () {
    this.timeout(60000);
    if (cluster) await runSsh(cluster, `rm -rf -- ~/muse-runs/${runName}`).catch(() => undefined);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the sshd refuses the key alone: a code is required', async () => {
    const r = await runSsh({ ...cluster, port: tf.port }, 'true');
    assert.strictEqual(r.code, 255);
    assert.match(r.stderr, /Permission denied \(keyboard-interactive\)/);
  });

  it('without a shared connection, every CLI call that reaches the cluster is asked a code (count = calls)', async () => {
    const before = codesAsked(tf);
    const sub = await muse(['submit', 'sw_example', '--cmd', 'echo two-factor'], { SSH_ASKPASS: askpass });
    expectOk(sub, 'submit');
    key = sub.stdout.trim().split('\n')[0];
    assert.match(key, /^\d+$|^[0-9a-f-]{36}$/);
    const calls = 3;
    for (let i = 0; i < calls; i++) expectOk(await muse(['state', key], { SSH_ASKPASS: askpass }), `state ${i + 1}`);
    const asked = readAskpassLog(fs.readFileSync(asksLog, 'utf8'));
    assert.strictEqual(asked.length, 1 + calls, 'one question per call, on the client side');
    assert.ok(asked.every((a) => /Verification code/.test(a.prompt)), JSON.stringify(asked));
    assert.strictEqual(new Set(asked.map((a) => a.askerPid)).size, 1 + calls, 'each call asked in its own process');
    assert.strictEqual(codesAsked(tf) - before, 1 + calls, 'and as many codes asked by the server');
    console.log(`      codes asked without a shared connection: ${codesAsked(tf) - before} for ${1 + calls} CLI calls`);
  });

  it('with no terminal and no SSH_ASKPASS: a clear error that says what is asked and how to answer', async () => {
    assert.ok(key, 'a run was submitted');
    const r = await muse(['state', key]);
    assert.strictEqual(r.code, 4, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /asks "Verification code:".*keyboard-interactive.*not a terminal.*SSH_ASKPASS/s);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  });

  it('on a terminal the code is asked there and not echoed', async () => {
    assert.ok(key, 'a run was submitted');
    const before = codesAsked(tf);
    // script(1) gives the CLI a pseudo-terminal, as a user's shell does.
    const line = shellCommand([process.execPath, path.join(repoRoot(), 'dist', 'cli.js'), 'state', key]);
    const child = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], { cwd: tmp, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until('the code asked on the terminal', () => /Verification code: /.test(out), { timeoutMs: 60000 });
    const code = totp(tf.secret);
    child.stdin.write(`${code}\r`);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000); // no hang if the code is not taken
    const rc = await closed;
    clearTimeout(timer);
    assert.strictEqual(rc, 0, out);
    assert.match(out, new RegExp(`\\b${key}\\b`), 'the state is shown after the code');
    assert.ok(!out.includes(code), `the code is not echoed: ${out}`);
    assert.strictEqual(codesAsked(tf) - before, 1);
  });

  describe('through the per-user agent', () => {
    let agentEnv: NodeJS.ProcessEnv;
    let agentAsks: string;
    let agentRun: Run | undefined;

    before(() => {
      agentAsks = path.join(tmp, 'agent-asks.log');
      // An agent of this test's own (its socket folder), answering through the same TOTP askpass.
      agentEnv = { ...env, MUSE_NO_AGENT: '', MUSE_AGENT_DIR: path.join(tmp, 'agent'), SSH_ASKPASS: writeTotpAskpass(fs.mkdtempSync(path.join(tmp, 'ap-')), tf.secret, agentAsks) };
    });

    after(async function () {
      this.timeout(30000);
      if (agentEnv) await muse(['agent', 'stop'], agentEnv); // leave no agent behind
    });

    it('10 CLI calls and two windows: ONE code, asked of the client whose foreground operation logged in', async () => {
      const before = codesAsked(tf);
      const first = await muse(['submit', 'sw_example', '--cmd', 'echo through-the-agent'], agentEnv);
      expectOk(first, 'submit through the agent');
      const runKey = first.stdout.trim().split('\n')[0];
      for (let i = 0; i < 9; i++) expectOk(await muse(['state', runKey], agentEnv), `state ${i + 1}`);
      agentRun = storedRun(env, runKey);
      const ws = await windows(agentRun, agentEnv, { calls: 3, asksLog: agentAsks });
      for (const w of ws) assert.deepStrictEqual([w.ok, w.errors], [3, []], 'each window got its states');
      const asked = readAskpassLog(fs.readFileSync(agentAsks, 'utf8'));
      assert.strictEqual(asked.length, 1, `one question in all: ${JSON.stringify(asked)}`);
      assert.strictEqual(asked[0].askerPid, first.pid, 'asked of the first CLI call (its terminal or askpass), not of the agent or a window');
      assert.strictEqual(codesAsked(tf) - before, 1, 'the server asked one code for 10 calls and two windows');
      console.log(`      codes asked through the agent: ${codesAsked(tf) - before} for 10 CLI calls + 2 windows`);
    });

    it('a background poll with no live connection asks nothing and fails with the sign-in error; after muse agent stop the next call asks again', async () => {
      assert.ok(agentRun, 'a run was submitted through the agent');
      expectOk(await muse(['agent', 'stop'], agentEnv), 'agent stop');
      const before = codesAsked(tf);
      const askedBefore = readAskpassLog(fs.readFileSync(agentAsks, 'utf8')).length;
      const ws = await windows(agentRun, agentEnv, { calls: 2, background: true, asksLog: agentAsks });
      for (const w of ws) {
        assert.strictEqual(w.ok, 0);
        assert.strictEqual(w.needsSignIn, 2, `every background poll says the cluster needs a sign-in: ${JSON.stringify(w.errors)}`);
        assert.match(w.errors[0], /needs a sign-in/);
      }
      assert.strictEqual(readAskpassLog(fs.readFileSync(agentAsks, 'utf8')).length, askedBefore, 'nobody was asked');
      assert.strictEqual(codesAsked(tf) - before, 0, 'no code asked by the server');
      // A foreground call signs in again: one code.
      expectOk(await muse(['state', agentRun.key!], agentEnv), 'state after the stop');
      assert.strictEqual(codesAsked(tf) - before, 1);
    });
  });
});
