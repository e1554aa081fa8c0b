/**
 * Logging in to an SSH server: the host key checked against known_hosts (asking the user about
 * an unknown one), the login methods tried in OpenSSH's order (agent, key files with their
 * passphrases, keyboard-interactive, password), and what a failed connect tells the user.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import { utils } from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, ParsedKey } from 'ssh2';
import { MuseError, errorMessage } from '../../errors';
import type { SshPrompts } from '../../sshPrompts';
import { knownHostsName, verifyHostKey } from './knownHosts';
import { defaultIdentityFiles, sshAgents } from './sshTarget';
import type { SshTarget } from './sshTarget';

/** Where the login looks for an agent and default key files. */
export interface LoginOptions {
  /** Environment (for `SSH_AUTH_SOCK`, tests). */
  env?: NodeJS.ProcessEnv;
  /** Home folder for default key files (tests). */
  homeDir?: string;
}

/** Error codes of Node sockets that mean "the network", not "the server said no". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

function isEncryptedKeyError(e: Error): boolean {
  return /encrypted|passphrase|bad decrypt|integrity check/i.test(e.message);
}

/** A failed connect or login as a MuseError: `auth` for a refused login, `network` otherwise. */
export function mapConnectError(err: Error & { level?: string; code?: string }, tried: string[], name: string): MuseError {
  if (err.level === 'client-authentication') {
    return new MuseError(
      'auth',
      `SSH login to ${name} refused: tried ${tried.length ? tried.join(', ') : 'no method'}. ` +
        'Check the user, the key (identityFile, ssh-agent) or the password.',
      { cause: err },
    );
  }
  if (err.level === 'client-timeout') {
    return new MuseError('network', `SSH connection to ${name} timed out during the handshake.`, { cause: err });
  }
  if (err.code && NETWORK_CODES.has(err.code)) {
    return new MuseError('network', `Cannot reach ${name}: ${err.message}.`, { cause: err });
  }
  return new MuseError('network', `SSH connection to ${name} failed: ${err.message}.`, { cause: err });
}

/**
 * Checks the host key `key` offered by `t` against its known_hosts file: a match passes, a
 * revoked or changed key is refused, an unknown one is shown to the user through `ask` and
 * recorded once accepted. Throws a `refused` MuseError.
 */
export async function checkHostKey(t: SshTarget, ask: SshPrompts, key: Buffer): Promise<void> {
  const names = [knownHostsName(t.hostName, t.port)];
  if (t.alias !== t.hostName) names.push(knownHostsName(t.alias, t.port));
  await verifyHostKey(key, { names, files: t, askUnknown: (type, fp) => ask.unknownHostKey(t.hostName, t.port, type, fp) });
}

/**
 * The login methods, tried in order: agent, each key file, keyboard-interactive, password.
 * Returns a function giving the next method the server still accepts.
 */
export function authQueue(
  t: SshTarget,
  ask: SshPrompts,
  opts: LoginOptions,
  tried: string[],
  onError: (e: MuseError) => void,
): (methodsLeft: AuthenticationType[] | null) => Promise<AnyAuthMethod | false> {
  const env = opts.env ?? process.env;
  const home = opts.homeDir ?? os.homedir();
  type Step = { kind: AuthenticationType; make: () => Promise<AnyAuthMethod | undefined> };
  /** True (the reason given to onError) when nobody may be asked now: methods that ask are skipped. */
  const refused = (): boolean => {
    const why = ask.cannotAsk?.();
    if (why) onError(why instanceof MuseError ? why : new MuseError('auth', why.message, { cause: why }));
    return why !== undefined;
  };
  const steps: Step[] = [];
  for (const agent of sshAgents(env)) {
    steps.push({ kind: 'publickey', make: async () => (tried.push('ssh-agent'), { type: 'agent', username: t.user, agent }) });
  }
  const explicit = t.identityFiles.length > 0;
  const keyFiles = explicit ? t.identityFiles : defaultIdentityFiles(home);
  for (const file of keyFiles) {
    steps.push({
      kind: 'publickey',
      make: async () => {
        const key = await loadKey(file, explicit, ask, onError);
        if (!key) return undefined;
        tried.push(`key ${file}`);
        return { type: 'publickey', username: t.user, key };
      },
    });
  }
  steps.push({
    kind: 'keyboard-interactive',
    make: async () => {
      if (refused()) return undefined; // not started: an unanswered code is a failed login
      tried.push('keyboard-interactive');
      return {
        type: 'keyboard-interactive',
        username: t.user,
        prompt: (name, instructions, _lang, prompts, finish) => {
          if (prompts.length === 0) return finish([]);
          ask
            .keyboardInteractive(name, instructions, prompts.map((p) => ({ prompt: p.prompt, echo: !!p.echo })))
            .then(
              (answers: string[] | undefined) => finish(answers ?? []),
              (e: unknown) => {
                // The asker's reason (no terminal to type a code on) is the login's error.
                onError(e instanceof MuseError ? e : new MuseError('auth', `Cannot answer the SSH server's question: ${errorMessage(e)}.`, { cause: e }));
                finish([]);
              },
            );
        },
      };
    },
  });
  steps.push({
    kind: 'password',
    make: async () => {
      if (refused()) return undefined;
      const password = await ask.password(t.user, t.hostName);
      if (password === undefined) return undefined;
      tried.push('password');
      return { type: 'password', username: t.user, password };
    },
  });
  return async (methodsLeft) => {
    while (steps.length > 0) {
      const step = steps.shift()!;
      if (methodsLeft && !methodsLeft.includes(step.kind)) continue;
      const m = await step.make();
      if (m) return m;
    }
    return false;
  };
}

/** Reads and parses a private key, asking for its passphrase when it is encrypted. */
async function loadKey(file: string, explicit: boolean, ask: SshPrompts, onError: (e: MuseError) => void): Promise<ParsedKey | undefined> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (e) {
    if (explicit) onError(new MuseError('auth', `Cannot read the SSH key ${file}: ${errorMessage(e)}.`, { cause: e }));
    return undefined;
  }
  let parsed = utils.parseKey(data);
  for (let attempt = 0; parsed instanceof Error && isEncryptedKeyError(parsed) && attempt < 3; attempt++) {
    const pass = await ask.passphrase(file);
    if (pass === undefined) return undefined;
    parsed = utils.parseKey(data, pass);
  }
  if (parsed instanceof Error) {
    if (explicit || !isEncryptedKeyError(parsed)) onError(new MuseError('auth', `Cannot use the SSH key ${file}: ${parsed.message}.`));
    return undefined;
  }
  return Array.isArray(parsed) ? parsed[0] : parsed;
}
