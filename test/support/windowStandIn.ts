/**
 * A stand-in for one VS Code window in the 2FA tests and bench: a process that asks a profile's
 * backend for the states of some runs, as a window's poller does, with the SSH questions answered
 * by a TOTP "user" that logs each question (time, this process's PID, prompt) to a file.
 *
 *   node windowStandIn.js CONFIG.json   -> prints one JSON line: { pid, ok, errors }
 *
 * CONFIG: { profile, runs: RunRef[], secret, asksLog, calls, background?, viaAgent? }. Each call
 * is one foreground `states` (or background: the agent must not ask then), all through one
 * backend, as one window keeps one for its lifetime: its own SSH connection, or the per-user
 * agent's (`viaAgent`, the agent of MUSE_AGENT_DIR).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { AgentBackend } from '../../src/core/agent/agentBackend';
import { AgentClient } from '../../src/core/agent/agentClient';
import type { Backend, RunRef } from '../../src/core/backend';
import { createBackend } from '../../src/core/backends/factory';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import { errorMessage, isMuseError } from '../../src/core/errors';
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
  viaAgent?: boolean;
}

/** What the stand-in prints. */
export interface WindowStandInResult {
  pid: number;
  /** Calls that got every state. */
  ok: number;
  errors: string[];
  /** Errors that said the cluster needs a sign-in (a background call that would have asked). */
  needsSignIn: number;
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
  const user = totpUser(cfg.secret, cfg.asksLog);
  const agent = cfg.viaAgent ? new AgentClient({ client: { kind: 'window', pid: process.pid } }) : undefined;
  const backend: Backend = agent ? new AgentBackend(cfg.profile, agent, user) : createBackend(cfg.profile, { getToken: async () => undefined, sshPrompts: user, sshPool: pool });
  const errors: string[] = [];
  let ok = 0;
  let signIn = 0;
  const failed = (e: unknown): void => {
    errors.push(errorMessage(e));
    if (isMuseError(e, 'auth') && e.details.needsSignIn) signIn++;
  };
  for (let i = 0; i < cfg.calls; i++) {
    try {
      const answers = await backend.states(cfg.runs, { background: cfg.background });
      const bad = [...answers.values()].find((a): a is Error => a instanceof Error);
      if (bad) failed(bad);
      else ok++;
    } catch (e) {
      failed(e);
    }
  }
  await backend.dispose?.();
  agent?.dispose();
  pool.dispose();
  const result: WindowStandInResult = { pid: process.pid, ok, errors, needsSignIn: signIn };
  process.stdout.write(JSON.stringify(result) + '\n');
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
