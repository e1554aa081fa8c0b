/** `muse profiles`: list, add, remove, choose the default. */
import type { Command } from 'commander';
import { configPath, loadConfig, readToken, saveConfig } from '../core/config';
import { checkProfileName } from '../core/profileRules';
import { MuseError, errorMessage } from '../core/errors';
import { RETURNED_TYPES } from '../core/model';
import type { ReturnedType } from '../core/model';
import type { Profile } from '../core/profiles';
import type { CliContext } from './context';

interface AddOptions {
  kind: string;
  url?: string;
  username?: string;
  host?: string;
  port?: string;
  user?: string;
  identityFile?: string;
  proxyJump?: string;
  remoteRoot?: string;
  knownHostsFile?: string;
  sshConfigFile?: string;
  root?: string;
  image: string[];
  singularityCommand?: string;
  noContainer?: boolean;
  defaultSoftware?: string;
  returnedType?: string;
  default?: boolean;
  force?: boolean;
}

function parseImages(list: string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1) throw new MuseError('usage', `--image wants SOFTWARE=PATH (got "${item}").`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** The profile described by `muse profiles add` options. */
export function profileFromOptions(name: string, o: AddOptions, resolvePath: (p: string) => string): Profile {
  checkProfileName(name);
  const images = parseImages(o.image);
  let p: Profile;
  switch (o.kind) {
    case 'ws':
      if (!o.url) throw new MuseError('usage', 'A ws profile needs --url (like http://host/api/).');
      if (!/^https?:\/\//.test(o.url)) throw new MuseError('usage', `--url must start with http:// or https:// (got "${o.url}").`);
      p = { name, kind: 'ws', url: o.url.endsWith('/') ? o.url : `${o.url}/` };
      if (o.username) p.username = o.username;
      break;
    case 'ssh': {
      if (!o.host) throw new MuseError('usage', 'An ssh profile needs --host (a host name or a ~/.ssh/config alias).');
      p = { name, kind: 'ssh', host: o.host };
      if (o.port !== undefined) {
        const port = Number(o.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MuseError('usage', `--port must be a port number (got "${o.port}").`);
        p.port = port;
      }
      if (o.user) p.user = o.user;
      if (o.identityFile) p.identityFile = resolvePath(o.identityFile);
      if (o.proxyJump) p.proxyJump = o.proxyJump;
      if (o.remoteRoot) p.remoteRoot = o.remoteRoot;
      if (o.knownHostsFile) p.knownHostsFile = resolvePath(o.knownHostsFile);
      if (o.sshConfigFile) p.sshConfigFile = resolvePath(o.sshConfigFile);
      if (images) p.images = images;
      if (o.singularityCommand) p.singularityCommand = o.singularityCommand;
      if (o.noContainer) p.noContainer = true;
      break;
    }
    case 'local':
      p = { name, kind: 'local' };
      if (o.root) p.root = resolvePath(o.root);
      if (images) p.images = Object.fromEntries(Object.entries(images).map(([k, v]) => [k, resolvePath(v)]));
      if (o.singularityCommand) p.singularityCommand = o.singularityCommand.includes('/') ? resolvePath(o.singularityCommand) : o.singularityCommand;
      break;
    default:
      throw new MuseError('usage', `--kind must be ws, ssh or local (got "${o.kind}").`);
  }
  if (o.defaultSoftware) p.defaultSoftware = o.defaultSoftware;
  if (o.returnedType !== undefined) {
    if (!RETURNED_TYPES.includes(o.returnedType as ReturnedType)) throw new MuseError('usage', `--returned-type must be one of ${RETURNED_TYPES.join(', ')}.`);
    p.returnedType = o.returnedType as ReturnedType;
  }
  return p;
}

function where(p: Profile): string {
  switch (p.kind) {
    case 'ws':
      return p.url + (p.username ? ` (user ${p.username})` : '');
    case 'ssh':
      return `${p.user ? p.user + '@' : ''}${p.host}${p.port ? ':' + p.port : ''}`;
    case 'local':
      return p.root ?? '(default folder)';
  }
}

export function registerProfileCommands(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  const collect = (v: string, prev: string[]): string[] => [...prev, v];
  const profiles = program
    .command('profiles')
    .description('list the profiles (where runs go); "muse profiles add|remove|default" to change them')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const cfg = ctx.config();
      const def = ctx.env.MUSE_PROFILE ?? cfg.defaultProfile ?? 'local';
      const rows = cfg.profiles.map((p) => {
        let signedIn: boolean | undefined;
        if (p.kind === 'ws') {
          try {
            signedIn = readToken(p.name, ctx.env) !== undefined;
          } catch (e) {
            ctx.warn(errorMessage(e));
            signedIn = false;
          }
        }
        return { ...p, default: p.name === def, ...(signedIn !== undefined ? { signedIn } : {}) };
      });
      ctx.json(rows);
      for (const r of rows) {
        const auth = r.signedIn === undefined ? '' : r.signedIn ? '  [signed in]' : '  [not signed in]';
        ctx.out(`${r.default ? '*' : ' '} ${r.name.padEnd(12)} ${r.kind.padEnd(5)} ${where(r)}${auth}`);
      }
      ctx.info(`(config: ${configPath(ctx.env)})`);
    });

  profiles
    .command('add')
    .description('add (or with --force replace) a profile')
    .argument('<name>', 'profile name')
    .requiredOption('--kind <kind>', 'ws (web API), ssh (Slurm over SSH) or local')
    .option('--url <url>', 'ws: base URL of the API, like http://host/api/')
    .option('--username <name>', 'ws: user name for "muse login"')
    .option('--host <host>', 'ssh: host name or ~/.ssh/config alias')
    .option('--port <port>', 'ssh: port')
    .option('--user <user>', 'ssh: user name')
    .option('--identity-file <path>', 'ssh: private key')
    .option('--proxy-jump <spec>', 'ssh: jump host, user@host:port')
    .option('--remote-root <path>', 'ssh: folder of the run folders on the cluster (default ~/muse-runs)')
    .option('--known-hosts-file <path>', 'ssh: known_hosts file (default ~/.ssh/known_hosts)')
    .option('--ssh-config-file <path>', 'ssh: ssh config file (default ~/.ssh/config)')
    .option('--root <path>', 'local: folder of the run folders')
    .option('--image <software=path>', 'ssh/local: container image of a software; repeatable', collect, [])
    .option('--singularity-command <cmd>', 'ssh/local: the singularity (or apptainer) command')
    .option('--no-container', 'ssh: run the plain command, without singularity')
    .option('--default-software <name>', 'software used when "muse submit" names none')
    .option('--returned-type <type>', `default returned type: ${RETURNED_TYPES.join(', ')}`)
    .option('--default', 'make it the default profile')
    .option('--force', 'replace a profile of the same name')
    .action(async (name: string, o: AddOptions & { container?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      // --url is also a global option, which takes it wherever it is written.
      const url = o.url ?? ctx.globals.url;
      // commander turns --no-container into container=false.
      const p = profileFromOptions(name, { ...o, url, noContainer: o.container === false }, (x) => ctx.resolvePath(x));
      const cfg = loadConfig(ctx.env);
      const i = cfg.profiles.findIndex((x) => x.name === name);
      if (i >= 0 && !o.force) throw new MuseError('usage', `A profile named "${name}" exists; give --force to replace it.`);
      const list = [...cfg.profiles];
      if (i >= 0) list[i] = p;
      else list.push(p);
      saveConfig({ profiles: list, defaultProfile: o.default ? name : cfg.defaultProfile }, ctx.env);
      ctx.resetConfig();
      ctx.info(`Profile "${name}" ${i >= 0 ? 'replaced' : 'added'}${o.default ? ' (default)' : ''} in ${configPath(ctx.env)}.${p.kind === 'ws' ? ` Sign in with: muse login --profile ${name}` : ''}`);
      ctx.json(p);
    });

  profiles
    .command('remove')
    .description('remove a profile (its runs stay in the list)')
    .argument('<name>', 'profile name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const cfg = loadConfig(ctx.env);
      if (!cfg.profiles.some((p) => p.name === name)) throw new MuseError('notFound', `No profile named "${name}".`);
      saveConfig({ profiles: cfg.profiles.filter((p) => p.name !== name), defaultProfile: cfg.defaultProfile === name ? undefined : cfg.defaultProfile }, ctx.env);
      ctx.resetConfig();
      ctx.info(`Profile "${name}" removed.${name === 'local' ? ' (The local profile comes back with its defaults.)' : ''}`);
    });

  profiles
    .command('default')
    .description('choose the default profile')
    .argument('<name>', 'profile name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const cfg = loadConfig(ctx.env);
      if (!cfg.profiles.some((p) => p.name === name)) throw new MuseError('notFound', `No profile named "${name}".`);
      saveConfig({ ...cfg, defaultProfile: name }, ctx.env);
      ctx.resetConfig();
      ctx.info(`Default profile: ${name}.`);
    });
}
