import type * as vscode from 'vscode';
import type { Backend } from '../core/backend';
import { MuseError } from '../core/errors';
import type { SshPrompts } from '../core/sshPrompts';
import { SshConnectionPool } from '../core/backends/slurm/sshConnectionPool';
import type { Profile } from '../core/profiles';
import type { Log } from './log';
import type { Secrets } from './secrets';
import type { Settings } from './settings';
import { loadCore } from './coreBundle';

/**
 * One backend per profile, made on first use (the backend code is loaded lazily: activation
 * stays light) and dropped when its profile's settings change.
 */
export class Backends implements vscode.Disposable {
  private readonly cache = new Map<string, { sig: string; backend: Promise<Backend> }>();
  private readonly sub: vscode.Disposable;
  /** The window's SSH connections, shared by its ssh backends (one per target), closed on dispose. */
  private readonly sshPool = new SshConnectionPool();

  constructor(
    private readonly settings: Settings,
    private readonly secrets: Secrets,
    private readonly sshPrompts: SshPrompts,
    private readonly log: Log,
  ) {
    this.sub = settings.onDidChange(() => {
      for (const [name, entry] of this.cache) {
        const p = settings.profile(name);
        if (!p || JSON.stringify(p) !== entry.sig) this.drop(name);
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
    const sig = JSON.stringify(p);
    const hit = this.cache.get(p.name);
    if (hit && hit.sig === sig) return hit.backend;
    if (hit) this.drop(p.name);
    // A promise (not a sync call) so a failed load or creation is cached nowhere and reported to the caller.
    const backend = Promise.resolve().then(() => {
      const { createBackend } = loadCore();
      this.log.info(`backend for profile "${p.name}" (${p.kind})`);
      return createBackend(p, {
        getToken: async (name: string) => this.secrets.getToken(name),
        sshPrompts: this.sshPrompts,
        sshPool: this.sshPool,
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
  }
}
