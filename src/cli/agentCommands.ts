/** `muse agent status|stop`: the per-user agent that holds the SSH connections (see src/agent). */
import type { Command } from 'commander';
import { formatDuration } from '../core/usage/usageText';
import type { CliContext } from './context';

export function registerAgentCommands(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  const agent = program.command('agent').description('the per-user agent holding one SSH connection per cluster for every window and muse call');

  agent
    .command('status')
    .description('whether the agent runs: pid, protocol version, uptime, socket, clients, connections held')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const client = ctx.agent(false);
      try {
        const s = await client.status();
        if (!s) {
          ctx.json({ running: false, socket: client.socketPath });
          ctx.out(`not running (socket ${client.socketPath}); the next SSH operation starts it`);
          return;
        }
        const now = Date.now();
        ctx.json({ running: true, ...s });
        ctx.out(`running: pid ${s.pid}, protocol ${s.version}, up ${formatDuration((now - s.startedAt) / 1000)}`);
        ctx.out(`socket: ${s.socket}`);
        // The status call's own connection is one of the clients: not worth listing.
        const others = s.clients.filter((c) => c.pid !== process.pid);
        ctx.out(`clients: ${others.length}${others.map((c) => `\n  ${c.kind} pid ${c.pid}, for ${formatDuration((now - c.connectedAt) / 1000)}`).join('')}`);
        ctx.out(`connections: ${s.connections.length}`);
        for (const c of s.connections) {
          const age = c.connected && c.since ? `open for ${formatDuration((now - c.since) / 1000)}` : 'closed (opened again when needed)';
          ctx.out(`  ${c.target} (${c.profiles.join(', ')}): ${age}, ${c.logins} login${c.logins === 1 ? '' : 's'}, ${c.commands} remote command${c.commands === 1 ? '' : 's'}`);
        }
      } finally {
        client.dispose();
      }
    });

  agent
    .command('stop')
    .description('stops the agent (its connections close; the next SSH operation starts it again)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const client = ctx.agent(false);
      try {
        const r = await client.stop();
        ctx.json({ stopped: r !== undefined, pid: r?.pid });
        ctx.out(r ? `stopped the agent (pid ${r.pid})` : 'the agent was not running');
      } finally {
        client.dispose();
      }
    });
}
