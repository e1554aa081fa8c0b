import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readFollowed } from '../../src/core/backends/local/followFile';

describe('core: a local output file read from an offset', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-followfile-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('says "no output yet" for a missing file, then reads only what was appended', async () => {
    const f = path.join(dir, 'out.txt');
    const a = await readFollowed(f, 'out.txt', {});
    assert.deepStrictEqual([a.missing, a.parts.length], [true, 0]);
    fs.writeFileSync(f, 'one\n');
    const b = await readFollowed(f, 'out.txt', a.offsets);
    fs.appendFileSync(f, 'two\n');
    const c = await readFollowed(f, 'out.txt', b.offsets);
    assert.deepStrictEqual([b.parts[0]!.data.toString(), c.parts[0]!.data.toString(), c.offsets['out.txt']], ['one\n', 'two\n', 8]);
    const d = await readFollowed(f, 'out.txt', c.offsets);
    assert.deepStrictEqual(d.parts, [], 'nothing new, nothing read again');
  });

  it('starts again from 0 when the file shrank, and keeps only the last bytes past the limit', async () => {
    const f = path.join(dir, 'big.txt');
    fs.writeFileSync(f, 'x'.repeat(1000));
    const r = await readFollowed(f, 'big.txt', {}, 100);
    assert.deepStrictEqual([r.parts[0]!.from, r.parts[0]!.skipped, r.parts[0]!.data.length, r.offsets['big.txt']], [900, 900, 100, 1000]);
    fs.writeFileSync(f, 'new\n');
    const s = await readFollowed(f, 'big.txt', r.offsets);
    assert.deepStrictEqual([s.parts[0]!.restarted, s.parts[0]!.data.toString()], [true, 'new\n']);
  });
});
