/**
 * An SSH_ASKPASS program for tests and benches: answers the 2FA sshd's question with the TOTP
 * code of the test secret and logs each question it was asked (time, asking process, prompt),
 * so a test can count the codes asked and see who was asked.
 *
 *   writeTotpAskpass(dir, secret, log) -> the program's path, for SSH_ASKPASS
 */
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { shellCommand } from '../../src/core/shellQuote';
import { repoRoot } from './repoRoot';
import { totp } from './totp';

/** One line of the log: who was asked what, when. */
export interface AskpassEntry {
  timeMs: number;
  /** PID of the process that ran the askpass program (the CLI or the client that asked). */
  askerPid: number;
  prompt: string;
}

/** Writes an executable askpass wrapper in `dir` and returns its path. */
export function writeTotpAskpass(dir: string, secretBase32: string, logFile: string): string {
  const secretFile = path.join(dir, 'totp-secret');
  writeFileSync(secretFile, secretBase32, { mode: 0o600 });
  // Compiled (out/, mocha) this file is .js; under tsx (benches) it is .ts and needs tsx's hook.
  const node = __filename.endsWith('.ts')
    ? [process.execPath, '--require', path.join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs'), __filename]
    : [process.execPath, __filename];
  const program = path.join(dir, 'totp-askpass');
  writeFileSync(program, `#!/bin/sh\nexec ${shellCommand([...node, secretFile, logFile])} "$@"\n`);
  chmodSync(program, 0o755);
  return program;
}

/** The entries of an askpass log (none when nothing was asked yet). */
export function readAskpassLog(text: string): AskpassEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [t, pid, ...rest] = l.split(' ');
      return { timeMs: Number(t), askerPid: Number(pid), prompt: rest.join(' ') };
    });
}

if (require.main === module) {
  const [secretFile, logFile, prompt = ''] = process.argv.slice(2);
  const secret = readFileSync(secretFile, 'utf8').trim();
  appendFileSync(logFile, `${Date.now()} ${process.ppid} ${prompt.replace(/\n/g, ' ')}\n`);
  process.stdout.write(totp(secret) + '\n');
}
