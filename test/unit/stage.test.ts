import * as assert from 'assert';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { stageInputs } from '../../src/core/transfer/stage';
import { isMuseError } from '../../src/core/errors';
import type { InputFile } from '../../src/core/model';
import { buildRawZip, type RawEntry } from '../fixtures/zips/rawZip';

describe('stageInputs', () => {
  let tmp: string;
  let srcDir: string;
  let runDir: string;

  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-stage-'));
    srcDir = path.join(tmp, 'src');
    runDir = path.join(tmp, 'run');
    await fsp.mkdir(srcDir);
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  /** An input file whose local copy lives in its own folder (two inputs may share a name). */
  let n = 0;
  async function input(name: string, content: string | Buffer): Promise<InputFile> {
    const dir = path.join(srcDir, String(n++));
    await fsp.mkdir(dir);
    const p = path.join(dir, path.basename(name));
    await fsp.writeFile(p, content);
    return { path: p, name };
  }
  async function zipInput(name: string, entries: RawEntry[]): Promise<InputFile> {
    return input(name, buildRawZip(entries));
  }
  const read = (rel: string) => fsp.readFile(path.join(runDir, rel), 'utf8');

  it('copies files in upload order by default and unzips zips in place', async () => {
    const files = [
      await input('stdin.txt', '1 2 3'),
      await zipInput('data.zip', [{ name: 'data/a.txt', data: 'A' }, { name: 'b.txt', data: 'B' }]),
    ];
    await stageInputs(files, undefined, runDir);
    assert.strictEqual(await read('stdin.txt'), '1 2 3');
    assert.strictEqual(await read('data/a.txt'), 'A');
    assert.strictEqual(await read('b.txt'), 'B');
    assert.ok((await fsp.stat(path.join(runDir, 'data.zip'))).isFile(), 'the zip itself stays, as on the server');
  });

  it('lets a plain file listed after a zip overwrite what the zip put there', async () => {
    const files = [await input('conf.txt', 'from the plain file'), await zipInput('bundle.zip', [{ name: 'conf.txt', data: 'from the zip' }])];
    await stageInputs(files, ['bundle.zip', 'conf.txt'], runDir);
    assert.strictEqual(await read('conf.txt'), 'from the plain file');
  });

  it('lets a zip listed after a plain file overwrite it', async () => {
    const files = [await input('conf.txt', 'from the plain file'), await zipInput('bundle.zip', [{ name: 'conf.txt', data: 'from the zip' }])];
    await stageInputs(files, ['conf.txt', 'bundle.zip'], runDir);
    assert.strictEqual(await read('conf.txt'), 'from the zip');
  });

  it('lets a later zip overwrite an earlier zip, entry by entry', async () => {
    const files = [
      await zipInput('one.zip', [{ name: 'x.txt', data: 'one' }, { name: 'only1.txt', data: '1' }]),
      await zipInput('two.zip', [{ name: 'x.txt', data: 'two' }]),
    ];
    await stageInputs(files, ['one.zip', 'two.zip'], runDir);
    assert.strictEqual(await read('x.txt'), 'two');
    assert.strictEqual(await read('only1.txt'), '1');
  });

  it('overwrites a file already in the run folder', async () => {
    await fsp.mkdir(runDir);
    await fsp.writeFile(path.join(runDir, 'f.txt'), 'old');
    await stageInputs([await input('f.txt', 'new')], undefined, runDir);
    assert.strictEqual(await read('f.txt'), 'new');
  });

  it('stages files files_order does not name after the named ones', async () => {
    const files = [await input('a.txt', 'a'), await zipInput('z.zip', [{ name: 'a.txt', data: 'from zip' }])];
    await stageInputs(files, ['z.zip'], runDir);
    assert.strictEqual(await read('a.txt'), 'a');
  });

  it('handles names with spaces, quotes, $(), backticks and non-ASCII', async () => {
    const names = ['my file.txt', `it's "quoted".txt`, '$(touch pwned).txt', '`id`.txt', 'données-été-日本.txt'];
    const files = await Promise.all(names.map((nm) => input(nm, `content of ${nm}`)));
    await stageInputs(files, undefined, runDir);
    for (const nm of names) assert.strictEqual(await read(nm), `content of ${nm}`);
    assert.deepStrictEqual((await fsp.readdir(runDir)).sort(), [...names].sort(), 'nothing else was created');
  });

  // Names are the user's own input: a usage error (exit 2 in the CLI, as on the ssh backend).
  it('refuses hostile or empty names as usage errors before copying anything', async () => {
    for (const bad of ['../escape.txt', '/etc/passwd', 'a/../../x', 'nul\0byte', '', '  ', 'a\\..\\b', '.']) {
      const files = [await input('fine.txt', 'x'), { path: path.join(srcDir, 'whatever'), name: bad }];
      await assert.rejects(stageInputs(files, undefined, runDir), (e: unknown) => isMuseError(e, 'usage'), `name ${JSON.stringify(bad)}`);
    }
    await assert.rejects(fsp.access(path.join(runDir, 'fine.txt')));
    await assert.rejects(fsp.access(path.join(tmp, 'escape.txt')));
  });

  it('refuses a hostile name in files_order as a usage error', async () => {
    const a = await input('a.txt', 'a');
    for (const bad of ['../a.txt', '/a.txt', '']) {
      await assert.rejects(stageInputs([a], [bad], runDir), (e: unknown) => isMuseError(e, 'usage'), `files_order ${JSON.stringify(bad)}`);
    }
    await assert.rejects(fsp.access(path.join(runDir, 'a.txt')));
  });

  it('a file and a folder of the same name: usage errors naming them', async () => {
    const plain = await input('sub', 'a file');
    await assert.rejects(
      stageInputs([plain, await input('sub/x.txt', 'x')], undefined, runDir),
      (e: unknown) => isMuseError(e, 'usage') && /sub\/x\.txt/.test((e as Error).message),
    );
    await fsp.rm(runDir, { recursive: true, force: true });
    await assert.rejects(
      stageInputs([await zipInput('z.zip', [{ name: 'data/a.txt', data: 'A' }]), await input('data', 'a file')], undefined, runDir),
      (e: unknown) => isMuseError(e, 'usage') && /"data"/.test((e as Error).message),
    );
    assert.strictEqual(await read('data/a.txt'), 'A', 'the folder the zip made is kept');
  });

  it('never writes through a symbolic link in the run folder (refused: not the user\'s typing)', async () => {
    await fsp.mkdir(runDir);
    await fsp.symlink(tmp, path.join(runDir, 'link'));
    await assert.rejects(stageInputs([await input('link/x.txt', 'x')], undefined, runDir), (e: unknown) => isMuseError(e, 'refused'));
    await assert.rejects(fsp.access(path.join(tmp, 'x.txt')));
  });

  it('refuses a files_order naming a file that was not sent, and duplicate names', async () => {
    const a = await input('a.txt', 'a');
    await assert.rejects(stageInputs([a], ['a.txt', 'b.txt'], runDir), (e: unknown) => isMuseError(e, 'usage') && /b\.txt/.test((e as Error).message));
    const a2 = await input('a.txt', 'again');
    await assert.rejects(stageInputs([a, a2], undefined, runDir), (e: unknown) => isMuseError(e, 'usage'));
  });

  it('refuses a hostile zip and leaves the run folder as the earlier files made it', async () => {
    const files = [await input('first.txt', 'first'), await zipInput('evil.zip', [{ name: '../../escaped.txt', data: 'x' }])];
    await assert.rejects(stageInputs(files, undefined, runDir), (e: unknown) => isMuseError(e, 'refused') && /escaped\.txt/.test((e as Error).message));
    assert.strictEqual(await read('first.txt'), 'first');
    await assert.rejects(fsp.access(path.join(tmp, 'escaped.txt')));
  });

  it('says clearly when a .zip is not a zip, or an input file is missing', async () => {
    await assert.rejects(stageInputs([await input('fake.zip', 'plain text')], undefined, runDir), (e: unknown) => isMuseError(e, 'usage') && /fake\.zip/.test((e as Error).message));
    await assert.rejects(
      stageInputs([{ path: path.join(srcDir, 'missing.txt'), name: 'missing.txt' }], undefined, runDir),
      (e: unknown) => isMuseError(e, 'notFound'),
    );
  });

  it('puts input files with a folder in their name in that folder', async () => {
    await stageInputs([await input('sub/dir/f.txt', 'deep')], undefined, runDir);
    assert.strictEqual(await read('sub/dir/f.txt'), 'deep');
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(stageInputs([await input('a.txt', 'a')], undefined, runDir, { signal: ac.signal }), (e: unknown) => isMuseError(e, 'cancelled'));
  });
});
