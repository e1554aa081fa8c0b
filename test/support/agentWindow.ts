/**
 * A client process standing for a VS Code window: polls the states of the given runs through
 * the agent of `MUSE_AGENT_DIR` (background calls, as the window's poller makes them), `count`
 * times, and prints the last answer as JSON (`{ runId: state | "error: ..." }`).
 * Arguments: the SSH profile (JSON), the run refs (JSON), count.
 */
import { AgentBackend } from '../../src/core/agent/agentBackend';
import { AgentClient } from '../../src/core/agent/agentClient';
import type { RunRef } from '../../src/core/backend';
import type { SshProfile } from '../../src/core/profiles';
import type { SshPrompts } from '../../src/core/sshPrompts';

const [profileJson, runsJson, countText] = process.argv.slice(2);
const refuse: SshPrompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };
const client = new AgentClient({ client: { kind: 'window', pid: process.pid } });
const backend = new AgentBackend(JSON.parse(profileJson) as SshProfile, client, refuse);

async function main(): Promise<void> {
  let last = new Map<string, unknown>();
  for (let i = 0; i < Number(countText || 1); i++) last = await backend.states(JSON.parse(runsJson) as RunRef[], { background: true });
  const out: Record<string, string> = {};
  for (const [id, v] of last) out[id] = v instanceof Error ? `error: ${v.message}` : (v as { state: string }).state;
  process.stdout.write(JSON.stringify(out) + '\n');
  client.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
