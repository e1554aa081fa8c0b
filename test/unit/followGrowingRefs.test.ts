// The links of a followed document that grows: the work per update follows the new text, not
// the document's size, and the links found are those of a scan of the whole text.
import * as assert from 'assert';
import { findRunFileRefs } from '../../src/core/failure/runFilePaths';
import { GrowingRefs, droppedOf } from '../../src/core/follow/growingRefs';
import type { GrowingText } from '../../src/core/follow/growingRefs';
import { OutputText } from '../../src/core/follow/outputText';

/** A document held as a string, as the link provider sees it. */
function doc(text: string): GrowingText {
  const nl = text.lastIndexOf('\n');
  const first = text.slice(0, text.indexOf('\n') + 1);
  const dropped = droppedOf(first);
  return { bodyStart: dropped === undefined ? 0 : first.length, dropped: dropped ?? 0, lastLineStart: nl + 1, length: text.length, read: (a, b) => text.slice(a, b) };
}

describe('core: links of a followed document that grows', () => {
  const sent = ['add.py', 'sub/add.py'];
  const block = `${'x'.repeat(99)}\n`.repeat(1000); // 100 KB of lines naming no file

  it('reads only the new lines at each update, however long the document already is', () => {
    const g = new GrowingRefs(sent);
    let text = 'head\n';
    const perUpdate: number[] = [];
    for (let i = 0; i < 30; i++) {
      text += block + `  File "/r/KEY/sub/add.py", line ${i + 1}, in f\nprogress ${i}`;
      const before = g.readChars;
      g.refs(doc(text), '/r/KEY');
      perUpdate.push(g.readChars - before);
      text = text.replace(/progress \d+$/, `progress ${i} done\n`);
    }
    // The document reached 3 MB; each update read about the 100 KB appended, never the whole.
    assert.ok(text.length > 3_000_000);
    for (const n of perUpdate) assert.ok(n < block.length + 200, `one update read ${n} characters`);
  });

  it('finds the same links as a scan of the whole text, and starts again when the start changes', () => {
    const g = new GrowingRefs(sent);
    let text = 'head\nTraceback:\n  File "/r/KEY/sub/add.py", line 4, in <module>\nsee add.py:';
    g.refs(doc(text), '/r/KEY');
    text += '12 and lib/other.py:3\n' + block + 'then add.py:7';
    assert.deepStrictEqual(g.refs(doc(text), '/r/KEY'), findRunFileRefs(text, sent, '/r/KEY'));
    // The kept part was trimmed (its first 60 characters dropped, a line says so): the links found
    // are moved, not searched again.
    const trimmed = `[60 earlier characters not shown: the whole file is there]\n${text.slice(60)}`;
    const before = g.readChars;
    assert.deepStrictEqual(g.refs(doc(trimmed), '/r/KEY'), findRunFileRefs(trimmed, sent, '/r/KEY'));
    assert.ok(g.readChars - before < 100, `${g.readChars - before} characters read again after the trim`);
    // Replaced by another text (shorter than what was scanned): searched again.
    const other = 'add.py:1\nadd.py:2\n';
    assert.deepStrictEqual(g.refs(doc(other), '/r/KEY'), findRunFileRefs(other, sent, '/r/KEY'));
  });

  it('finds paths next to long words, as before (matches start only where a path can start)', () => {
    const text = `${'y'.repeat(5000)} add.py:3 ${'z'.repeat(5000)}sub/add.py:4 (sub/add.py) x.add.py`;
    const refs = findRunFileRefs(text, sent);
    assert.deepStrictEqual(refs.map((r) => [r.name, r.line, text.slice(r.start, r.end)]), [
      ['add.py', 3, 'add.py:3'],
      ['sub/add.py', undefined, 'sub/add.py'],
    ]);
  });
});

describe('core: followed output text without carriage returns', () => {
  it('gives the same text chunk by chunk as line by line, controls shown, the unfinished line marked', () => {
    const t = new OutputText();
    assert.strictEqual(t.push(Buffer.from('a\x1bb\nunfinished')), 'a\u241bb\nunfinished');
    assert.strictEqual(t.inLine, true);
    assert.strictEqual(t.push(Buffer.from(' line\n')), ' line\n');
    assert.strictEqual(t.inLine, false);
    // A carriage return after plain chunks still collapses its line.
    assert.strictEqual(t.push(Buffer.from('10%\r100%\n')), '100%\n');
  });
});
