import * as assert from 'assert';
import { KeptText } from '../../src/core/follow/keptText';
import { OutputText } from '../../src/core/follow/outputText';

describe('core: followed output made into text', () => {
  it('decodes UTF-8 split across chunks, and shows invalid bytes as replacement characters', () => {
    const t = new OutputText();
    const bytes = Buffer.from('é€\n', 'utf8');
    let out = '';
    for (const b of bytes) out += t.push(Buffer.from([b]));
    out += t.push(Buffer.from([0xff, 0x41, 0x0a]));
    assert.strictEqual(out, 'é€\n\uFFFDA\n');
  });

  it('collapses carriage-return progress lines to their last state, keeps CRLF lines', () => {
    const t = new OutputText();
    let out = t.push(Buffer.from('start\r\n10%\r50%'));
    assert.strictEqual(out, 'start\n', 'a line still being rewritten is held back');
    out += t.push(Buffer.from('\r100%\ndone'));
    out += t.end();
    assert.strictEqual(out, 'start\n100%\ndone');
  });

  it('shows terminal escape sequences as text, never as control bytes', () => {
    const out = new OutputText().push(Buffer.from('\x1b[31mred\x1b[0m\tok\x07\n'));
    assert.strictEqual(out, '\u241b[31mred\u241b[0m\tok\u2407\n');
  });

  it('keeps the last part past its limit, under a line naming the whole file', () => {
    const k = new KeptText(100, '/r/KEY/__WS__stdout.txt on the cluster');
    for (let i = 0; i < 50; i++) k.append(`line ${i}\n`);
    assert.ok(k.text.startsWith('[') && k.text.split('\n')[0]!.includes('/r/KEY/__WS__stdout.txt on the cluster'));
    assert.ok(k.text.endsWith('line 49\n'));
    assert.ok(k.text.length < 100 + 80);
    assert.match(k.text.split('\n')[1]!, /^line \d+$/, 'cut at a line start');
  });
});
