import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processAlive } from '../../src/core/processAlive';
import type { SshProfile } from '../../src/core/profiles';
import { repoRoot } from '../support/repoRoot';

/** What `bash test/cluster/up.sh` wrote to `.cache/cluster/env.json`: how to reach the test cluster. */
export interface ClusterEnv {
  /** sshd's address, always 127.0.0.1. */
  host: string;
  port: number;
  /** The test user (museuser), key login only. */
  user: string;
  /** Private key (OpenSSH ed25519, no passphrase) of the test user. */
  identityFile: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 ...`, for strict host key checking. */
  knownHostsFile: string;
  /** slurm.conf of the cluster; sshd sets SLURM_CONF to it for remote commands. */
  slurmConf: string;
  /** A folder in the test user's home for runs. */
  remoteRoot: string;
  /** Absolute path of the singularity stand-in (also on the remote PATH as `singularity`). */
  singularityCommand: string;
  /** Directory images by software name, readable by the test user. */
  images: Record<string, string>;
  sshdPid: number;
  /**
   * The second sshd (same host key, same user and key), which asks a one-time code after the key
   * (keyboard-interactive through PAM: pam_google_authenticator, TOTP of `secret`).
   */
  twoFactor?: {
    port: number;
    /** Base32 TOTP secret (RFC 6238, 30 s, 6 digits; a code may be reused within its step). */
    secret: string;
    /** One line per code the sshd asked (its PAM stack ran), written by pam_exec. */
    codesLog: string;
    sshdPid: number;
  };
  clusterName: string;
  partition: string;
  nodeName: string;
}

/** Path of env.json; MUSE_CLUSTER_ENV overrides it. */
export function clusterEnvPath(): string {
  return process.env.MUSE_CLUSTER_ENV ?? path.join(repoRoot(), '.cache', 'cluster', 'env.json');
}

/**
 * Reads the test cluster's env.json. Throws an error that says how to start the cluster when it
 * is not up (no env.json, or its sshd is gone).
 */
export function loadClusterEnv(): ClusterEnv {
  const file = clusterEnvPath();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`The test cluster is not up (${file} is missing). Start it with: bash test/cluster/up.sh (root on Debian 12; stop it with test/cluster/down.sh).`);
  }
  let env: ClusterEnv;
  try {
    env = JSON.parse(text) as ClusterEnv;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): run bash test/cluster/up.sh again.`);
  }
  const strings: (keyof ClusterEnv)[] = ['host', 'user', 'identityFile', 'knownHostsFile', 'slurmConf', 'remoteRoot', 'singularityCommand'];
  for (const k of strings) {
    if (typeof env[k] !== 'string' || env[k] === '') throw new Error(`${file} lacks "${k}": run bash test/cluster/up.sh again.`);
  }
  if (!Number.isInteger(env.port) || !Number.isInteger(env.sshdPid) || typeof env.images !== 'object' || env.images === null) {
    throw new Error(`${file} lacks "port", "sshdPid" or "images": run bash test/cluster/up.sh again.`);
  }
  // An sshd run by root exists for a user who may not signal it: processAlive counts EPERM as alive.
  if (!processAlive(env.sshdPid)) {
    throw new Error(`The test cluster is down (its sshd, PID ${env.sshdPid}, is gone). Start it again with: bash test/cluster/up.sh`);
  }
  return env;
}

/**
 * An ssh profile that logs in as the test user with its key, checking the host key strictly, and
 * reads no ~/.ssh/config (an empty ssh_config is written in `dir`). `rest` names the profile and
 * sets the remote root and whatever else the caller needs.
 */
export function clusterSshProfile(env: ClusterEnv, dir: string, rest: Partial<SshProfile> & { name: string; remoteRoot: string }): SshProfile {
  const sshConfigFile = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfigFile, '');
  return {
    kind: 'ssh',
    host: env.host,
    port: env.port,
    user: env.user,
    identityFile: env.identityFile,
    knownHostsFile: env.knownHostsFile,
    sshConfigFile,
    ...rest,
  };
}

/** Arguments for the OpenSSH client (`ssh ARGS... command`) to log in as the test user, strictly. */
export function sshArgs(env: ClusterEnv): string[] {
  return [
    '-i', env.identityFile,
    '-p', String(env.port),
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${env.knownHostsFile}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    `${env.user}@${env.host}`,
  ];
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one remote shell command through the real OpenSSH client; resolves with its outcome. */
export function runSsh(env: ClusterEnv, command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(env), command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh command timed out after ${opts.timeoutMs ?? 60_000} ms: ${command}\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
