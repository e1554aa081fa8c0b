/**
 * Starting the agent on demand, for a client that found none answering: it takes the start lock,
 * looks again (another client may have just started one), removes a socket nobody answers on (a
 * crashed agent's), starts the agent detached, and waits for its socket with a deadline. Two
 * clients starting at once end with one agent.
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import { errorMessage } from '../errors';
import type { AgentLink } from './agentLink';
import { agentDir, agentScriptPath, agentSocketPath, agentStartLockPath, ensureAgentDir } from './agentPaths';
import { AgentUnavailableError, nobodyThere, unreachableError } from './agentUnavailable';

/** How a client starts the agent (part of `AgentClientOptions`; read at each start). */
export interface AgentStartOptions {
  /** The node binary to start the agent with (default `process.execPath`, with ELECTRON_RUN_AS_NODE=1). */
  execPath?: string;
  /** More environment for a started agent (`MUSE_AGENT_KEEP_MS` from the settings), read at each start. */
  startEnv?: Record<string, string> | (() => Record<string, string>);
  /** How long to wait for a started agent's socket (default 10 s). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Under the start lock: connects with `connect` if an agent answers by now, else replaces a stale
 * socket at `path`, starts the agent and connects once its socket answers (or the deadline passes).
 */
export async function startAgentAndConnect(
  path: string,
  env: NodeJS.ProcessEnv,
  opts: AgentStartOptions,
  connect: () => Promise<AgentLink>,
): Promise<AgentLink> {
  try {
    await ensureAgentDir(env);
  } catch (e) {
    throw new AgentUnavailableError('io', errorMessage(e), { notSent: true, cause: e });
  }
  const { lock } = require('proper-lockfile') as typeof import('proper-lockfile');
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lock(agentStartLockPath(env), { realpath: false, stale: 15_000, retries: { retries: 100, minTimeout: 20, maxTimeout: 200, randomize: true } });
  } catch (e) {
    throw new AgentUnavailableError('io', `Cannot take the Muse agent's start lock: ${errorMessage(e)}.`, { cause: e, notSent: true });
  }
  try {
    // Someone may have started it while we waited for the lock.
    try {
      return await connect();
    } catch (e) {
      if (!nobodyThere(e)) throw unreachableError(agentSocketPath(env), e);
      // A socket file nobody answers on: a crashed agent's. Ours replaces it.
      if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' && process.platform !== 'win32') await fs.unlink(path).catch(() => undefined);
    }
    await spawnAgent(env, opts);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    for (;;) {
      try {
        return await connect();
      } catch (e) {
        if (!nobodyThere(e) || Date.now() > deadline) throw unreachableError(agentSocketPath(env), e, 'it did not answer after being started');
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } finally {
    await release().catch(() => undefined);
  }
}

/** Starts the agent program (`agent.js` beside this one) detached, in the agent's own folder. */
async function spawnAgent(env: NodeJS.ProcessEnv, opts: AgentStartOptions): Promise<void> {
  const script = await agentScriptPath(env);
  if (!script) throw new AgentUnavailableError('io', 'The Muse agent program (agent.js) is not installed beside this one.', { notSent: true });
  const execPath = opts.execPath ?? process.execPath;
  opts.log?.(`starting the Muse agent: ${execPath} ${script}`);
  // ELECTRON_RUN_AS_NODE: in VS Code the extension host's execPath is the editor itself.
  const child = spawn(execPath, [script], {
    detached: true,
    // Not the caller's folder: a long-lived process must not keep a workspace (or a mount) busy.
    cwd: agentDir(env),
    stdio: 'ignore',
    windowsHide: true,
    env: { ...env, ...(typeof opts.startEnv === 'function' ? opts.startEnv() : opts.startEnv), ELECTRON_RUN_AS_NODE: '1' },
  });
  child.on('error', (e) => opts.log?.(`the Muse agent could not start: ${errorMessage(e)}`));
  child.unref();
}
