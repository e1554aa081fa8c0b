/**
 * Profiles: where runs go. The CLI reads them from its config file, the extension from the
 * `muse.profiles` setting; both use these types.
 */
import type { ReturnedType } from './model';

/** What every profile may carry: defaults the UI and CLI use when building a run. */
export interface ProfileDefaults {
  /** Software used when none is chosen. */
  defaultSoftware?: string;
  /** Command per language id or file extension, with `{file}` for the script: `python3 {file}`. */
  commandTemplates?: Record<string, string>;
  /** Workspace files sent with a script (globs), and those never sent. */
  include?: string[];
  exclude?: string[];
  returnedType?: ReturnedType;
  sbatchList?: string[];
  moduleList?: string[];
}

export interface WsProfile extends ProfileDefaults {
  name: string;
  kind: 'ws';
  /** Base URL of the API, ending in `/api/` (a missing trailing slash is added). */
  url: string;
  /** Username for `jwt/obtain` (the password and token are secrets, never here). */
  username?: string;
  /** Per-request timeout in ms (default 30 s; bodies stream without a total limit). */
  timeoutMs?: number;
}

export interface SshProfile extends ProfileDefaults {
  name: string;
  kind: 'ssh';
  /** A host name or a `~/.ssh/config` Host alias. */
  host: string;
  port?: number;
  user?: string;
  identityFile?: string;
  /** `user@host:port` of a jump host, as in ssh's ProxyJump (overrides ~/.ssh/config). */
  proxyJump?: string;
  /** Folder on the cluster under which run folders are made (default `~/muse-runs`). */
  remoteRoot?: string;
  /** Singularity image per software name (a path on the cluster). */
  images?: Record<string, string>;
  /** Run the plain command, without `singularity exec` (for software with no image). */
  noContainer?: boolean;
  /** The singularity (or apptainer) command on the cluster (default `singularity`). */
  singularityCommand?: string;
  /** Path of the known_hosts file (default `~/.ssh/known_hosts`). */
  knownHostsFile?: string;
  /** Path of the ssh config file (default `~/.ssh/config`). */
  sshConfigFile?: string;
}

export interface LocalProfile extends ProfileDefaults {
  name: string;
  kind: 'local';
  /** Folder holding run folders (default: the data folder's `local-runs`). */
  root?: string;
  /** Container image per software name (a `.sif` file or a directory image). */
  images?: Record<string, string>;
  /** The singularity/apptainer command to use; default: the first of apptainer, singularity on PATH. */
  singularityCommand?: string;
}

export type Profile = WsProfile | SshProfile | LocalProfile;

/** The profile every install has: the local runner. */
export const DEFAULT_LOCAL_PROFILE: LocalProfile = { name: 'local', kind: 'local' };

