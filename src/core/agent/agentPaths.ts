/**
 * Where the per-user agent listens, and the folder that guards it.
 *
 * Path choice: a Unix socket in a folder only the user can enter (0700), never TCP:
 * `$MUSE_AGENT_DIR` (tests), else `$XDG_RUNTIME_DIR/muse` (a tmpfs of the user's, emptied at
 * logout: no stale socket survives a reboot), else `~/.muse/agent`. On Windows the socket is the
 * named pipe `\\.\pipe\muse-agent-<user>` (pipes are per machine, so the user name is in it) and
 * the folder under the home only holds the start lock.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MuseError, errorMessage } from '../errors';

/** The agent's folder (lock, log, and the socket off Windows). */
export function agentDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MUSE_AGENT_DIR) return env.MUSE_AGENT_DIR;
  if (process.platform !== 'win32' && env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'muse');
  return path.join(os.homedir(), '.muse', 'agent');
}

/** The address clients connect to: a socket file in `agentDir`, or a named pipe on Windows. */
export function agentSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') {
    const user = (os.userInfo().username || 'user').replace(/[^A-Za-z0-9_.-]/g, '_');
    const suffix = env.MUSE_AGENT_DIR ? `-${Buffer.from(env.MUSE_AGENT_DIR).toString('hex').slice(-16)}` : '';
    return `\\\\.\\pipe\\muse-agent-${user}${suffix}`;
  }
  return path.join(agentDir(env), 'agent.sock');
}

/** The file whose lock is held while a client starts the agent (two starters end with one agent). */
export function agentStartLockPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(agentDir(env), 'start');
}

/** The agent's own log (its stdout/stderr are not kept: it runs detached). */
export function agentLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(agentDir(env), 'agent.log');
}

/**
 * Makes the agent's folder if needed and makes sure only this user can enter it: mode 0700 and
 * owned by us. A folder owned by someone else is refused (they could swap the socket).
 */
export async function ensureAgentDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = agentDir(env);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    if (process.platform === 'win32') return dir;
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new MuseError('refused', `The Muse agent folder ${dir} is not a folder.`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new MuseError('refused', `The Muse agent folder ${dir} belongs to another user: remove it or set MUSE_AGENT_DIR.`);
    // mkdir's mode is masked by the umask, and an existing folder keeps its mode: set it.
    if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
    return dir;
  } catch (e) {
    if (e instanceof MuseError) throw e;
    throw new MuseError('io', `Cannot prepare the Muse agent folder ${dir}: ${errorMessage(e)}.`, { cause: e });
  }
}

/**
 * The agent's entry script: `agent.js` beside the bundle this code runs in (dist/cli.js,
 * dist/core.js), or the compiled `out/src/agent/agentMain.js` (tests). Undefined when neither exists.
 */
export async function agentScriptPath(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const candidates = [env.MUSE_AGENT_SCRIPT, path.join(__dirname, 'agent.js'), path.join(__dirname, '..', '..', 'agent', 'agentMain.js')];
  for (const c of candidates) {
    if (!c) continue;
    try {
      await fs.access(c);
      return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
}
