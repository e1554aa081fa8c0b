/**
 * Where to connect: a profile's host, port, user, key and jump host, merged with what
 * `~/.ssh/config` says for that host (parsed by the `ssh-config` library). The profile wins
 * over the config file, as a command-line option wins over it for `ssh`.
 */
import * as os from 'os';
import * as path from 'path';
import type { default as SSHConfig } from 'ssh-config' with { 'resolution-mode': 'import' };
import { readSshConfigText } from './sshConfigHosts';
import { MuseError } from '../../errors';
import { expandLocalHome } from '../../paths';
import type { SshProfile } from '../../profiles';
import { knownHostsFilesOf } from './knownHosts';
import type { KnownHostsFiles } from './knownHosts';

/** A resolved SSH destination. */
export interface SshTarget extends KnownHostsFiles {
  /** The name as the user wrote it (a Host alias, or a host name). */
  alias: string;
  /** The host name or address actually connected to. */
  hostName: string;
  port: number;
  user: string;
  /** Private key files to try, in order (expanded). */
  identityFiles: string[];
  /** The jump host, itself resolved; absent for a direct connection. */
  jump?: SshTarget;
}

export interface ResolveOptions {
  /** Text of the ssh config file (tests); read from `sshConfigFile` / `~/.ssh/config` otherwise. */
  configText?: string;
  homeDir?: string;
  /** The local user name, the default remote user. */
  localUser?: string;
  /** Path rules of this machine: `path.win32` in tests of Windows behaviour (default: `path`). */
  pathApi?: path.PlatformPath;
  /** Environment (`ProgramData` on Windows; default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** What resolution knows of the local machine. */
interface LocalEnv {
  home: string;
  localUser: string;
  pathApi?: path.PlatformPath;
  env?: NodeJS.ProcessEnv;
}

const isWindowsPath = (pathApi: path.PlatformPath): boolean => pathApi.sep === '\\';

/** OpenSSH's default user known hosts files: `~/.ssh/known_hosts` then `~/.ssh/known_hosts2`. */
export function defaultUserKnownHostsFiles(home: string, pathApi: path.PlatformPath = path): string[] {
  return [pathApi.join(home, '.ssh', 'known_hosts'), pathApi.join(home, '.ssh', 'known_hosts2')];
}

/**
 * OpenSSH's default global known hosts files: `/etc/ssh/ssh_known_hosts{,2}`, and on Windows
 * (Win32-OpenSSH) `%ProgramData%\ssh\ssh_known_hosts{,2}`.
 */
export function defaultGlobalKnownHostsFiles(pathApi: path.PlatformPath = path, env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = isWindowsPath(pathApi) ? pathApi.join(env.ProgramData || env.PROGRAMDATA || 'C:\\ProgramData', 'ssh') : '/etc/ssh';
  return [pathApi.join(dir, 'ssh_known_hosts'), pathApi.join(dir, 'ssh_known_hosts2')];
}

/** The key files tried when neither the profile nor the config names one, as `ssh` does. */
export function defaultIdentityFiles(home: string, pathApi: path.PlatformPath = path): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => pathApi.join(home, '.ssh', f));
}

/**
 * The SSH agents to ask for keys: `SSH_AUTH_SOCK` when set; else on Windows the OpenSSH
 * agent's named pipe, then Pageant (`pageant` is how ssh2 names it); else none.
 */
export function sshAgents(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] {
  if (env.SSH_AUTH_SOCK) return [env.SSH_AUTH_SOCK];
  return platform === 'win32' ? ['\\\\.\\pipe\\openssh-ssh-agent', 'pageant'] : [];
}

// The package is ESM-typed but ships a CommonJS build (its `require` export), which we load.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sshConfigLib = require('ssh-config') as { parse(text: string): SSHConfig };

const MAX_JUMPS = 5;

/** Expands the ssh_config tokens we can know here (`%d` home, `%u` local user, `%r` remote user, `%h` host, `%%`). */
function expandTokens(p: string, t: { home: string; localUser: string; user: string; host: string; port: number }): string {
  return p.replace(/%([%dhurp])/g, (_, c: string) =>
    c === '%' ? '%' : c === 'd' ? t.home : c === 'u' ? t.localUser : c === 'r' ? t.user : c === 'h' ? t.host : String(t.port),
  );
}

