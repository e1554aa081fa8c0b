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
import type { SshProfile } from '../../profiles';

/** A resolved SSH destination. */
export interface SshTarget {
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
  /** The known_hosts file checked and appended to. */
  knownHostsFile: string;
}

export interface ResolveOptions {
  /** Text of the ssh config file (tests); read from `sshConfigFile` / `~/.ssh/config` otherwise. */
  configText?: string;
  homeDir?: string;
  /** The local user name, the default remote user. */
  localUser?: string;
}

// The package is ESM-typed but ships a CommonJS build (its `require` export), which we load.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sshConfigLib = require('ssh-config') as { parse(text: string): SSHConfig };

const MAX_JUMPS = 5;

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

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
  env: { home: string; localUser: string },
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
  const identityFiles = profile.identityFile
    ? [expandHome(profile.identityFile, env.home)]
    : all(c.identityfile).map((f) => expandHome(expandTokens(f.replace(/^"(.*)"$/, '$1'), tok), env.home));
  const knownHostsFile = expandHome(
    profile.knownHostsFile ?? first(c.userknownhostsfile)?.split(/\s+/)[0] ?? path.join(env.home, '.ssh', 'known_hosts'),
    env.home,
  );
  const target: SshTarget = { alias: profile.host, hostName, port, user, identityFiles, knownHostsFile };
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
    const file = expandHome(profile.sshConfigFile ?? path.join(home, '.ssh', 'config'), home);
    try {
      text = await readSshConfigText(file, home); // Include followed
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || profile.sshConfigFile) {
        throw new MuseError('usage', `Cannot read the SSH config file ${file}: ${(e as Error).message}`, { cause: e });
      }
      text = '';
    }
  }
  return resolveTargetFromConfig(profile, parseSshConfig(text), { home, localUser });
}

/** A short name for messages: `user@host:port` (via jump). */
export function describeTarget(t: SshTarget): string {
  const s = `${t.user}@${t.hostName}${t.port === 22 ? '' : `:${t.port}`}`;
  return t.jump ? `${s} (via ${describeTarget(t.jump)})` : s;
}

/** A key identifying one connection: same key, same shared connection. */
export function targetKey(t: SshTarget): string {
  return `${t.user}@${t.hostName}:${t.port}|${t.identityFiles.join(',')}|${t.knownHostsFile}` + (t.jump ? `>${targetKey(t.jump)}` : '');
}
