/**
 * Runs a helper script of test/support in a real child process, both from the TypeScript
 * sources (inner loop, through tsx) and from the compiled tests in out/ (scripts/test.sh).
 */
import { spawn } from 'child_process';
import * as path from 'path';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `test/support/<name>` (.ts or .js, whichever this file is) with `args`. */
export function spawnSupportScript(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildResult> {
  const ts = __filename.endsWith('.ts');
  const script = path.join(__dirname, `${name}${ts ? '.ts' : '.js'}`);
  const nodeArgs = ts ? ['--require', 'tsx/cjs', script, ...args] : [script, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
