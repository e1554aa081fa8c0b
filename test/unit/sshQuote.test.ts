import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { shellCommand, shellPath, shellQuote } from '../../src/core/shellQuote';
import { isMuseError } from '../../src/core/errors';

/** Hostile arguments: each must reach the program byte for byte. */
const HOSTILE = [
  'plain',
  'with space',
  "it's",
  '"double"',
  '$(touch /tmp/muse-pwned)',
  '`touch /tmp/muse-pwned`',
  '${HOME}',
  'a;b|c&d>e<f',
  'line1\nline2',
  'tab\there',
  'back\\slash',
  'né ünïcödé 日本 🎉',
  '-rf',
  '*',
  '',
  "'",
  "''\\''",
  '!history',
];

function echoThrough(shell: string, args: string[]): string[] {
  // The quoted line runs in a real shell, which prints each argument NUL-terminated.
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${args.map(shellQuote).join(' ')}`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

describe('shell quoting of remote command arguments', () => {
  for (const shell of ['/bin/sh', '/bin/bash', '/usr/bin/dash']) {
    it(`every hostile argument survives ${shell} intact`, () => {
      assert.deepStrictEqual(echoThrough(shell, HOSTILE), HOSTILE);
    });
  }

  it('leaves simple words unquoted and quotes the rest', () => {
    assert.strictEqual(shellQuote('sacct'), 'sacct');
    assert.strictEqual(shellQuote('--format=JobID,State'), '--format=JobID,State');
    assert.strictEqual(shellQuote('a b'), "'a b'");
    assert.strictEqual(shellQuote(''), "''");
    assert.strictEqual(shellCommand(['scancel', '12']), 'scancel 12');
  });

  it('refuses a NUL byte with a clear error', () => {
    assert.throws(() => shellQuote('a\0b'), (e: unknown) => isMuseError(e, 'refused') && /NUL/.test((e as Error).message));
  });

  it('keeps ~/ outside the quotes so the remote shell expands it', () => {
    assert.strictEqual(shellPath('~/muse runs'), "~/'muse runs'");
    const home = execFileSync('/bin/sh', ['-c', `printf %s ${shellPath('~/x y')}`], { env: { HOME: '/h' } }).toString();
    assert.strictEqual(home, '/h/x y');
  });
});
