// A followed document's file: each update appends only its new text, however big the document
// already is; the whole file is written again only when the kept part is trimmed.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FollowedFile } from '../../src/core/follow/followedFile';

describe('core: a followed document kept as a file', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-followedfile-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('appends only the new text at each update, whatever the document size', async () => {
    const errors: unknown[] = [];
    const f = new FollowedFile(path.join(dir, 'p', 'run', 'stdout.log'), '[head]\n', 4_000_000, 'the run folder', (e) => errors.push(e));
    const block = `${'x'.repeat(99)}\n`.repeat(1000);
    const perUpdate: number[] = [];
    for (let i = 0; i < 30; i++) {
      const before = f.writtenChars;
      f.append(block);
      perUpdate.push(f.writtenChars - before);
    }
    await f.settled();
    // 3 MB kept, under the limit: 30 appends of the 100 KB each brought, no whole write.
    assert.deepStrictEqual(perUpdate, Array(30).fill(block.length));
    assert.strictEqual(f.rewrites, 0);
    assert.strictEqual(fs.readFileSync(f.file, 'utf8'), '[head]\n' + block.repeat(30));
    assert.deepStrictEqual(errors, []);
  });

  it('past the limit keeps the last part under a line naming the whole file, rewriting rarely, then ends once', async () => {
    const f = new FollowedFile(path.join(dir, 'stdout.log'), '', 1000, '/r/KEY/__WS__stdout.txt', () => undefined);
    for (let i = 0; i < 100; i++) f.append(`line ${String(i).padStart(4, '0')}\n`); // 10 chars a line
    f.append('no newline');
    f.end('[The run ended: completed.]\n');
    f.append('after the end\n');
    await f.settled();
    const text = fs.readFileSync(f.file, 'utf8');
    assert.ok(f.rewrites >= 1 && f.rewrites <= 3, `${f.rewrites} whole writes for 1,000 characters over a 1,000 limit`);
    assert.match(text, /^\[\d+ earlier characters not shown: the whole file is \/r\/KEY\/__WS__stdout.txt\]\n/);
    assert.match(text, /line 0099\nno newline\n\[The run ended: completed\.\]\n$/);
    assert.doesNotMatch(text, /after the end/);
    assert.ok(text.endsWith(f.writtenEnd) && f.writtenEnd.length === 200, 'writtenEnd is the end of the file (what an editor showing it ends with)');
    await f.remove();
    assert.strictEqual(fs.existsSync(f.file), false);
  });
  it('holds text nobody sees: nothing written until flush, then one append (or one whole write after a trim)', async () => {
    const f = new FollowedFile(path.join(dir, 'stdout.log'), '', 1000, 'the run folder', () => undefined);
    f.append('shown 1\n');
    await f.settled();
    f.append('held 1\n', true);
    f.append('held 2\n', true);
    await f.settled();
    assert.strictEqual(fs.readFileSync(f.file, 'utf8'), 'shown 1\n', 'held text is not written');
    assert.strictEqual(f.holding, true);
    const before = f.writtenChars;
    f.flush();
    await f.settled();
    assert.strictEqual(f.writtenChars - before, 'held 1\nheld 2\n'.length, 'the flush appends the held text only');
    assert.strictEqual(fs.readFileSync(f.file, 'utf8'), 'shown 1\nheld 1\nheld 2\n');
    assert.strictEqual(f.writtenEnd, 'shown 1\nheld 1\nheld 2\n', 'writtenEnd after appends');
    // A shown update after held text writes both, in order, as one append.
    f.append('held 3\n', true);
    f.append('shown 2\n');
    await f.settled();
    assert.strictEqual(fs.readFileSync(f.file, 'utf8'), 'shown 1\nheld 1\nheld 2\nheld 3\nshown 2\n');
    // Held past the limit: one whole write at the flush, the last part kept.
    const rewrites = f.rewrites;
    for (let i = 0; i < 300; i++) f.append(`line ${String(i).padStart(4, '0')}\n`, true);
    await f.settled();
    assert.strictEqual(f.rewrites, rewrites, 'nothing written while held, trims included');
    f.flush();
    await f.settled();
    assert.strictEqual(f.rewrites, rewrites + 1);
    const text = fs.readFileSync(f.file, 'utf8');
    assert.match(text, /^\[\d+ earlier characters not shown: the whole file is the run folder\]\n/);
    assert.match(text, /line 0299\n$/);
    assert.ok(text.endsWith(f.writtenEnd) && f.writtenEnd.length === 200, 'writtenEnd after a whole write');
    assert.ok(text.length <= 1100, `${text.length} characters kept over a 1,000 limit`);
    // The end writes what is held before the last line.
    f.append('held at the end\n', true);
    f.end('[The run ended: completed.]\n');
    await f.settled();
    assert.match(fs.readFileSync(f.file, 'utf8'), /line 0299\nheld at the end\n\[The run ended: completed\.\]\n$/);
  });

  it('touch makes the file newer, its text unchanged (an editor reads it again)', async () => {
    const f = new FollowedFile(path.join(dir, 'stdout.log'), '', 1000, 'the run folder', () => undefined);
    f.append('first\nsecond\n');
    await f.settled();
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(f.file, old, old);
    await f.touch();
    assert.strictEqual(fs.readFileSync(f.file, 'utf8'), 'first\nsecond\n');
    assert.ok(fs.statSync(f.file).mtimeMs > old.getTime() + 30_000, 'the modification time is now');
    await f.remove();
    await f.touch(); // a removed file: nothing to touch, no error
    assert.ok(!fs.existsSync(f.file));
  });
});
