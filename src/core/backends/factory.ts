/**
 * Makes the backend for a profile. The only place that knows the three backend classes, so
 * that callers (CLI, extension, poller) deal with the `Backend` interface alone.
 */
import type { Backend } from '../backend';
import { MuseError } from '../errors';
import type { Profile } from '../profiles';
import type { SshPrompts } from './slurm/prompts';

export interface BackendDeps {
  /** The ws token of a profile (secret storage, token file, env), undefined when signed out. */
  getToken: (profileName: string) => Promise<string | undefined>;
  /** How the SSH layer asks the user (passphrases, host keys); required for ssh profiles. */
  sshPrompts?: SshPrompts;
}

/** A new backend for `profile`. Throws an `unsupported` MuseError for a kind not available. */
export function createBackend(profile: Profile, deps: BackendDeps): Backend {
  void deps;
  switch (profile.kind) {
    case 'ws':
    case 'local':
    case 'ssh':
      throw new MuseError('unsupported', `Profile "${profile.name}": the ${profile.kind} backend is not available in this build yet.`);
    default:
      throw new MuseError('usage', `Profile "${(profile as Profile).name}" has an unknown kind "${(profile as { kind: string }).kind}".`);
  }
}
