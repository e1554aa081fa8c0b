/**
 * The agent process's entry (bundled as dist/agent.js, started detached by the first client that
 * finds no agent: see agentStart.ts). Reads its settings from the environment:
 * `MUSE_AGENT_DIR` (the socket folder), `MUSE_AGENT_IDLE_MS` (exit after this long with no client
 * and no connection), `MUSE_AGENT_KEEP_MS` (close a connection unused this long).
 */
import { appendFileSync } from 'fs';
import { AgentServer } from './agentServer';
import { agentLogPath, agentSocketPath, ensureAgentDir } from '../core/agent/agentPaths';
import { errorMessage, isMuseError } from '../core/errors';

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

async function main(): Promise<void> {
  const env = process.env;
  await ensureAgentDir(env);
  const logFile = agentLogPath(env);
  // The agent has no terminal and no window: a small log of its own, written synchronously (it
  // serves nothing while logging, and a SIGKILL must not lose the line before it).
  const log = (line: string): void => {
    try {
      appendFileSync(logFile, line + '\n', { mode: 0o600 });
    } catch {
      // no log is better than no agent
    }
  };
  const server = new AgentServer({
    socketPath: agentSocketPath(env),
    idleMs: positive(env.MUSE_AGENT_IDLE_MS),
    keepMs: positive(env.MUSE_AGENT_KEEP_MS),
    log,
    onClosed: () => process.exit(0),
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void server.close(sig));
  try {
    await server.listen();
  } catch (e) {
    log(`not started: ${errorMessage(e)}`);
    // Another agent answers: this one is not needed (two starters end with one agent).
    process.exit(isMuseError(e, 'usage') ? 0 : 1);
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`muse agent: ${errorMessage(e)}\n`);
  process.exit(1);
});
