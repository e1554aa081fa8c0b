/**
 * Runs the built CLI (`node dist/cli.js`) as a real child process, with its own data and config
 * folders, for the integration tests.
 */
import { execFileSync, spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import * as path from 'path';
import { repoRoot } from './repoRoot';

/** Bundles the CLI (dist/cli.js). */
export function buildCli(): string {
  const root = repoRoot();
  execFileSync(process.execPath, ['esbuild.js'], { cwd: root, stdio: 'pipe' });
  return path.join(root, 'dist', 'cli.js');
}

export interface MuseResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface MuseOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
}

/** Starts `muse args...`; the caller reads and waits. */
export function spawnMuse(args: string[], o: MuseOptions): ChildProcess & { result: Promise<MuseResult>; out: () => string; err: () => string } {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), ...args], {
    cwd: o.cwd,
    // The per-user agent only where a test gives it a folder of its own (test/cluster/agent.test.ts):
    // others log in directly, and leave no agent behind or share one with another checkout's tests.
    env: o.env.MUSE_AGENT_DIR ? o.env : { MUSE_NO_AGENT: '1', ...o.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(o.input ?? '');
  const result = new Promise<MuseResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return Object.assign(child, { result, out: () => stdout, err: () => stderr });
}

/** Runs `muse args...` to its end. */
export function runMuse(args: string[], o: MuseOptions): Promise<MuseResult> {
  return spawnMuse(args, o).result;
}

