import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { askpassProgram } from '../../src/cli/askpass';
import { formatBytes, progressLine, sleep, terminalSshPrompts } from '../../src/cli/terminal';
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

  describe('keyboard-interactive questions (two-factor codes) without a terminal', () => {
    const codeQuestion = [{ prompt: 'Verification code: ', echo: false }];

    it('uses SSH_ASKPASS as ssh does: with no terminal, or when required; never with "never"', () => {
      assert.strictEqual(askpassProgram({}, false), undefined);
      assert.strictEqual(askpassProgram({ SSH_ASKPASS: '/bin/ap' }, false), '/bin/ap');
      assert.strictEqual(askpassProgram({ SSH_ASKPASS: '/bin/ap' }, true), undefined);
      assert.strictEqual(askpassProgram({ SSH_ASKPASS: '/bin/ap', SSH_ASKPASS_REQUIRE: 'force' }, true), '/bin/ap');
      assert.strictEqual(askpassProgram({ SSH_ASKPASS: '/bin/ap', SSH_ASKPASS_REQUIRE: 'never' }, false), undefined);
    });

    it('fails with an error naming the question and how to answer it', async () => {
      const t = io(false);
      await assert.rejects(terminalSshPrompts(t.io).keyboardInteractive('', '', codeQuestion), (e: unknown) => {
        assert.ok(isMuseError(e, 'auth'));
        assert.match((e as Error).message, /asks "Verification code:".*not a terminal.*SSH_ASKPASS/s);
        return true;
      });
    });

    it('answers with the SSH_ASKPASS program, which gets the question as its argument', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-askpass-'));
      try {
        const program = path.join(dir, 'askpass');
        fs.writeFileSync(program, `#!/bin/sh\nprintf '%s' "$1" >${JSON.stringify(path.join(dir, 'asked'))}\necho 123456\n`, { mode: 0o755 });
        const t = io(false);
        t.io.env = { PATH: process.env.PATH, SSH_ASKPASS: program };
        assert.deepStrictEqual(await terminalSshPrompts(t.io).keyboardInteractive('', '', codeQuestion), ['123456']);
        assert.strictEqual(fs.readFileSync(path.join(dir, 'asked'), 'utf8'), 'Verification code: ');
        // A program that exits non-zero declines (the login then fails as refused).
        fs.writeFileSync(program, '#!/bin/sh\nexit 1\n');
        assert.strictEqual(await terminalSshPrompts(t.io).keyboardInteractive('', '', codeQuestion), undefined);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
