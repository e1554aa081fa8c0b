/**
 * Which ssh-agent the Muse agent's logins use. The Muse agent outlives the session that started
 * it, so the `SSH_AUTH_SOCK` it inherited may be an old session's, gone (a new login, a
 * reconnected forwarding). Each client says its own in the handshake; a call adopts its
 * client's socket when it is alive and the user's, so the next login uses the current one.
 */
import { promises as fs } from 'fs';
import * as path from 'path';

/**
 * True when `sock` may serve this process's logins: an absolute path to a Unix socket that this
 * user owns (the socket folder is the user's only, but the path still comes from outside). Off
 * Unix (Windows' pipe names) nothing is adopted.
 */
export async function usableAuthSock(sock: unknown): Promise<boolean> {
  if (typeof sock !== 'string' || process.platform === 'win32' || !path.isAbsolute(sock)) return false;
  try {
    const st = await fs.stat(sock);
    const uid = process.getuid?.();
    return st.isSocket() && (uid === undefined || st.uid === uid);
  } catch {
    return false;
  }
}

/**
 * Points `env.SSH_AUTH_SOCK` (read by each login) at `sock` when it is usable and differs;
 * returns whether it changed.
 */
export async function adoptAuthSock(env: NodeJS.ProcessEnv, sock: unknown): Promise<boolean> {
  if (sock === env.SSH_AUTH_SOCK || !(await usableAuthSock(sock))) return false;
  env.SSH_AUTH_SOCK = sock as string;
  return true;
}
