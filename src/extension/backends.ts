import type * as vscode from 'vscode';
import type { AgentClient } from '../core/agent/agentClient';
import type { AgentUnavailableError } from '../core/agent/agentUnavailable';
import type { Backend } from '../core/backend';
import { MuseError } from '../core/errors';
import type { SshPrompts } from '../core/sshPrompts';
import { SshConnectionPool } from '../core/backends/slurm/sshConnectionPool';
import type { Profile } from '../core/profiles';
import type { Log } from './log';
import type { Secrets } from './secrets';
import type { Settings } from './settings';
import { loadCore } from './coreBundle';
import { isUserInitiated } from './userGesture';

/**
 * One backend per profile, made on first use (the backend code is loaded lazily: activation
 * stays light) and dropped when its profile's settings change.
 */
export class Backends implements vscode.Disposable {
  private readonly cache = new Map<string, { sig: string; backend: Promise<Backend> }>();
  private readonly sub: vscode.Disposable;
  /** The window's SSH connections, shared by its ssh backends (one per target), closed on dispose. */
  private readonly sshPool = new SshConnectionPool();
  /** The window's link to the per-user agent, made with the first SSH backend while `muse.agent.enabled`. */
  private agent?: AgentClient;

  /**
   * @param onAgentUnavailable told when the agent cannot be used and the window logs in by
   *   itself (a version mismatch is worth showing once)
   * @param onAgentLost told when the agent this window used went away (with its logins)
   */
  constructor(
    private readonly settings: Settings,
    private readonly secrets: Secrets,
    private readonly sshPrompts: SshPrompts,
    private readonly log: Log,
    private readonly onAgentUnavailable?: (why: AgentUnavailableError, profile: string) => void,
    private readonly onAgentLost?: () => void,
  ) {
    this.sub = settings.onDidChange(() => {
      for (const [name, entry] of this.cache) {
        const p = settings.profile(name);
        if (!p || this.signature(p) !== entry.sig) this.drop(name);
      }
    });
  }

  /** The window's SSH connections (Test Connection logs in through them too). */
  get sshConnections(): SshConnectionPool {
    return this.sshPool;
  }

  /** The backend of a profile (by name or the profile itself). */
  async get(profile: Profile | string): Promise<Backend> {
    const p = typeof profile === 'string' ? this.settings.profile(profile) : profile;
    if (!p) {
      throw new MuseError('usage', `No profile named "${String(profile)}" in the muse.profiles setting.`);
    }
    const sig = this.signature(p);
    const hit = this.cache.get(p.name);
    if (hit && hit.sig === sig) return hit.backend;
    if (hit) this.drop(p.name);
    // A promise (not a sync call) so a failed load or creation is cached nowhere and reported to the caller.
    const backend = Promise.resolve().then(() => {
      const { createBackend, AgentClient } = loadCore();
      const viaAgent = p.kind === 'ssh' && this.settings.agentEnabled;
      this.log.info(`backend for profile "${p.name}" (${p.kind}${viaAgent ? ', through the Muse agent' : ''})`);
      if (viaAgent) {
        this.agent ??= new AgentClient({
          client: { kind: 'window', pid: process.pid },
          // Read at each start: a changed setting applies to the next agent (muse agent stop applies it now).
          startEnv: () => ({ MUSE_AGENT_KEEP_MS: String(this.settings.agentIdleMinutes * 60_000) }),
          log: (line) => this.log.info(line),
          // The window's one rule: what the user did not ask for right now never prompts.
          isBackground: () => !isUserInitiated(),
          onLost: () => {
            this.log.info('the Muse agent went away (its logins with it)');
            this.onAgentLost?.();
          },
        });
      }
      return createBackend(p, {
        getToken: async (name: string) => this.secrets.getToken(name),
        sshPrompts: this.sshPrompts,
        sshPool: this.sshPool,
        sshAgent: viaAgent ? this.agent : undefined,
        onAgentUnavailable: (why, profile) => {
          this.log.warn(`profile "${profile}": ${why.message} This window logs in by itself.`);
          this.onAgentUnavailable?.(why, profile);
        },
        asyncFileWrites: true,
      });
    });
    this.cache.set(p.name, { sig, backend });
    // A failed creation is not cached: the next call tries again (settings may have been fixed).
    backend.catch(() => {
      if (this.cache.get(p.name)?.backend === backend) this.cache.delete(p.name);
    });
    return backend;
  }

  /** What a cached backend was made from: its profile, and for SSH whether the agent is on. */
  private signature(p: Profile): string {
    return JSON.stringify(p) + (p.kind === 'ssh' ? `#agent=${this.settings.agentEnabled}` : '');
  }

  private drop(name: string): void {
    const entry = this.cache.get(name);
    this.cache.delete(name);
    void entry?.backend.then((b) => b.dispose?.()).catch(() => undefined);
  }

  dispose(): void {
    this.sub.dispose();
    for (const name of [...this.cache.keys()]) this.drop(name);
    // After the drops: a backend still being made lets go of nothing, its connection closes here.
    this.sshPool.dispose();
    // The agent goes on for the other windows and CLI calls; only this window's link closes.
    this.agent?.dispose();
  }
}
