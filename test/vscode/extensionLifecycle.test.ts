// A run's life beyond the happy path, in the real extension host with the local runner:
// the run-end notification and its "Open Results"/"Open Content" actions, and runs that outlive
// the window (a run recorded as waiting by an earlier window, which ended meanwhile, is picked
// up and resolved by this one; a new store on the same file, as after a reload, reads it).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { LocalBackend } from '../../src/core/backends/local/localBackend';
import { normalizeRequest } from '../../src/core/model';
import type { Run } from '../../src/core/model';
import type { LocalProfile } from '../../src/core/profiles';
import { submitRun } from '../../src/core/runs';
import { RunStore } from '../../src/core/store';
import type { MuseExtensionApi } from '../../src/extension/extension';
import type { RunsNode } from '../../src/extension/runsView';
import { PromptRecorder, museApi, runScript, resetMuseSettings, setMuseSettings, until } from './support';

const PROFILE = 'vstest-life';

describe('Muse Runner run lifecycle in a real VS Code', function () {
  this.timeout(120_000);
  let api: MuseExtensionApi;
  let prompts: PromptRecorder;
  let script: vscode.Uri;
  let root: string;
  let tmp: string;

  before(async () => {
    api = await museApi();
    tmp = fs.mkdtempSync(path.join(process.env.MUSE_VSCODE_RUN_DIR ?? os.tmpdir(), 'ext-life-'));
    root = path.join(tmp, 'runs');
    script = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'add.py');
    prompts = new PromptRecorder(api);
    await setMuseSettings({ profiles: [{ name: PROFILE, kind: 'local', root }], activeProfile: PROFILE, pollInterval: 1 });
  });

  after(async () => {
    prompts.dispose();
    await resetMuseSettings();
  });

  const runActive = (cmd: string): Promise<Run> => runScript(api, script, 'python', cmd);

  it('announces a finished run with "Open Results", "Open Content" and "Show Summary", and "Open Results" opens 9.0', async () => {
    let runId: string | undefined;
    prompts.set('run.ended', (q) => (q.kind === 'message' && runId !== undefined && q.subject === runId ? 'Open Results' : undefined));
    const run = await runActive('python3 add.py 4 5');
    runId = run.id;
    const q = await until('the run-end notification', () => prompts.asked.find((x) => x.id === 'run.ended' && x.kind === 'message' && x.subject === run.id));
    assert.ok(q.kind === 'message');
    assert.deepStrictEqual(q.choices, ['Open Results', 'Open Content', 'Show Summary']);
    assert.strictEqual(q.severity, 'info');
    assert.match(q.message, /finished/);
    assert.ok(!q.modal, 'a run end is a notification, not a modal dialog');
    const editor = await until('the results document to open', () => {
      const e = vscode.window.activeTextEditor;
      return e && e.document.uri.scheme === 'muse-run' && e.document.uri.path.endsWith('/stdout.txt') ? e : undefined;
    });
    assert.strictEqual(editor.document.getText().trim(), '9.0');
    assert.strictEqual(prompts.asked.filter((x) => x.id === 'run.ended' && x.kind === 'message' && x.subject === run.id).length, 1, 'announced more than once');
  });

  it('announces a failed run with its exit code, offering "Open Content", "Show Report" and "Show Summary"', async () => {
    const run = await runActive('python3 -c "import sys; sys.exit(3)"');
    const q = await until('the run-end notification', () => prompts.asked.find((x) => x.id === 'run.ended' && x.kind === 'message' && x.subject === run.id));
    assert.ok(q.kind === 'message');
    assert.strictEqual(q.severity, 'warning');
    assert.match(q.message, /failed: exit code 3/);
    assert.deepStrictEqual(q.choices, ['Open Content', 'Show Report', 'Show Summary']);
  });

  it('picks up a run that an earlier window left waiting and that ended meanwhile; a new store reads it ended', async () => {
    // The earlier window: submitted through the same local runner, recorded in its own store.
    const profile: LocalProfile = { name: PROFILE, kind: 'local', root };
    const backend = new LocalBackend({ root });
    const earlier = new RunStore(path.join(tmp, 'earlier-window-runs.json'));
    await earlier.load();
    const run = await submitRun({ backend, store: earlier, profile, request: { software: 'python', cmd: 'python3 -c "print(42)"' }, label: 'left-behind.py' });
    assert.strictEqual(run.state, 'waiting');
    // It ends while no window follows it.
    await until('the run to end on the runner', async () => {
      const s = (await backend.states([{ id: run.id, key: run.key, software: run.software, request: run.request, raw: run.raw, location: run.location }])).get(run.id);
      return s && !(s instanceof Error) && s.state === 'ok' ? true : undefined;
    });
    await backend.dispose?.();
    // What that window had written to the shared run store: the run, still waiting.
    const shared = new RunStore(api.store.file);
    await shared.load();
    await shared.add(run);
    // This window sees the record (file watch) and its poller resolves it, with no user action.
    const seen = await until('this window to show the run ended', () => {
      const r = api.store.get(run.id);
      return r && r.state !== 'waiting' && r.state !== 'submitting' ? r : undefined;
    });
    assert.strictEqual(seen.state, 'ok', seen.lastError);
    // As after a reload: a new store on the same file reads the run, ended.
    const reloaded = new RunStore(api.store.file);
    await reloaded.load();
    assert.strictEqual(reloaded.get(run.id)?.state, 'ok');
    const doc = (await vscode.commands.executeCommand('muse.openResults', { type: 'run', id: run.id })) as vscode.TextDocument | undefined;
    assert.ok(doc, api.lastCommandError());
    assert.strictEqual(doc.getText().trim(), '42');
  });

  it('marks a run that a closed window left submitting unknown, saying to check first, and lets it be removed', async () => {
    // The window that sent it closed before the runner answered: its extension host (here, a
    // process that has exited) is named on the record, which has no key.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const at = new Date().toISOString();
    const left: Run = {
      id: `abandoned-${Date.now()}`, profile: PROFILE, backend: 'local', software: 'python', request: normalizeRequest({ software: 'python', cmd: 'python3 add.py 1 2' }),
      state: 'submitting', raw: {}, createdAt: at, updatedAt: at, label: 'abandoned.py', sentBy: `${os.hostname()}:${gone}`,
    };
    const shared = new RunStore(api.store.file);
    await shared.load();
    await shared.add(left);
    // The window that polls for the user settles it at its next lease renewal (10 s), no user action.
    const seen = await until('this window to mark the abandoned submission', () => {
      const r = api.store.get(left.id);
      return r && r.state !== 'submitting' ? r : undefined;
    }, 30_000);
    assert.strictEqual(seen.state, 'unknown');
    assert.match(seen.lastError ?? '', /stopped before the cluster answered.*check before submitting again/);
    const group = (api.runsView.getChildren() as RunsNode[]).find((n) => n.type === 'profile' && n.name === PROFILE)!;
    const node = (api.runsView.getChildren(group) as RunsNode[]).find((n) => n.type === 'run' && n.id === left.id)!;
    assert.match(String(api.runsView.getTreeItem(node).contextValue), /removable/, 'no longer stuck: it can be removed');
    await api.store.remove([left.id]);
  });

  it('reruns a finished run with the same request and files', async () => {
    const first = await runActive('python3 add.py 4 5');
    await until('the first run to end', () => (api.store.get(first.id)?.state === 'ok' ? true : undefined));
    const again = (await vscode.commands.executeCommand('muse.rerun', { type: 'run', id: first.id })) as Run | undefined;
    assert.ok(again?.key, `no rerun: ${api.lastCommandError()}`);
    assert.notStrictEqual(again.id, first.id);
    assert.strictEqual(again.request.cmd, 'python3 add.py 4 5');
    assert.deepStrictEqual(again.request.files, ['add.py']);
    const done = await until('the rerun to end', () => {
      const r = api.store.get(again.id);
      return r && r.state !== 'waiting' && r.state !== 'submitting' ? r : undefined;
    });
    assert.strictEqual(done.state, 'ok', done.lastError);
  });

  it('clears the finished runs after one confirmation, keeping the active ones', async () => {
    const sleeping = await runActive('python3 -c "import time; time.sleep(60)"');
    await until('the sleeping run to wait', () => (api.store.get(sleeping.id)?.state === 'waiting' ? true : undefined));
    const finished = api.store.list().filter((r) => r.state === 'ok' || r.state === 'failed' || r.state === 'cancelled').length;
    assert.ok(finished >= 3, `only ${finished} finished runs`);
    prompts.set('runs.clearFinished', 'Clear');
    const removed = await vscode.commands.executeCommand('muse.clearFinished');
    assert.strictEqual(removed, finished, api.lastCommandError());
    assert.strictEqual(prompts.count('runs.clearFinished'), 1);
    assert.deepStrictEqual(api.store.list().filter((r) => r.state === 'ok' || r.state === 'failed' || r.state === 'cancelled'), []);
    assert.strictEqual(api.store.get(sleeping.id)?.state, 'waiting');
    // Removing a run that has not ended asks first (modal); declined, the run stays listed.
    const asked = prompts.count('runs.removeActive');
    await vscode.commands.executeCommand('muse.remove', { type: 'run', id: sleeping.id });
    assert.strictEqual(prompts.count('runs.removeActive'), asked + 1);
    const q = prompts.asked.filter((x) => x.id === 'runs.removeActive').at(-1);
    assert.ok(q?.kind === 'message' && q.modal && /1 of these runs has not ended/.test(q.message), JSON.stringify(q));
    assert.strictEqual(api.store.get(sleeping.id)?.state, 'waiting');
    await vscode.commands.executeCommand('muse.cancel', { type: 'run', id: sleeping.id });
  });
});
