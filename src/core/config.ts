/**
 * The CLI's configuration: `<configDir>/config.json` = `{ "profiles": [...], "defaultProfile": "name" }`,
 * and its tokens, one file per ws profile in `<configDir>/tokens/<profile>.jwt` (mode 0600 in a
 * 0700 folder). The extension keeps its own profiles in settings and its tokens in SecretStorage.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from './atomicFile';
import { MuseError, errorMessage } from './errors';
import { checkProfileName, checkProfiles } from './profileRules';
import { DEFAULT_LOCAL_PROFILE } from './profiles';
import type { LocalProfile, Profile } from './profiles';
import { configDir, localRunsDir } from './paths';

export interface CliConfig {
  profiles: Profile[];
  defaultProfile?: string;
}

/** `<configDir>/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'config.json');
}

/** `<configDir>/tokens`. */
export function tokensDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'tokens');
}

/**
 * Reads the config. A missing file is the default (only the `local` profile). The `local`
 * profile always exists. Throws a `usage` error naming the file and what is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const file = configPath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return withLocal({ profiles: [] });
    throw new MuseError('io', `Cannot read ${file}: ${errorMessage(e)}`, { cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MuseError('usage', `${file} is not valid JSON (${errorMessage(e)}). Fix it or move it away.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new MuseError('usage', `${file} must hold an object: { "profiles": [...], "defaultProfile": "name" }.`);
  }
  const o = v as Record<string, unknown>;
  if (o.profiles !== undefined && !Array.isArray(o.profiles)) throw new MuseError('usage', `${file}: "profiles" must be a list.`);
  // The first refused entry stops the CLI: a config it cannot fully read is fixed, not guessed at.
  const { profiles, problems } = checkProfiles((o.profiles ?? []) as unknown[], 'profiles');
  if (problems.length > 0) throw new MuseError('usage', `${file}: ${problems[0].message}`);
  if (o.defaultProfile !== undefined && typeof o.defaultProfile !== 'string') {
    throw new MuseError('usage', `${file}: "defaultProfile" must be a profile name.`);
  }
  const cfg = withLocal({ profiles, defaultProfile: o.defaultProfile as string | undefined });
  if (cfg.defaultProfile !== undefined && !cfg.profiles.some((p) => p.name === cfg.defaultProfile)) {
    throw new MuseError('usage', `${file}: "defaultProfile" is "${cfg.defaultProfile}", but no profile has that name.`);
  }
  return cfg;
}

function withLocal(cfg: CliConfig): CliConfig {
  if (cfg.profiles.some((p) => p.name === DEFAULT_LOCAL_PROFILE.name)) return cfg;
  return { ...cfg, profiles: [...cfg.profiles, { ...DEFAULT_LOCAL_PROFILE }] };
}

/** Writes the config atomically (the implicit `local` profile is not written unless changed). */
export function saveConfig(cfg: CliConfig, env: NodeJS.ProcessEnv = process.env): void {
  const file = configPath(env);
  const profiles = cfg.profiles.filter((p) => !(p.name === 'local' && JSON.stringify(p) === JSON.stringify(DEFAULT_LOCAL_PROFILE)));
  const out: CliConfig = { profiles };
  if (cfg.defaultProfile !== undefined) out.defaultProfile = cfg.defaultProfile;
  writeFileAtomicSync(file, JSON.stringify(out, null, 2) + '\n', 0o600);
}

/**
 * The profile to use: `name`, else `MUSE_PROFILE`, else the config's default, else `local`.
 * The local profile's `root` is filled with the data folder's `local-runs` when unset.
 */
export function selectProfile(cfg: CliConfig, name?: string, env: NodeJS.ProcessEnv = process.env): Profile {
  const want = name ?? env.MUSE_PROFILE ?? cfg.defaultProfile ?? DEFAULT_LOCAL_PROFILE.name;
  const p = cfg.profiles.find((x) => x.name === want);
  if (!p) {
    const known = cfg.profiles.map((x) => x.name).join(', ');
    throw new MuseError('usage', `No profile named "${want}" (known: ${known}). Add one with "muse profiles add", or see ${configPath(env)}.`);
  }
  return resolveProfile(p, env);
}

/** Fills defaults that depend on the environment (the local runner's folder). */
export function resolveProfile(p: Profile, env: NodeJS.ProcessEnv = process.env): Profile {
  if (p.kind === 'local' && !p.root) return { ...p, root: localRunsDir(env) } satisfies LocalProfile;
  return p;
}

// --- tokens -----------------------------------------------------------------------------------

/** `<configDir>/tokens/<profile>.jwt`. */
export function tokenPath(profileName: string, env: NodeJS.ProcessEnv = process.env): string {
  checkProfileName(profileName);
  return path.join(tokensDir(env), `${profileName}.jwt`);
}

/**
 * The token for a profile: `MUSE_JWT` when set, else its token file. Refuses (a `usage` error
 * saying how to fix it) a token file that others can read. Undefined when there is none.
 */
export function readToken(profileName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MUSE_JWT) return env.MUSE_JWT.trim();
  const file = tokenPath(profileName, env);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MuseError('io', `Cannot read ${file}: ${errorMessage(e)}`, { cause: e });
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new MuseError(
      'usage',
      `The token file ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}): refusing to use it. ` +
        `Fix with "chmod 600 ${file}", or delete it and run "muse login" again.`,
    );
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  return token || undefined;
}

/** Stores a token: 0700 folder, 0600 file, atomic replace. */
export function writeToken(profileName: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = tokenPath(profileName, env);
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is masked by umask, and the folder may predate us.
  if (process.platform !== 'win32') fs.chmodSync(dir, 0o700);
  writeFileAtomicSync(file, token.trim() + '\n', 0o600);
  return file;
}

/** Deletes a profile's token file; true when there was one. */
export function deleteToken(profileName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    fs.unlinkSync(tokenPath(profileName, env));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new MuseError('io', `Cannot delete the token of "${profileName}": ${errorMessage(e)}`, { cause: e });
  }
}
