/**
 * A stand-in for one VS Code window in the 2FA tests and bench: a process that asks a profile's
 * backend for the states of some runs, as a window's poller does, with the SSH questions answered
 * by a TOTP "user" that logs each question (time, this process's PID, prompt) to a file.
 *
 *   node windowStandIn.js CONFIG.json   -> prints one JSON line: { pid, ok, errors }
 *
 * CONFIG: { profile, runs: RunRef[], secret, asksLog, calls, background? }. Each call is one
 * foreground `states` (or background: the agent must not ask then), all through one backend, as
 * one window keeps one for its lifetime.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { RunRef } from '../../src/core/backend';
import { createBackend } from '../../src/core/backends/factory';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import { errorMessage } from '../../src/core/errors';
import type { SshProfile } from '../../src/core/profiles';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { totp } from './totp';

/** What the stand-in is told to do. */
export interface WindowStandInConfig {
  profile: SshProfile;
  runs: RunRef[];
  secret: string;
  asksLog: string;
  calls: number;
  background?: boolean;
}

/** The window's user: answers a code from the secret, logging the question. */
export function totpUser(secret: string, asksLog: string): SshPrompts {
  return {
    passphrase: async () => undefined,
    password: async () => undefined,
    keyboardInteractive: async (_name, _instructions, prompts) => {
      appendFileSync(asksLog, `${Date.now()} ${process.pid} ${prompts.map((p) => p.prompt).join(' | ')}\n`);
      return prompts.map(() => totp(secret));
    },
    unknownHostKey: async () => false,
  };
}

async function main(): Promise<void> {
  const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as WindowStandInConfig;
  const pool = new SshConnectionPool();
  const backend = createBackend(cfg.profile, { getToken: async () => undefined, sshPrompts: totpUser(cfg.secret, cfg.asksLog), sshPool: pool });
  const errors: string[] = [];
  let ok = 0;
  for (let i = 0; i < cfg.calls; i++) {
    try {
      const answers = await backend.states(cfg.runs, { background: cfg.background } as Parameters<typeof backend.states>[1]);
      const failed = [...answers.values()].find((a): a is Error => a instanceof Error);
      if (failed) errors.push(errorMessage(failed));
      else ok++;
    } catch (e) {
      errors.push(errorMessage(e));
    }
  }
  await backend.dispose?.();
  pool.dispose();
  process.stdout.write(JSON.stringify({ pid: process.pid, ok, errors }) + '\n');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${errorMessage(e)}\n`);
      process.exit(1);
    },
  );
}
