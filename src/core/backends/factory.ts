/**
 * Makes the backend for a profile. The only place that knows the three backend classes, so
 * that callers (CLI, extension, poller) deal with the `Backend` interface alone.
 */
import type { AgentClient } from '../agent/agentClient';
import type { AgentUnavailableError } from '../agent/agentUnavailable';
import type { Backend } from '../backend';
import { MuseError } from '../errors';
import { localRunsDir } from '../paths';
import type { Profile } from '../profiles';
import type { SshPrompts } from '../sshPrompts';
import type { SshConnectionPool } from './slurm/sshConnectionPool';

export interface BackendDeps {
  /** The ws token of a profile (secret storage, token file, env), undefined when signed out. */
  getToken: (profileName: string) => Promise<string | undefined>;
  /** How the SSH layer asks the user (passphrases, host keys); required for ssh profiles. */
  sshPrompts?: SshPrompts;
  /** The process's shared SSH connections (its maker disposes it); required for ssh profiles. */
  sshPool?: SshConnectionPool;
  /**
   * The per-user agent (src/agent): when given, SSH profiles go through it (one connection per
   * target for every window and CLI call); when it cannot be used, through `sshPool` here.
   */
  sshAgent?: AgentClient;
  /** Told once per backend when the agent cannot be used and this process logs in by itself. */
  onAgentUnavailable?: (why: AgentUnavailableError, profileName: string) => void;
  /** Downloads never write synchronously (the extension host); the CLI's default keeps its flat-memory raw GET. */
  asyncFileWrites?: boolean;
}

/** A new backend for `profile`. Throws an `unsupported` MuseError for a kind not available. */
export function createBackend(profile: Profile, deps: BackendDeps): Backend {
  switch (profile.kind) {
    // Each backend is required when made: a command loads only its own (ssh2 alone is ~13 MB of RSS).
    case 'ws': {
      const { WsBackend } = require('./ws/wsBackend') as typeof import('./ws/wsBackend');
      const name = profile.name;
      return new WsBackend({ baseUrl: profile.url, getToken: () => deps.getToken(name), timeoutMs: profile.timeoutMs, asyncFileWrites: deps.asyncFileWrites });
    }
    case 'ssh':
      if (!deps.sshPrompts) throw new MuseError('unsupported', `Profile "${profile.name}": SSH needs a way to ask for passphrases and host keys here.`);
      if (!deps.sshPool) throw new MuseError('unsupported', `Profile "${profile.name}": SSH needs a connection pool here.`);
    {
      const prompts = deps.sshPrompts;
      const pool = deps.sshPool;
      const direct = (): Backend => new (require('./slurm/slurmBackend') as typeof import('./slurm/slurmBackend')).SlurmBackend(profile, prompts, pool);
      if (!deps.sshAgent) return direct();
      const { AgentBackend } = require('../agent/agentBackend') as typeof import('../agent/agentBackend');
      return new AgentBackend(profile, deps.sshAgent, prompts, (why) => {
        deps.onAgentUnavailable?.(why, profile.name);
        return direct();
      });
    }
    case 'local':
      // The CLI and extension fill `root` (resolveProfile); the fallback keeps a bare profile usable.
      return new (require('./local/localBackend') as typeof import('./local/localBackend')).LocalBackend({ root: profile.root ?? localRunsDir(), images: profile.images, singularityCommand: profile.singularityCommand });
    default:
      throw new MuseError('usage', `Profile "${(profile as Profile).name}" has an unknown kind "${(profile as { kind: string }).kind}".`);
  }
}
