/**
 * Agent bench (`npx tsx scripts/bench-agent.ts`, run by `bash scripts/bench.sh agent`), against
 * the test cluster (test/cluster/up.sh). Prints, counted in the same run:
 *   - SSH logins (sshd's own log) and remote commands per poll cycle for one window alone, then
 *     for three windows + 10 CLI calls, each without the agent (every process its own connection)
 *     and through the agent (one connection for all);
 *   - the added latency of one warm states call through the agent against the same call direct.
 * Windows and CLI calls are clients in this process (each its own socket to the agent, or its own
 * connection without it): what is counted is what reaches the cluster. Nothing is asserted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { AgentBackend } from '../src/core/agent/agentBackend';
import { AgentClient } from '../src/core/agent/agentClient';
import type { AgentStatus } from '../src/core/agent/agentProtocol';
import type { RunRef } from '../src/core/backend';
import { SlurmBackend } from '../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../src/core/backends/slurm/sshConnectionPool';
import type { SshPrompts } from '../src/core/sshPrompts';
import { clusterEnvPath, clusterSshProfile, loadClusterEnv } from '../test/cluster/clusterEnv';

const ROOT = path.resolve(__dirname, '..');
const prompts: SshPrompts = { passphrase: async () => undefined, password: async () => undefined, keyboardInteractive: async () => undefined, unknownHostKey: async () => false };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const cluster = loadClusterEnv();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'muse-bench-agent-'));
  const env = { ...process.env, MUSE_AGENT_DIR: path.join(tmp, 'agent'), MUSE_AGENT_SCRIPT: path.join(ROOT, 'dist', 'agent.js') };
  const profile = clusterSshProfile(cluster, tmp, { name: 'bench', remoteRoot: '~/muse-runs/bench-agent' });
  const sshdLog = path.join(path.dirname(clusterEnvPath()), 'log', 'sshd.log');
  const logins = (): number => readFileSync(sshdLog, 'utf8').split('\n').filter((l) => l.includes(`Accepted publickey for ${cluster.user} `)).length;
  // Three runs with made-up job ids: a poll asks sacct about them (one batched call) as about real ones.
  const runs: RunRef[] = [1, 2, 3].map((i) => ({ id: `r${i}`, key: `k${i}`, software: 'sw_example', request: { software: 'sw_example', cmd: 'true', files: [], filesOrder: [] }, raw: { jobId: String(999990 + i) } }) as unknown as RunRef);

  // --- without the agent: each window and each CLI call has its own connection ---
  const direct = async (windows: number, cliCalls: number): Promise<{ logins: number; perCycle: number }> => {
    const l0 = logins();
    const pools: SshConnectionPool[] = [];
    const make = (): SlurmBackend => {
      const pool = new SshConnectionPool();
      pools.push(pool);
      return new SlurmBackend(profile, prompts, pool);
    };
    const ws = Array.from({ length: windows }, make);
    for (const w of ws) await w.states(runs, { background: true });
    for (let i = 0; i < cliCalls; i++) {
      const b = make();
      await b.states(runs);
      await b.dispose();
    }
    // One poll cycle of every window (each polls: no agent, no shared connection).
    const c0 = (await Promise.all(ws.map((w) => w.connection()))).reduce((n, c) => n + c.commandCount, 0);
    await Promise.all(ws.map((w) => w.states(runs, { background: true })));
    const c1 = (await Promise.all(ws.map((w) => w.connection()))).reduce((n, c) => n + c.commandCount, 0);
    for (const w of ws) await w.dispose();
    for (const p of pools) p.dispose();
    return { logins: logins() - l0, perCycle: c1 - c0 };
  };

  // --- through the agent: one connection; the poll lease lets one window poll per cycle ---
  const viaAgent = async (windows: number, cliCalls: number): Promise<{ logins: number; perCycle: number; agentLogins: number }> => {
    const l0 = logins();
    const clients: AgentClient[] = [];
    const make = (kind: 'window' | 'cli'): AgentBackend => {
      const c = new AgentClient({ env, client: { kind, pid: process.pid } });
      clients.push(c);
      return new AgentBackend(profile, c, prompts);
    };
    const ws = Array.from({ length: windows }, () => make('window'));
    for (const w of ws) await w.states(runs, { background: true });
    for (let i = 0; i < cliCalls; i++) {
      const b = make('cli');
      await b.states(runs);
      clients[clients.length - 1].dispose();
    }
    const status = async (): Promise<AgentStatus> => (await new AgentClient({ env, autoStart: false }).status())!;
    const before = await status();
    // The poll lease holder polls; the other windows follow the run store.
    await ws[0].states(runs, { background: true });
    const after = await status();
    const commands = (s: AgentStatus): number => s.connections.reduce((n, c) => n + c.commands, 0);
    for (const c of clients) c.dispose();
    return { logins: logins() - l0, perCycle: commands(after) - commands(before), agentLogins: after.connections.reduce((n, c) => n + c.logins, 0) };
  };

  const stop = async (): Promise<void> => {
    await new AgentClient({ env, autoStart: false }).stop();
  };

  try {
    const d1 = await direct(1, 0);
    const d3 = await direct(3, 10);
    console.log(`${'without the agent: 1 window'.padEnd(52)} SSH logins ${String(d1.logins).padStart(3)}  remote commands per poll cycle ${d1.perCycle}`);
    console.log(`${'without the agent: 3 windows + 10 CLI calls'.padEnd(52)} SSH logins ${String(d3.logins).padStart(3)}  remote commands per poll cycle ${d3.perCycle}`);
    const a1 = await viaAgent(1, 0);
    await stop();
    const a3 = await viaAgent(3, 10);
    console.log(`${'through the agent: 1 window'.padEnd(52)} SSH logins ${String(a1.logins).padStart(3)}  remote commands per poll cycle ${a1.perCycle}`);
    console.log(`${'through the agent: 3 windows + 10 CLI calls'.padEnd(52)} SSH logins ${String(a3.logins).padStart(3)}  remote commands per poll cycle ${a3.perCycle}  (target: 1 login, same commands as 1 window)`);

    // Warm latency: one states call (one sacct) on an open connection, direct vs through the agent.
    const pool = new SshConnectionPool();
    const warmDirect = new SlurmBackend(profile, prompts, pool);
    const client = new AgentClient({ env, client: { kind: 'cli', pid: process.pid } });
    const warmAgent = new AgentBackend(profile, client, prompts);
    await warmDirect.states(runs);
    await warmAgent.states(runs);
    const td: number[] = [];
    const ta: number[] = [];
    for (let i = 0; i < 30; i++) {
      let t = performance.now();
      await warmDirect.states(runs);
      td.push(performance.now() - t);
      t = performance.now();
      await warmAgent.states(runs);
      ta.push(performance.now() - t);
    }
    const md = median(td);
    const ma = median(ta);
    console.log(`${'one warm states call (median of 30)'.padEnd(52)} direct ${md.toFixed(1)} ms  through the agent ${ma.toFixed(1)} ms  added ${(ma - md).toFixed(1)} ms`);
    await warmDirect.dispose();
    pool.dispose();
    client.dispose();
  } finally {
    await stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
