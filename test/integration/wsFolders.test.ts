/**
 * The web API and files with folders: the files whose name has a folder part (or every file,
 * past a count) travel as one zip part that the server unpacks in the run folder, in
 * files_order, against the ws test server over real HTTP.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunRef } from '../../src/core/backend';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { selectFiles } from '../../src/core/fileSelection';
import type { InputFile, StateReport, SubmitRequest } from '../../src/core/model';
import { isFinal, normalizeRequest } from '../../src/core/model';
import { zipEntries } from '../support/zipEntries';
import { startMuseServer, type MuseTestServer } from '../server/museServer';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN } from '../support/singularity';
import { until } from '../support/until';

const ROOT = repoRoot();

describe('Web API: files with folders as one zip part', function () {
  this.timeout(120_000);
  let tmp: string;
  let server: MuseTestServer;
  let backend: WsBackend;
  let token: string | undefined;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-folders-'));
    const image = path.join(tmp, 'image');
    execFileSync('bash', [path.join(ROOT, 'test/fixtures/singularity/build-image.sh'), image], { stdio: 'pipe' });
    server = await startMuseServer({ dataDir: path.join(tmp, 'data'), images: { sw_example: image }, singularityCommand: SINGULARITY_STAND_IN });
    backend = new WsBackend({ baseUrl: server.url, getToken: async () => token, attempts: 3, retryDelayMs: 20 });
    token = await backend.client.obtainToken('alice', 'secret');
  });

  after(async function () {
    await backend?.dispose();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function submitAndWait(req: SubmitRequest): Promise<{ run: RunRef; state: StateReport }> {
    const r = await backend.submit(req);
    const run: RunRef = { id: r.key, key: r.key, software: req.software, request: normalizeRequest(req), raw: {}, location: r.location };
    const state = await until(`run ${r.key} to end`, async () => {
      const st = (await backend.states([run])).get(run.id);
      assert.ok(st && !(st instanceof Error), String(st));
      return isFinal(st.state) && st;
    }, { timeoutMs: 60_000 });
    return { run, state };
  }

  function lastPost(): { files: string[]; order: string[] } {
    const post = [...server.requests].reverse().find((q) => q.method === 'POST' && q.path.includes('/software/muse/run/'));
    assert.ok(post, 'a submit request');
    return { files: post.files, order: JSON.parse(String(post.fields.files_order)) as string[] };
  }

  function write(dir: string, rel: string, text: string | Buffer): string {
    const abs = path.join(dir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, text);
    return abs;
  }

  it('1,000 files in subfolders (spaces, non-ASCII) arrive with their structure, in one part, and a run reads sub/dir/file.txt', async () => {
    const ws = path.join(tmp, 'workspace');
    const names: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const rel = `data/d ${i % 10}/été ${i} ünï.txt`;
      names.push(rel);
      write(ws, rel, `file ${i}\n`);
    }
    write(ws, 'sub/dir/file.txt', 'read from a subfolder\n');
    write(ws, 'main.py', "print(open('sub/dir/file.txt').read().strip())\n");
    // Selected as the CLI and the extension select: the core keeps the folders.
    const sel = await selectFiles({ root: ws, scripts: [path.join(ws, 'main.py')], folders: [path.join(ws, 'data')], include: ['sub/**'] });
    assert.strictEqual(sel.files.length, 1002);
    server.requests.length = 0;
    const { run, state } = await submitAndWait({ software: 'sw_example', cmd: 'python main.py', files: sel.files, returnedType: 'stdout' });
    assert.strictEqual(state.state, 'ok', JSON.stringify(state.raw));
    // More than 50 files: all of them in the one zip part, which is all files_order names.
    assert.deepStrictEqual(lastPost(), { files: ['__MUSE__files.zip'], order: ['__MUSE__files.zip'] });
    const res = await backend.results(run, path.join(tmp, 'out', 'r1.txt'));
    assert.ok(res.kind === 'stdout' && res.text.includes('read from a subfolder'), JSON.stringify(res));
    const zip = path.join(tmp, 'out', 'content1.zip');
    await backend.content(run, zip);
    const texts = await zipEntries(zip);
    for (const [i, rel] of names.entries()) assert.strictEqual(texts.get(rel)?.toString(), `file ${i}\n`, rel);
    assert.strictEqual(texts.get('sub/dir/file.txt')?.toString(), 'read from a subfolder\n');
  });

  it('a few files: only those with folders are zipped; user zips unpack in files_order around it', async () => {
    const ws = path.join(tmp, 'ordered');
    // in.zip holds a/x.txt and b/y.txt: a/x.txt sent before it is overwritten by it,
    // b/y.txt sent after it wins over it, as if every file had been sent alone.
    const zipDir = path.join(tmp, 'zipsrc');
    write(zipDir, 'a/x.txt', 'x from zip\n');
    write(zipDir, 'b/y.txt', 'y from zip\n');
    const userZip = path.join(ws, 'in.zip');
    fs.mkdirSync(ws, { recursive: true });
    execFileSync('python3', ['-c', 'import shutil,sys; shutil.make_archive(sys.argv[1][:-4], "zip", sys.argv[2])', userZip, zipDir]);
    const files: InputFile[] = [
      { path: write(ws, 'a/x.txt', 'x sent\n'), name: 'a/x.txt' },
      { path: userZip, name: 'in.zip' },
      { path: write(ws, 'b/y.txt', 'y sent\n'), name: 'b/y.txt' },
      { path: write(ws, 'plain.txt', 'plain\n'), name: 'plain.txt' },
    ];
    server.requests.length = 0;
    const { run, state } = await submitAndWait({ software: 'sw_example', cmd: 'cat a/x.txt b/y.txt plain.txt', files, returnedType: 'stdout' });
    assert.strictEqual(state.state, 'ok', JSON.stringify(state.raw));
    assert.deepStrictEqual(lastPost(), {
      files: ['__MUSE__files.zip', 'in.zip', '__MUSE__files-2.zip', 'plain.txt'],
      order: ['__MUSE__files.zip', 'in.zip', '__MUSE__files-2.zip', 'plain.txt'],
    });
    const res = await backend.results(run, path.join(tmp, 'out', 'r2.txt'));
    assert.ok(res.kind === 'stdout', JSON.stringify(res));
    assert.strictEqual(res.text.trim(), 'x from zip\ny sent\nplain');
  });

  it('the server refuses a zip whose entries climb out of the run folder, as a real one would', async () => {
    const ws = path.join(tmp, 'hostile');
    fs.mkdirSync(ws, { recursive: true });
    const evil = path.join(ws, 'evil.zip');
    execFileSync('python3', ['-c', 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],"w"); z.writestr("../escaped.txt","x"); z.close()', evil]);
    const e = await backend.submit({ software: 'sw_example', cmd: 'true', files: [{ path: evil, name: 'evil.zip' }] }).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof Error && /escaped|\.\.|outside|refus/i.test(e.message), String(e));
    assert.ok(!fs.existsSync(path.join(tmp, 'data', 'escaped.txt')));
  });
});
