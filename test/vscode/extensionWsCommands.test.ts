// The ws profile's other commands inside the real extension host, against the ws test server:
// Browse Software (the list, then "Run Active File with It"), Download by Key (the file lands
// where the save dialog points; an unknown key is a clear error), and a token the server refuses
// during a user's command: renewed once (silently with a remembered password, else one question),
// the run sent once more, never a loop. Questions are answered through the extension's prompt
// hook; what is asked, and how often, stays the extension's.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import type { Run } from '../../src/core/model';
import type { WsProfile } from '../../src/core/profiles';
import { runRef, submitRun } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { Question } from '../../src/extension/prompts';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { PromptRecorder, answerSignInAgain, exampleScript, museApi, runEnded, setMuseSettings, signOutAndReset, tempDir, until, useWsProfile, wsProfile } from './support';

const PROFILE = 'vstest-ws-commands';
const RUN_IT = 'Run Active File with It';

describe('Muse Runner ws commands: browse software, download by key, a refused token', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let server: MuseTestServer;
  /** A second server: its tokens are signed with another secret, so `server` refuses them. */
  let other: MuseTestServer;
  let prompts: PromptRecorder;
  let script: vscode.Uri;
  let tmp: string;

  const profileOn = (url: string): WsProfile => wsProfile(PROFILE, url);
  const submits = (): number => server.requests.filter((r) => r.method === 'POST' && /software\/muse\/run\/sw_example/.test(r.path)).length;
  const obtains = (s: MuseTestServer): number => s.requests.filter((r) => /jwt\/obtain/.test(r.path)).length;
  /** The ids of the questions asked since `mark`, but the run-end notifications (they come when runs end). */
  const askedSince = (mark: number): string[] => prompts.asked.slice(mark).map((q) => q.id).filter((id) => id !== 'run.ended');
  const ended = (id: string): Promise<Run> => runEnded(api, id);

  before(async () => {
    api = await museApi();
    tmp = tempDir('ext-ws-cmds-');
    server = await startMuseServer({ dataDir: path.join(tmp, 'server') });
    other = await startMuseServer({ dataDir: path.join(tmp, 'other') });
    script = exampleScript();
    prompts = new PromptRecorder(api);
    await useWsProfile(PROFILE, server.url);
  });

  after(async () => {
    prompts?.dispose();
    await signOutAndReset(PROFILE);
    await server?.close();
    await other?.close();
  });

  afterEach(() => {
    for (const id of ['software.pick', 'software.chosen', 'run.cmd', 'run.confirm', 'download.key', 'download.saveAs', 'auth.expired']) prompts.set(id, undefined);
  });

  describe('Browse Software', () => {
    it('lists sw_example with its description; "Run Active File with It" runs it and it reads 9.0', async () => {
      const ok = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE }, { username: 'alice', password: 'secret' });
      assert.strictEqual(ok, true, api.lastCommandError());
      await vscode.window.showTextDocument(script);
      let pick: Question | undefined;
      prompts.set('software.pick', (q) => {
        pick = q;
        return 'sw_example';
      });
      prompts.set('software.chosen', RUN_IT);
      prompts.set('run.cmd', 'python3 add.py 4 5');
      prompts.set('run.confirm', 'Run');
      const asked = prompts.asked.length;
      const run = (await vscode.commands.executeCommand('muse.browseSoftware')) as Run | undefined;
      assert.ok(run?.key, `no run: ${api.lastCommandError()}`);
      assert.ok(pick?.kind === 'pick');
      const item = pick.items.find((i) => i.label === 'sw_example');
      assert.ok(item, `sw_example not listed: ${JSON.stringify(pick.items)}`);
      assert.match(String(item.detail), /add\.py sums the numbers/);
      const chosen = prompts.asked.find((q) => q.id === 'software.chosen');
      assert.ok(chosen?.kind === 'message' && chosen.choices[0] === RUN_IT && /^sw_example: Example software/.test(chosen.message));
      assert.deepStrictEqual(askedSince(asked), ['software.pick', 'software.chosen', 'run.cmd', 'run.confirm']);
      assert.strictEqual(run.software, 'sw_example');
      assert.deepStrictEqual(run.request.files, ['add.py']);
      const done = await ended(run.id);
      assert.strictEqual(done.state, 'ok', done.lastError);
      const doc = (await vscode.commands.executeCommand('muse.openResults', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
      assert.strictEqual(doc?.getText().trim(), '9.0', api.lastCommandError());
    });

    it('dismissing the list runs nothing', async () => {
      const before = submits();
      const result = await vscode.commands.executeCommand('muse.browseSoftware');
      assert.strictEqual(result, undefined);
      assert.strictEqual(submits(), before);
      assert.strictEqual(askedSince(0).at(-1), 'software.pick');
    });
  });

  describe('Download by Key', () => {
    let downloadKey: string;

    before(async () => {
      // A run whose results the server keeps for later (todownload=yes), made outside the
      // extension as a colleague or the CLI would: only its download key is shared.
      const backend = new WsBackend({ baseUrl: server.url, getToken: async () => server.issueToken('alice') });
      const store = new RunStore(path.join(tmp, 'elsewhere-runs.json'));
      await store.load();
      const request = { software: 'sw_example', cmd: 'python3 add.py 4 5', files: [{ path: script.fsPath, name: 'add.py' }], returnedType: 'stdout.txt' as const, toDownload: true };
      const run = await submitRun({ backend, store, profile: profileOn(server.url), request });
      await until('the todownload run to end', async () => {
        const s = (await backend.states([runRef(run)])).get(run.id);
        return s && !(s instanceof Error) && s.state === 'ok' ? true : undefined;
      });
      const outcome = await backend.results(runRef(run), path.join(tmp, 'not-written.txt'));
      assert.strictEqual(outcome.kind, 'downloadKey');
      downloadKey = outcome.key;
      await backend.dispose();
    });

    it('saves the result where the save dialog points', async () => {
      const dest = path.join(tmp, 'saved', 'deeper', 'sum.txt');
      let dialog: Question | undefined;
      prompts.set('download.key', ` ${downloadKey} `);
      prompts.set('download.saveAs', (q) => {
        dialog = q;
        return dest;
      });
      const saved = await vscode.commands.executeCommand('muse.downloadByKey');
      assert.strictEqual(saved, dest, api.lastCommandError());
      assert.strictEqual(fs.readFileSync(dest, 'utf8').trim(), '9.0');
      assert.ok(dialog?.kind === 'save');
      // Offered in the results folder, under the key's name.
      assert.strictEqual(path.basename(dialog.defaultPath), downloadKey);
      assert.ok(server.requests.some((r) => r.method === 'GET' && /\/download\/?$/.test(r.path)), JSON.stringify(server.requests.map((r) => r.path)));
    });

    it('an unknown key is a clear error, and nothing is written', async () => {
      const unknown = '20210119_130603_00000000-0000-4000-8000-000000000000';
      const dir = path.join(tmp, 'unknown');
      prompts.set('download.key', unknown);
      prompts.set('download.saveAs', path.join(dir, 'never.txt'));
      const saved = await vscode.commands.executeCommand('muse.downloadByKey');
      assert.strictEqual(saved, undefined);
      assert.match(String(api.lastCommandError()), new RegExp(`muse\\.downloadByKey: Not found: the download ${unknown}`));
      assert.deepStrictEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
    });

    it('a key that cannot be one is refused before anything is asked or sent', async () => {
      prompts.set('download.key', '../../etc/passwd');
      const asked = prompts.asked.length;
      const before = server.requests.length;
      assert.strictEqual(await vscode.commands.executeCommand('muse.downloadByKey'), undefined);
      assert.match(String(api.lastCommandError()), /A download key is made of letters, digits/);
      assert.deepStrictEqual(askedSince(asked), ['download.key']);
      assert.strictEqual(server.requests.length, before);
    });
  });

  describe('a token the server refuses during a user command', () => {
    /** Signs in on the other server (its token looks valid but this server refuses it), then points the profile back here. */
    async function holdForeignToken(remember: boolean): Promise<void> {
      await setMuseSettings({ profiles: [profileOn(other.url)] });
      const ok = await vscode.commands.executeCommand('muse.signIn', { type: 'profile', name: PROFILE }, { username: 'alice', password: 'secret', remember });
      assert.strictEqual(ok, true, api.lastCommandError());
      await setMuseSettings({ profiles: [profileOn(server.url)] });
    }

    it('with the password remembered: renewed silently, the run sent once more, one record kept', async () => {
      await holdForeignToken(true);
      await vscode.window.showTextDocument(script);
      prompts.set('software.pick', 'sw_example');
      prompts.set('software.chosen', RUN_IT);
      prompts.set('run.cmd', 'python3 add.py 4 5');
      prompts.set('run.confirm', 'Run');
      const asked = prompts.asked.length;
      const [submitsBefore, obtainsBefore, runsBefore] = [submits(), obtains(server), api.store.list().length];
      const run = (await vscode.commands.executeCommand('muse.browseSoftware')) as Run | undefined;
      assert.ok(run?.key, `no run: ${api.lastCommandError()}`);
      // Refused once (401, nothing created), renewed with the remembered password, sent again.
      assert.strictEqual(submits() - submitsBefore, 2);
      assert.strictEqual(obtains(server) - obtainsBefore, 1);
      assert.deepStrictEqual(prompts.asked.slice(asked).filter((q) => q.id.startsWith('auth.')), []);
      // The refused attempt (no key, nothing on the server) is not left in the list.
      assert.strictEqual(api.store.list().length - runsBefore, 1);
      const done = await ended(run.id);
      assert.strictEqual(done.state, 'ok', done.lastError);
    });

    it('without it: one question; dismissed, a clear error and no second attempt', async () => {
      await vscode.commands.executeCommand('muse.signOut', { type: 'profile', name: PROFILE });
      await holdForeignToken(false);
      await vscode.window.showTextDocument(script);
      const asked = prompts.asked.length;
      const [submitsBefore, obtainsBefore] = [submits(), obtains(server)];
      const run = await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, { software: 'sw_example', cmd: 'python3 add.py 1 2', confirm: false });
      assert.strictEqual(run, undefined);
      assert.deepStrictEqual(askedSince(asked), ['auth.expired']);
      const q = prompts.asked.filter((x) => x.id === 'auth.expired').at(-1);
      assert.ok(q?.kind === 'message' && /refused your sign-in/.test(q.message), JSON.stringify(q));
      assert.match(String(api.lastCommandError()), /refused your token/);
      assert.strictEqual(submits() - submitsBefore, 1);
      assert.strictEqual(obtains(server), obtainsBefore);
    });

    it('answering the question with a sign-in sends the run once more, and it ends ok', async () => {
      answerSignInAgain(prompts, 'No');
      const asked = prompts.asked.length;
      const submitsBefore = submits();
      const run = (await vscode.commands.executeCommand('muse.runActiveFile', undefined, undefined, { software: 'sw_example', cmd: 'python3 add.py 4 5', confirm: false })) as Run | undefined;
      assert.ok(run?.key, `no run: ${api.lastCommandError()}`);
      assert.deepStrictEqual(askedSince(asked), ['auth.expired', 'auth.username', 'auth.password', 'auth.remember']);
      assert.strictEqual(submits() - submitsBefore, 2);
      const done = await ended(run.id);
      assert.strictEqual(done.state, 'ok', done.lastError);
    });
  });
});
