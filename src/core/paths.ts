/**
 * Where the CLI and the extension keep their files. Both use the same folders, so that they
 * see the same runs. `MUSE_DATA_DIR` / `MUSE_CONFIG_DIR` override them (tests, portable installs).
 */
import envPaths from 'env-paths';
import * as os from 'os';
import * as path from 'path';

const paths = envPaths('muse-runner', { suffix: '' });

/** Folder of durable data: the run store, local run folders, downloaded results. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MUSE_DATA_DIR || paths.data;
}

/** Folder of the CLI's configuration (profiles) and its token files. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MUSE_CONFIG_DIR || paths.config;
}

/** The run store file. */
export function runStorePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(dataDir(env), 'runs.json');
}

/** Default folder of the local runner's run folders. */
export function localRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(dataDir(env), 'local-runs');
}

/**
 * Expands a leading `~` of a path on this machine with the home folder: `~`, `~/x`, and on
 * Windows `~\x` too. Only for local paths: a remote path keeps its `~` for the remote shell.
 * @param pathApi `path.win32` or `path.posix` (tests choose; default: this machine's).
 */
export function expandLocalHome(p: string, home: string = os.homedir(), pathApi: path.PlatformPath = path): string {
  if (p === '~') return home;
  const windows = pathApi.sep === '\\';
  if (p.startsWith('~/') || (windows && p.startsWith('~\\'))) return pathApi.join(home, p.slice(2));
  return p;
}