/** Parses `[user@]host[:port]` (a ProxyJump element). IPv6 may be written `[addr]:port`. */
export function parseDestination(spec: string): { user?: string; host: string; port?: number } {
  let rest = spec.trim();
  if (rest.startsWith('ssh://')) rest = rest.slice(6);
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: number | undefined;
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (m6) {
    host = m6[1];
    port = m6[2] ? Number(m6[2]) : undefined;
  } else {
    const m = /^([^:]+):(\d+)$/.exec(rest);
    if (m) {
      host = m[1];
      port = Number(m[2]);
    }
  }
  if (!host || /[\s'"`$;|&<>]/.test(host) || (port !== undefined && !(port > 0 && port < 65536))) {
    throw new MuseError('usage', `Cannot read the SSH destination "${spec}": expected [user@]host[:port].`);
  }
  return { user, host, port };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a keyword (the library splits `A "b c" d` into its paths already). */
function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Parses ssh config text. */
export function parseSshConfig(text: string): SSHConfig {
  try {
    return sshConfigLib.parse(text);
  } catch (e) {
    throw new MuseError('usage', `Cannot read the SSH config file: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Resolves a profile to an SSH target. Pure: the config text is given.
 */
export function resolveTargetFromConfig(
  profile: Pick<SshProfile, 'host' | 'port' | 'user' | 'identityFile' | 'proxyJump' | 'knownHostsFile'>,
  config: SSHConfig,
  env: LocalEnv,
  depth = 0,
): SshTarget {
  if (depth > MAX_JUMPS) throw new MuseError('usage', `Too many ProxyJump hops (more than ${MAX_JUMPS}) for ${profile.host}: is there a loop in the SSH config?`);
  if (!profile.host || /[\s'"`$;|&<>]/.test(profile.host)) {
    throw new MuseError('usage', `The SSH host "${profile.host}" is not a host name or Host alias.`);
  }
  // `Match exec` would run a local command: never for a config we only read.
  const c = config.compute(profile.host, { ignoreCase: true, matchExec: false }) as Record<string, string | string[]>;
  const hostName = first(c.hostname) ? expandTokens(first(c.hostname)!, { ...env, user: '', host: profile.host, port: 22 }) : profile.host;
  const port = profile.port ?? (first(c.port) ? Number(first(c.port)) : 22);
  if (!Number.isInteger(port) || port <= 0 || port >= 65536) throw new MuseError('usage', `Bad SSH port for ${profile.host}: ${String(first(c.port) ?? profile.port)}.`);
  const user = profile.user ?? first(c.user) ?? env.localUser;
  const tok = { ...env, user, host: hostName, port };
  const pathApi = env.pathApi ?? path;
  const local = (f: string) => expandLocalHome(expandTokens(f, tok), env.home, pathApi);
  const identityFiles = profile.identityFile
    ? [expandLocalHome(profile.identityFile, env.home, pathApi)]
    : all(c.identityfile).map((f) => local(f.replace(/^"(.*)"$/, '$1')));
  // Every UserKnownHostsFile entry is read (OpenSSH allows several); the profile's file replaces them.
  const userFiles = profile.knownHostsFile
    ? [expandLocalHome(profile.knownHostsFile, env.home, pathApi)]
    : all(c.userknownhostsfile).filter((f) => f.toLowerCase() !== 'none').map(local);
  const userKnownHostsFiles = userFiles.length > 0 ? userFiles : defaultUserKnownHostsFiles(env.home, pathApi);
  const globalConfigured = all(c.globalknownhostsfile);
  const globalKnownHostsFiles = globalConfigured.length > 0
    ? globalConfigured.filter((f) => f.toLowerCase() !== 'none').map(local)
    : defaultGlobalKnownHostsFiles(pathApi, env.env ?? process.env);
  const target: SshTarget = {
    alias: profile.host,
    hostName,
    port,
    user,
    identityFiles,
    knownHostsFile: userKnownHostsFiles[0],
    userKnownHostsFiles,
    globalKnownHostsFiles,
  };
  const jumpSpec = profile.proxyJump ?? first(c.proxyjump);
  if (jumpSpec && jumpSpec.toLowerCase() !== 'none') {
    // A chain `a,b` goes through a, then b: b is the last hop before the target.
    const hops = jumpSpec.split(',').map((s) => s.trim()).filter(Boolean);
    let prev: SshTarget | undefined;
    for (const hop of hops) {
      const d = parseDestination(hop);
      // The hop's own settings come from the config too; its ProxyJump is ignored inside a chain.
      const t = resolveTargetFromConfig(
        { host: d.host, port: d.port, user: d.user, knownHostsFile: profile.knownHostsFile, proxyJump: prev ? 'none' : undefined },
        config,
        env,
        depth + 1,
      );
      if (prev) t.jump = prev;
      prev = t;
    }
    target.jump = prev;
  }
  return target;
}

/** Resolves a profile to an SSH target, reading the ssh config file (missing file: no config). */
export async function resolveTarget(
  profile: Pick<SshProfile, 'host' | 'port' | 'user' | 'identityFile' | 'proxyJump' | 'knownHostsFile' | 'sshConfigFile'>,
  opts: ResolveOptions = {},
): Promise<SshTarget> {
  const home = opts.homeDir ?? os.homedir();
  const pathApi = opts.pathApi ?? path;
  let localUser = opts.localUser;
  if (!localUser) {
    try {
      localUser = os.userInfo().username;
    } catch {
      localUser = process.env.USER ?? 'root';
    }
  }
  let text = opts.configText;
  if (text === undefined) {
    const file = expandLocalHome(profile.sshConfigFile ?? pathApi.join(home, '.ssh', 'config'), home, pathApi);
    try {
      text = await readSshConfigText(file, home); // Include followed
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || profile.sshConfigFile) {
        throw new MuseError('usage', `Cannot read the SSH config file ${file}: ${(e as Error).message}`, { cause: e });
      }
      text = '';
    }
  }
  return resolveTargetFromConfig(profile, parseSshConfig(text), { home, localUser, pathApi, env: opts.env });
}

/** A short name for messages: `user@host:port` (via jump). */
export function describeTarget(t: SshTarget): string {
  const s = `${t.user}@${t.hostName}${t.port === 22 ? '' : `:${t.port}`}`;
  return t.jump ? `${s} (via ${describeTarget(t.jump)})` : s;
}

/** A key identifying one connection: same key, same shared connection. */
export function targetKey(t: SshTarget): string {
  return `${t.user}@${t.hostName}:${t.port}|${t.identityFiles.join(',')}|${knownHostsFilesOf(t).join(',')}` + (t.jump ? `>${targetKey(t.jump)}` : '');
}
