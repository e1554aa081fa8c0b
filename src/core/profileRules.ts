/**
 * What makes a profile valid: one set of rules and messages for the CLI's config file and the
 * extension's `muse.profiles` setting. The CLI refuses the first bad entry; the extension skips
 * each bad entry and lists why. No vscode import.
 */
import { MuseError } from './errors';
import { RETURNED_TYPES } from './model';
import type { Profile } from './profiles';

/** A profile name also names the CLI's token file: no path separators, no leading dot. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws a `usage` error unless `name` is fit for a profile (it names a token file). */
export function checkProfileName(name: string): void {
  if (!PROFILE_NAME.test(name)) {
    throw new MuseError('usage', `Bad profile name "${name}": use letters, digits, ".", "_" and "-" (64 at most), starting with a letter or digit.`);
  }
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** What is wrong with one profile, or undefined when it is fine (a phrase: `needs a "host"`). */
export function profileProblem(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'is not an object';
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || !PROFILE_NAME.test(o.name)) {
    return 'needs a "name" of letters, digits, ".", "_", "-" (64 at most, starting with a letter or digit)';
  }
  const str = (k: string): string | undefined => (o[k] !== undefined && typeof o[k] !== 'string' ? `"${k}" must be a string` : undefined);
  const list = (k: string): string | undefined => (o[k] !== undefined && !isStringList(o[k]) ? `"${k}" must be a list of strings` : undefined);
  const map = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
      return `"${k}" must be an object of strings`;
    }
    return undefined;
  };
  const common =
    str('defaultSoftware') ?? map('commandTemplates') ?? list('include') ?? list('exclude') ?? list('sbatchList') ?? list('moduleList');
  if (common) return common;
  if (o.returnedType !== undefined && !RETURNED_TYPES.includes(o.returnedType as never)) {
    return `"returnedType" must be one of ${RETURNED_TYPES.join(', ')}`;
  }
  switch (o.kind) {
    case 'ws':
      if (typeof o.url !== 'string' || !/^https?:\/\//.test(o.url)) return 'is a ws profile: it needs a "url" starting with http:// or https://';
      if (o.timeoutMs !== undefined && (typeof o.timeoutMs !== 'number' || o.timeoutMs <= 0)) return '"timeoutMs" must be a positive number';
      return str('username');
    case 'ssh':
      if (typeof o.host !== 'string' || !o.host) return 'is an ssh profile: it needs a "host"';
      if (o.port !== undefined && (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535)) return '"port" must be a port number';
      return (
        str('user') ?? str('identityFile') ?? str('proxyJump') ?? str('remoteRoot') ?? map('images') ?? str('singularityCommand') ??
        str('knownHostsFile') ?? str('sshConfigFile')
      );
    case 'local':
      return str('root') ?? map('images') ?? str('singularityCommand');
    default:
      return '"kind" must be "ws", "ssh" or "local"';
  }
}

/** One entry refused, with its place in the list: `profiles[2] ("hpc") needs a "host".` */
export interface ProfileEntryProblem {
  index: number;
  /** The whole sentence, to be prefixed with where the list lives (a file, a setting). */
  message: string;
}

/**
 * Checks a list of profiles: the valid ones in order, and one problem per refused entry
 * (invalid, or a name already taken by an earlier valid entry).
 * `listName` is how the list is named in messages (`profiles`, `muse.profiles`).
 */
export function checkProfiles(list: readonly unknown[], listName: string): { profiles: Profile[]; problems: ProfileEntryProblem[] } {
  const profiles: Profile[] = [];
  const problems: ProfileEntryProblem[] = [];
  list.forEach((p, index) => {
    const name = (p as { name?: unknown } | null)?.name;
    const where = `${listName}[${index}]${typeof name === 'string' ? ` ("${name}")` : ''}`;
    const problem = profileProblem(p);
    if (problem) return problems.push({ index, message: `${where} ${problem}.` });
    if (profiles.some((q) => q.name === name)) return problems.push({ index, message: `${where}: two profiles are named "${String(name)}".` });
    profiles.push(p as Profile);
  });
  return { profiles, problems };
}
