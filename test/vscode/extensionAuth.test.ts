// An expired ws token, inside the real extension host against the ws test server (tokens live
// 10 s here: long enough that sign-in and submit fit in it on a loaded machine, short enough
// to expire during the run): background polls never ask and never loop on jwt/obtain; a user gesture asks once;
// after signing in again (password remembered) polling resumes and renews silently.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Run } from '../../src/core/model';
import type { MuseExtensionApi } from '../../src/extension/extension';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { PromptRecorder, answerSignInAgain, exampleScript, museApi, runScript, signOutAndReset, tempDir, until, useWsProfile } from './support';

const PROFILE = 'vstest-ws-expiry';
const TTL_S = 10;

/** `exp` of a JWT, in seconds. */
function jwtExp(token: string): number {
  return (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { exp: number }).exp;
}

describe('Muse Runner with an expired ws token', function () {
  this.timeout(150_000);
  let api: MuseExtensionApi;
  let server: MuseTestServer;
  let prompts: PromptRecorder;
  let script: vscode.Uri;
  let run: Run;
  let expiresAt: number;

  const obtains = (): number => server.requests.filter((r) => /jwt\/obtain/.test(r.path)).length;

  before(async () => {
    api = await museApi();
    const tmp = tempDir('ext-expiry-');
    server = await startMuseServer({ dataDir: path.join(tmp, 'server'), tokenTtlSeconds: TTL_S });
    script = exampleScript();
    prompts = new PromptRecorder(api);
    await useWsProfile(PROFILE, server.url);
  });

  after(async () => {
    prompts?.dispose();
    await signOutAndReset(PROFILE);
    await server?.close();
  });

  it('submits a long run with a short-lived token (password not remembered)', async () => {
    const ok = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE }, { username: 'alice', password: 'secret' });
    assert.strictEqual(ok, true, api.lastCommandError());
    // A token issued now expires no earlier than the one the extension just stored.
    expiresAt = jwtExp(server.issueToken('alice')) * 1000;
    run = await runScript(api, script, 'sw_example', 'python3 -c "import time; time.sleep(45); print(9.0)"');
  });

  it('background polls with the expired token neither ask nor try to renew again and again', async () => {
    await until('the token to expire', () => (Date.now() > expiresAt + 1000 ? true : undefined), (TTL_S + 10) * 1000);
    const mark = server.requests.length;
    const obtainsBefore = obtains();
    // Two polls refused for the expired token (the poller backs off between them).
    await until('two polls after the expiry', () => (server.requests.slice(mark).filter((r) => !/jwt\//.test(r.path)).length >= 2 ? true : undefined), 60_000);
    assert.strictEqual(prompts.asked.length, 0, `asked: ${JSON.stringify(prompts.asked)}`);
    assert.strictEqual(obtains(), obtainsBefore, 'no password is remembered: nothing to renew with');
    assert.strictEqual(api.store.get(run.id)?.state, 'waiting');
  });

  it('a user gesture asks exactly once; dismissing it gives a clear error, not another question', async () => {
    const before = obtains();
    const again = await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, { software: 'sw_example', cmd: 'python3 add.py 1 2', confirm: false });
    assert.strictEqual(again, undefined);
    assert.strictEqual(prompts.count('auth.expired'), 1, JSON.stringify(prompts.asked));
    assert.strictEqual(prompts.asked.length, 1);
    assert.match(String(api.lastCommandError()), /Sign in to vstest-ws-expiry/);
    assert.strictEqual(obtains(), before);
  });

  it('after signing in again from that question (password remembered), polling resumes and the run ends ok', async () => {
    answerSignInAgain(prompts, 'Remember Password');
    const asked = prompts.asked.length;
    const submitted = (await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, {
      software: 'sw_example',
      cmd: 'python3 add.py 4 5',
      confirm: false,
    })) as Run | undefined;
    assert.ok(submitted?.key, `no run: ${api.lastCommandError()}`);
    assert.deepStrictEqual(
      prompts.asked.slice(asked).map((q) => q.id),
      ['auth.expired', 'auth.username', 'auth.password', 'auth.remember'],
    );
    const ended = await until('the long run to end', () => {
      const r = api.store.get(run.id);
      return r && r.state !== 'waiting' ? r : undefined;
    }, 90_000);
    assert.strictEqual(ended.state, 'ok', ended.lastError);
    // Tokens kept expiring (every 10 s) while the run went on: renewed silently with the remembered
    // password, never by asking again.
    assert.deepStrictEqual(prompts.asked.slice(asked + 4).filter((q) => q.id.startsWith('auth.')), []);
  });
});
