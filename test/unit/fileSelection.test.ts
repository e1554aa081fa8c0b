import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMuseError } from '../../src/core/errors';
import { formatBytes } from '../../src/core/format';
import { selectFiles, summarizeSelection } from '../../src/core/fileSelection';

/** Makes a folder tree from `{ 'a/b.txt': 'content' }`. */
function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sel-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

describe('core: file selection', () => {
  let root: string;
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sends the script alone when no include glob is set', async () => {
    root = tree({ 'src/add.py': 'print(9.0)\n', 'data.txt': '1 2' });
    const sel = await selectFiles({ root, scripts: [path.join(root, 'src/add.py')] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['src/add.py']);
    assert.strictEqual(sel.totalBytes, 11);
  });

  it('adds the files the globs choose, script first, honouring .gitignore (nested too) and excludes', async () => {
    root = tree({
      'main.py': 'x',
      'data/a.txt': 'aa',
      'data/b.csv': 'bbb',
      'data/big.bin': '0',
      'data/secret.txt': 's',
      'data/.gitignore': 'secret.txt\n',
      '.gitignore': '*.bin\nbuild/\n',
      'build/out.txt': 'o',
      '.git/config': 'c',
      'node_modules/m/x.txt': 'm',
      '.muse/old/stdout.txt': 'r',
    });
    const sel = await selectFiles({ root, scripts: [path.join(root, 'main.py')], include: ['**/*.txt', '**/*.csv', '**/*.bin', 'main.py'], exclude: ['**/*.csv'] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['main.py', 'data/a.txt']);
    assert.strictEqual(summarizeSelection(sel), '2 files, 3 B');
  });

  it('keeps the folders of files with one base name (every backend: the web API gets them zipped)', async () => {
    root = tree({ 'main.py': 'x', 'a/in.txt': '1', 'b/in.txt': '2' });
    const sel = await selectFiles({ root, scripts: [path.join(root, 'main.py')], include: ['**/*.txt'] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['main.py', 'a/in.txt', 'b/in.txt']);
  });

  it('does not follow symlinks out of the workspace', async () => {
    root = tree({ 'main.py': 'x' });
    fs.symlinkSync('/etc', path.join(root, 'etc'));
    const sel = await selectFiles({ root, scripts: [path.join(root, 'main.py')], include: ['**'] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['main.py']);
  });

  it('stops with a clear message when the globs match too much', async () => {
    root = tree(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.txt`, 'x'])));
    await assert.rejects(
      selectFiles({ root, scripts: [], include: ['*.txt'], maxFiles: 10 }),
      (e: unknown) => isMuseError(e, 'usage') && /More than 10 files/.test(e.message),
    );
  });

  it('keeps the base name of a script outside the workspace', async () => {
    root = tree({ 'x/tool.sh': 'echo' });
    const sel = await selectFiles({ root: path.join(root, 'other'), scripts: [path.join(root, 'x/tool.sh')] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['tool.sh']);
  });

  it('sends a folder whole: named from its base name, .gitignore (also above it) and excludes honoured', async () => {
    root = tree({
      '.gitignore': '*.log\n',
      'main.py': 'x',
      'proj/data/a.csv': 'aa',
      'proj/data/raw/b.csv': 'bbb',
      'proj/data/raw/tmp.bin': '0',
      'proj/data/run.log': 'l',
      'proj/data/.gitignore': 'secret.txt\n',
      'proj/data/secret.txt': 's',
      'proj/data/__pycache__/m.pyc': 'c',
    });
    const sel = await selectFiles({ root, scripts: [path.join(root, 'main.py')], folders: [path.join(root, 'proj/data')], exclude: ['**/*.bin'] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['main.py', 'data/.gitignore', 'data/a.csv', 'data/raw/b.csv']);
  });

  it('sends a file reached twice (named and matched by a glob) once', async () => {
    root = tree({ 'main.py': 'x', 'p/d/in.txt': '1' });
    const sel = await selectFiles({ root, scripts: [path.join(root, 'main.py')], folders: [path.join(root, 'p/d')], include: ['**/*.txt', '*.py'] });
    assert.deepStrictEqual(sel.files.map((f) => f.name), ['main.py', 'd/in.txt']);
    assert.strictEqual(sel.totalBytes, 2);
  });

  it('formats sizes', () => {
    assert.deepStrictEqual([512, 2048, 12.4 * 1024 * 1024].map(formatBytes), ['512 B', '2.0 KB', '12 MB']);
  });
});
