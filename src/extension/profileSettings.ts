/**
 * Profiles as read from the `muse.profiles` setting: checked by the core's rules (the CLI's
 * config file uses the same ones), with a message per bad entry, and the active one resolved.
 * No vscode import (unit-tested).
 */
import { checkProfiles } from '../core/profileRules';
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

/** Checks `muse.profiles`; a bad entry is skipped with a problem line, never thrown. */
export function readProfiles(raw: unknown): ProfilesRead {
  const problems: string[] = [];
  if (raw !== undefined && !Array.isArray(raw)) problems.push('muse.profiles must be a list of profiles.');
  const checked = checkProfiles(Array.isArray(raw) ? raw : [], 'muse.profiles');
  problems.push(...checked.problems.map((p) => p.message));
  const profiles = checked.profiles;
  const none = profiles.length === 0;
  if (!profiles.some((p) => p.name === DEFAULT_LOCAL_PROFILE.name)) profiles.push({ ...DEFAULT_LOCAL_PROFILE });
  return { profiles, none, problems };
}

/** The profile named by `muse.activeProfile`, else the first one. */
export function resolveActiveProfile(profiles: Profile[], activeName: string | undefined): Profile {
  return (activeName && profiles.find((p) => p.name === activeName)) || profiles[0] || { ...DEFAULT_LOCAL_PROFILE };
}
