/**
 * Profiles as read from the `muse.profiles` setting: checked, with a message per bad entry,
 * and the active one resolved. No vscode import (unit-tested).
 */
import { RETURNED_TYPES } from '../core/model';
import { DEFAULT_LOCAL_PROFILE } from '../core/profiles';
import type { Profile } from '../core/profiles';

export interface ProfilesRead {
  /** Valid profiles, in setting order; the local default is added when no profile is named `local`. */
  profiles: Profile[];
  /** True when the user configured no profile at all. */
  none: boolean;
  /** One line per entry we skipped, for the log and a warning. */
  problems: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const STRING_LISTS = ['include', 'exclude', 'sbatchList', 'moduleList'] as const;

/** Checks `muse.profiles`; a bad entry is skipped with a problem line, never thrown. */
export function readProfiles(raw: unknown): ProfilesRead {
  const problems: string[] = [];
  const profiles: Profile[] = [];
  const list = Array.isArray(raw) ? raw : [];
  if (raw !== undefined && !Array.isArray(raw)) problems.push('muse.profiles must be a list of profiles.');
  list.forEach((p, i) => {
    const where = `muse.profiles[${i}]`;
    if (!isRecord(p)) return problems.push(`${where} is not an object.`);
    if (typeof p.name !== 'string' || p.name.trim() === '') return problems.push(`${where} has no name.`);
    if (profiles.some((q) => q.name === p.name)) return problems.push(`${where}: the name "${p.name}" is used twice.`);
    if (p.kind === 'ws') {
      if (typeof p.url !== 'string' || !/^https?:\/\//.test(p.url)) return problems.push(`${where} ("${p.name}"): url must be an http(s) URL ending in /api/.`);
    } else if (p.kind === 'ssh') {
      if (typeof p.host !== 'string' || p.host === '') return problems.push(`${where} ("${p.name}"): host is required.`);
    } else if (p.kind !== 'local') {
      return problems.push(`${where} ("${p.name}"): kind must be "ws", "ssh" or "local".`);
    }
    for (const k of STRING_LISTS) {
      const v = p[k];
      if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
        return problems.push(`${where} ("${p.name}"): ${k} must be a list of strings.`);
      }
    }
    if (p.returnedType !== undefined && !RETURNED_TYPES.includes(p.returnedType as never)) {
      return problems.push(`${where} ("${p.name}"): returnedType must be one of ${RETURNED_TYPES.join(', ')}.`);
    }
    profiles.push(p as unknown as Profile);
  });
  const none = profiles.length === 0;
  if (!profiles.some((p) => p.name === DEFAULT_LOCAL_PROFILE.name)) profiles.push({ ...DEFAULT_LOCAL_PROFILE });
  return { profiles, none, problems };
}

/** The profile named by `muse.activeProfile`, else the first one. */
export function resolveActiveProfile(profiles: Profile[], activeName: string | undefined): Profile {
  return (activeName && profiles.find((p) => p.name === activeName)) || profiles[0] || { ...DEFAULT_LOCAL_PROFILE };
}
