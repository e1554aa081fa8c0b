import * as assert from 'assert';
import { PassThrough, Readable } from 'stream';
import { formatBytes, progressLine, sleep } from '../../src/cli/terminal';
import type { CliIo } from '../../src/cli/terminal';
import { isMuseError } from '../../src/core/errors';

function io(tty: boolean): { io: CliIo; err: () => string } {
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 60 });
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  return {
    io: { stdout: new PassThrough(), stderr, stdin: Readable.from(['']), env: {}, cwd: '/', signal: new AbortController().signal },
    err: () => text,
  };
}

describe('muse CLI: terminal helpers', () => {
  it('formats sizes', () => {
    assert.deepStrictEqual([0, 1023, 1024, 1536, 10 * 1024 * 1024, 5 * 1024 ** 3].map(formatBytes), ['0 B', '1023 B', '1.0 KB', '1.5 KB', '10 MB', '5.0 GB']);
  });

  it('shows upload/download bytes on a TTY, and erases the line at the end', () => {
    const t = io(true);
    const p = progressLine(t.io, true);
    p.onProgress({ phase: 'upload', file: 'data.zip', done: 2048, total: 4096 });
    p.onProgress({ phase: 'upload', file: 'data.zip', done: 4096, total: 4096 });
    p.end();
    assert.match(t.err(), /\r\x1b\[Kupload data\.zip: 2\.0 KB \/ 4\.0 KB/);
    assert.match(t.err(), /4\.0 KB \/ 4\.0 KB/);
    assert.ok(t.err().endsWith('\r\x1b[K'));
  });

  it('writes no progress when stderr is not a TTY, or with --quiet', () => {
    const a = io(false);
    progressLine(a.io, true).onProgress({ phase: 'download', done: 10 });
    const b = io(true);
    progressLine(b.io, false).onProgress({ phase: 'download', done: 10 });
    assert.strictEqual(a.err() + b.err(), '');
  });

  it('stops waiting at once on Ctrl-C', async () => {
    const ac = new AbortController();
    const p = sleep(60000, ac.signal);
    ac.abort();
    await assert.rejects(p, (e: unknown) => isMuseError(e, 'cancelled'));
  });
});
