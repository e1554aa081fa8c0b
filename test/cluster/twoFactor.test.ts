/**
 * The CLI against a cluster with two-factor login: the test cluster's second sshd asks a TOTP
 * code (keyboard-interactive through PAM) after the key, and counts every code it asks.
 * - without a shared connection, every `muse` call that reaches the cluster logs in again and
 *   is asked a code (the "before" figure of issue 13);
 * - on a terminal the code is asked there and not echoed; with no terminal and no SSH_ASKPASS,
 *   a clear error says what the cluster asks and how to answer it.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shellCommand } from '../../src/core/shellQuote';
import { buildCli, spawnMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { repoRoot } from '../support/repoRoot';
import { totp } from '../support/totp';
import { readAskpassLog, writeTotpAskpass } from '../support/totpAskpass';
import { until } from '../support/until';
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

  async function muse(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<MuseResult> {
    const child = spawnMuse(args, { env: { ...env, ...extraEnv }, cwd: tmp });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
    try {
      return await child.result;
    } finally {
      clearTimeout(timer);
    }
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
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    for (const k of ['MUSE_JWT', 'MUSE_PROFILE', 'MUSE_DEBUG', 'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'SSH_AUTH_SOCK']) delete env[k];
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
});
