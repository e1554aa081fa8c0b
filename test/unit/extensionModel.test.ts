import * as assert from 'assert';
import type { Run, RunState } from '../../src/core/model';
import { commandFor } from '../../src/extension/commandTemplate';
import { readProfiles, resolveActiveProfile } from '../../src/extension/profileSettings';
import { resultsRoot, runResultsDir } from '../../src/extension/resultPaths';
import {
  countActive,
  formatElapsed,
  groupRunsByProfile,
  profileContextValue,
  runContextValue,
  runDescription,
  runIcon,
  runLabel,
  runTooltipMarkdown,
} from '../../src/extension/runTreeModel';
import { fromRunUri, fromZipUri, toRunUri, toZipUri } from '../../src/extension/uris';
import { indexZipEntries } from '../../src/extension/zipIndex';

function run(state: RunState, extra: Partial<Run> = {}): Run {
  return {
    id: '6f1c1d2e-0000-4000-8000-000000000001', profile: 'local', backend: 'local', software: 'sw_example', key: 'k-123456789',
    request: { cmd: 'python3 add.py', cmdOption: '', files: ['src/add.py', 'data.txt'], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state, raw: {}, createdAt: '2024-05-01T10:00:00.000Z', updatedAt: '2024-05-01T10:00:00.000Z', submittedAt: '2024-05-01T10:00:00.000Z', ...extra,
  };
}
const both = { cancel: true, output: true };

describe('extension: Runs tree model', () => {
  it('composes context values that the menus match', () => {
    assert.strictEqual(runContextValue(run('waiting'), both), 'run;waiting;keyed;cancellable;output;content;removable');
    assert.strictEqual(runContextValue(run('ok'), both), 'run;ok;keyed;results;output;content;removable');
    assert.strictEqual(runContextValue(run('waiting'), { cancel: false, output: false }), 'run;waiting;keyed;content;removable');
    assert.strictEqual(runContextValue(run('submitting', { key: undefined }), both), 'run;submitting');
    assert.strictEqual(runContextValue(run('unknown'), both), 'run;unknown;keyed;output;content;removable', 'a lost run is not offered a cancel');
    // The menu's regex: cancellable only on active runs.
    const re = /;cancellable/;
    assert.deepStrictEqual((['waiting', 'ok', 'failed', 'cancelled'] as RunState[]).filter((s) => re.test(runContextValue(run(s), both))), ['waiting']);
  });

  it('marks ws profile nodes signed in or out', () => {
    assert.strictEqual(profileContextValue({ name: 'muse', kind: 'ws', url: 'http://x/api/' }, false), 'profile;ws;signedOut');
    assert.strictEqual(profileContextValue({ name: 'muse', kind: 'ws', url: 'http://x/api/' }, true), 'profile;ws;signedIn');
    assert.strictEqual(profileContextValue({ name: 'local', kind: 'local' }, undefined), 'profile;local;ready');
  });

  it('marks an SSH profile whose background poll needs a sign-in (its Sign In action matches)', () => {
    const ssh = { name: 'hpc', kind: 'ssh', host: 'h' } as const;
    assert.strictEqual(profileContextValue(ssh, undefined), 'profile;ssh;ready');
    const needs = profileContextValue(ssh, undefined, true);
    assert.strictEqual(needs, 'profile;ssh;needsSignIn');
    const menus = (require('../../../package.json') as { contributes: { menus: Record<string, { command: string; when?: string }[]> } }).contributes.menus['view/item/context'];
    const signIn = menus.find((m) => m.command === 'muse.signIn' && m.when?.includes('viewItem =~'));
    const re = /viewItem =~ \/(.*)\//.exec(signIn?.when ?? '');
    assert.ok(re && new RegExp(re[1]).test(needs), `Sign In is offered on ${needs}`);
  });

  it('labels a run with its software and script, and describes state, elapsed and job id', () => {
    assert.strictEqual(runLabel(run('ok')), 'sw_example · add.py');
    assert.strictEqual(runLabel(run('ok', { label: 'main.py' })), 'sw_example · main.py');
    const now = Date.parse('2024-05-01T10:01:05.000Z');
    assert.strictEqual(runDescription(run('waiting', { raw: { slurmState: 'RUNNING', jobId: '2459394' } }), now), 'waiting · RUNNING · 1m 05s · job 2459394');
    assert.strictEqual(runDescription(run('ok', { endedAt: '2024-05-01T10:00:42.000Z' }), now), 'done · 42s');
  });

  it('formats durations', () => {
    assert.deepStrictEqual([0, 59_999, 60_000, 3_600_000 + 7 * 60_000, 3 * 86_400_000 + 4 * 3_600_000].map(formatElapsed), ['0s', '59s', '1m 00s', '1h 07m', '3d 4h']);
  });

  it('spins while waiting and colours the ends', () => {
    assert.strictEqual(runIcon('waiting').id, 'loading~spin');
    assert.deepStrictEqual(runIcon('ok'), { id: 'pass', color: 'testing.iconPassed' });
    assert.strictEqual(runIcon('failed').id, 'error');
  });

  it('escapes server text in the tooltip (no links or markup from it)', () => {
    const md = runTooltipMarkdown(run('failed', { lastError: '[click](http://evil) *now*', raw: { exitCode: 3 } }), Date.now());
    assert.ok(md.includes('\\[click\\]\\(http://evil\\)'), md);
    assert.ok(md.includes('| Exit code | 3 |'));
    assert.ok(md.includes('| Key | k\\-123456789 |'));
  });

  it('groups runs by profile in settings order and counts the active ones', () => {
    const runs = [run('waiting', { id: 'a', profile: 'b' }), run('ok', { id: 'b', profile: 'a' }), run('waiting', { id: 'c', profile: 'gone' }), run('unknown', { id: 'd', profile: 'a' })];
    assert.deepStrictEqual(groupRunsByProfile(runs, ['a', 'b', 'empty']).map((g) => [g.profile, g.runs.map((r) => r.id)]), [['a', ['b', 'd']], ['b', ['a']], ['gone', ['c']]]);
    assert.strictEqual(countActive(runs), 2);
  });

  it('renders the tree model of 5,000 runs quickly enough to be called per refresh', () => {
    const runs = Array.from({ length: 5000 }, (_, i) => run(i % 3 ? 'ok' : 'waiting', { id: `r${i}`, profile: `p${i % 4}` }));
    const groups = groupRunsByProfile(runs, ['p0', 'p1', 'p2', 'p3']);
    let n = 0;
    for (const g of groups) for (const r of g.runs) n += runContextValue(r, both).length + runDescription(r, 0).length + runLabel(r).length;
    assert.ok(n > 0);
    assert.strictEqual(groups.reduce((k, g) => k + g.runs.length, 0), 5000);
  });
});

describe('extension: URIs', () => {
  it('round-trips a run document URI, with a real file name at the end of the path', () => {
    const u = toRunUri('id-1', 'stdout', 'sw_example-add.py');
    assert.strictEqual(u.scheme, 'muse-run');
    assert.strictEqual(u.path, '/sw_example-add.py/stdout.txt');
    assert.deepStrictEqual(fromRunUri({ scheme: u.scheme, query: u.query! }), { runId: 'id-1', kind: 'stdout' });
    assert.strictEqual(toRunUri('x', 'stderr', 'a/b?c#d').path, '/a_b_c_d/stderr.txt', 'no path or query smuggled through the label');
  });

  it('puts the run in the path, so two runs\' stdout.txt tabs differ, and reads old URIs back', () => {
    const a = toRunUri('id-a', 'stdout', ['ws-prod', 'sw_example-3f2a91c0']);
    const b = toRunUri('id-b', 'stdout', ['local', 'sw_example-3f2a91c0']);
    assert.strictEqual(a.path, '/ws-prod/sw_example-3f2a91c0/stdout.txt');
    assert.notStrictEqual(a.path, b.path);
    assert.strictEqual(a.path.split('/').pop(), 'stdout.txt');
    assert.deepStrictEqual(fromRunUri({ scheme: a.scheme, query: a.query! }), { runId: 'id-a', kind: 'stdout' });
    assert.strictEqual(toRunUri('x', 'report', ['..', 'a/b']).path, '/_/a_b/report.json', 'no folder escapes through a segment');
    // A URI of the earlier one-folder shape (restored editors) still names its run.
    assert.deepStrictEqual(fromRunUri({ scheme: 'muse-run', query: 'run=old-1&kind=stderr' }), { runId: 'old-1', kind: 'stderr' });
  });

  it('rejects foreign or malformed run URIs', () => {
    assert.strictEqual(fromRunUri({ scheme: 'file', query: 'run=a&kind=stdout' }), undefined);
    assert.strictEqual(fromRunUri({ scheme: 'muse-run', query: 'run=a&kind=passwd' }), undefined);
    assert.strictEqual(fromRunUri({ scheme: 'muse-run', query: 'kind=stdout' }), undefined);
  });

  it('round-trips zip URIs and refuses parent segments', () => {
    const u = toZipUri('6F1C-AB', 'out//sub/./x.txt');
    assert.deepStrictEqual(u, { scheme: 'muse-zip', authority: '6f1c-ab', path: '/out/sub/x.txt' });
    assert.deepStrictEqual(fromZipUri({ scheme: 'muse-zip', authority: '6f1c-ab', path: '/out/sub/x.txt' }), { runId: '6f1c-ab', inner: 'out/sub/x.txt' });
    assert.deepStrictEqual(fromZipUri({ scheme: 'muse-zip', authority: 'r', path: '/' }), { runId: 'r', inner: '' });
    assert.strictEqual(fromZipUri({ scheme: 'muse-zip', authority: 'r', path: '/a/../../etc/passwd' }), undefined);
  });

  it('indexes a zip listing into folders, including folders without their own entry', () => {
    const e = (name: string, isDirectory = false) => ({ name, size: 3, compressedSize: 3, isDirectory, mtime: new Date(0) });
    const idx = indexZipEntries('/z.zip', 1, [e('__WS__stdout.txt'), e('out/a/b.txt'), e('empty', true)]);
    assert.deepStrictEqual([...idx.children.get('')!].sort(), ['__WS__stdout.txt', 'empty', 'out']);
    assert.deepStrictEqual([...idx.dirs].sort(), ['', 'empty', 'out', 'out/a']);
    assert.deepStrictEqual([...idx.children.get('out/a')!], ['b.txt']);
  });
});

describe('extension: command templates', () => {
  it('fills {file} from the language template, quoting odd names', () => {
    assert.strictEqual(commandFor(undefined, 'python', 'add.py'), 'python3 add.py');
    assert.strictEqual(commandFor({ python: 'python {file} 4 5' }, 'python', 'add.py'), 'python add.py 4 5');
    assert.strictEqual(commandFor({ '.py': 'python3.11 -u {file}' }, 'plaintext', 'x.py'), 'python3.11 -u x.py');
    assert.strictEqual(commandFor(undefined, 'python', 'my script;rm -rf ~.py'), "python3 'my script;rm -rf ~.py'");
    assert.strictEqual(commandFor(undefined, undefined, 'run.bin'), './run.bin');
  });
});

describe('extension: profile settings', () => {
  it('keeps valid profiles, explains the skipped ones, and always offers the local runner', () => {
    const r = readProfiles([
      { name: 'muse', kind: 'ws', url: 'http://127.0.0.1:8000/api/' },
      { name: 'bad', kind: 'ws' },
      { name: 'cl', kind: 'ssh', host: 'cluster' },
      { name: 'muse', kind: 'local' },
      { kind: 'local' },
      { name: 'x', kind: 'ftp' },
      { name: 'y', kind: 'local', include: 'all' },
    ]);
    assert.deepStrictEqual(r.profiles.map((p) => p.name), ['muse', 'cl', 'local']);
    assert.strictEqual(r.problems.length, 5);
    assert.ok(r.problems.some((p) => p.includes('"bad"') && p.includes('url')));
    assert.strictEqual(r.none, false);
  });

  it('with no profile, runs go to the local runner', () => {
    const r = readProfiles(undefined);
    assert.strictEqual(r.none, true);
    assert.deepStrictEqual(r.profiles, [{ name: 'local', kind: 'local' }]);
    assert.strictEqual(resolveActiveProfile(r.profiles, 'nope').name, 'local');
    assert.strictEqual(resolveActiveProfile([{ name: 'a', kind: 'local' }, { name: 'b', kind: 'local' }], 'b').name, 'b');
  });
});

describe('extension: results folders', () => {
  it('puts results in .muse of the workspace, else global storage; one safe folder per run', () => {
    assert.strictEqual(resultsRoot('.muse', '/ws', '/gs'), '/ws/.muse');
    assert.strictEqual(resultsRoot('', undefined, '/gs'), '/gs/results');
    assert.strictEqual(resultsRoot('/abs/out', '/ws', '/gs'), '/abs/out');
    assert.strictEqual(runResultsDir('/ws/.muse', run('ok', { label: '../../etc/passwd', key: '1b2c-3d4e-5f60-7a8b' })), '/ws/.muse/sw_example-_etc_passwd-1b2c3d4e');
  });
});
