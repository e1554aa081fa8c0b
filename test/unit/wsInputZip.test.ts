/**
 * The web API's zip part: which files it carries and where it sits in files_order, and that
 * the length announced is the length streamed (the multipart body's content length).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { planWsParts, zipPart } from '../../src/core/backends/ws/wsInputZip';
import { isMuseError } from '../../src/core/errors';
import type { InputFile } from '../../src/core/model';
import { zipEntries } from '../support/zipEntries';

const f = (name: string): InputFile => ({ path: `/nowhere/${name}`, name });

describe('web API zip part', () => {
  it('sends plain names as they are and zips those with folders where they were in files_order', () => {
    const plan = planWsParts([f('main.py'), f('a/x.txt'), f('in.zip'), f('b/y.txt'), f('c/z.txt')], ['main.py', 'a/x.txt', 'in.zip', 'b/y.txt', 'c/z.txt']);
    assert.deepStrictEqual(plan.order, ['main.py', '__MUSE__files.zip', 'in.zip', '__MUSE__files-2.zip']);
    assert.deepStrictEqual(plan.parts.map((p) => (p.kind === 'file' ? p.file.name : p.files.map((x) => x.name))), [
      'main.py',
      ['a/x.txt'],
      'in.zip',
      ['b/y.txt', 'c/z.txt'],
    ]);
  });

  it('past 50 files zips every file but the user zips; a user file named like the part pushes its name aside', () => {
    const many = Array.from({ length: 60 }, (_, i) => f(`f${i}.txt`));
    const plan = planWsParts([...many, f('__MUSE__files.zip'), f('data.zip')]);
    assert.deepStrictEqual(plan.order, ['__MUSE__files-2.zip', '__MUSE__files.zip', 'data.zip']);
    assert.strictEqual(plan.parts[0].kind === 'bundle' && plan.parts[0].files.length, 60);
  });

  it('refuses names that climb out of the run folder, and a files_order naming no file', () => {
    assert.throws(() => planWsParts([f('../x.txt')]), (e: unknown) => isMuseError(e, 'usage'));
    assert.throws(() => planWsParts([f('/etc/x')]), (e: unknown) => isMuseError(e, 'usage'));
    assert.throws(() => planWsParts([f('a.txt')], ['b.txt']), (e: unknown) => isMuseError(e, 'usage') && /b\.txt/.test(e.message));
  });

  it('streams exactly the length it announced, for 1,000 names (central directory past 64 KB)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-zip-part-'));
    try {
      const members = Array.from({ length: 1000 }, (_, i) => {
        const p = path.join(dir, `${i}.txt`);
        fs.writeFileSync(p, `é ${i}\n`);
        const st = fs.statSync(p);
        return { file: { path: p, name: `dossier ${i % 7}/fichier é ${i}.txt` }, size: st.size, mode: st.mode, mtime: st.mtime };
      });
      const part = zipPart(members);
      const out = path.join(dir, 'out.zip');
      const { stream } = part.open();
      await new Promise<void>((resolve, reject) => stream.pipe(fs.createWriteStream(out)).on('finish', resolve).on('error', reject));
      assert.strictEqual(fs.statSync(out).size, part.length);
      const entries = await zipEntries(out);
      assert.strictEqual(entries.get('dossier 3/fichier é 10.txt')?.toString(), 'é 10\n');
      assert.strictEqual(entries.size, 1000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
