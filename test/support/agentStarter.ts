/**
 * A client process of the agent (a window or a CLI call starting it): connects to the agent of
 * `MUSE_AGENT_DIR`, starting it when none answers, and prints the agent's pid.
 */
import { AgentClient } from '../../src/core/agent/agentClient';

const client = new AgentClient({ client: { kind: 'test', pid: process.pid } });
client.ensureRunning().then(
  (pid) => {
    process.stdout.write(`${pid}\n`);
    client.dispose();
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
