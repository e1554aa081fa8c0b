/**
 * A minimal stand-in for the local runner, used by the ws test server only until
 * `src/core/backends/local/localBackend.ts` exists. Same constructor and the `Backend` methods
 * the server calls; runs `sh -c` (through `singularity exec` when an image is configured)
 * in a run folder, writing `__WS__stdout.txt`, `__WS__stderr.txt` and an exit-code file.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { stageInputs } from '../../src/core/transfer/stage';
import { zipDirectory } from '../../src/core/transfer/zip';
import type { ResultOutcome, StateReport, SubmitRequest } from '../../src/core/model';
import type { RunRef, SubmitResult } from '../../src/core/backend';

/** The part of `Backend` the ws test server needs from a runner. */
export interface RunEngine {
  submit(req: SubmitRequest): Promise<SubmitResult>;
  states(runs: RunRef[]): Promise<Map<string, StateReport | Error>>;
  results(run: RunRef, destFile: string): Promise<ResultOutcome>;
  content(run: RunRef, destFile: string): Promise<{ path: string; bytes: number }>;
  /** The last `maxBytes` of an output stream, when the runner offers it. */
  tail?(run: RunRef, stream: 'stdout' | 'stderr', maxBytes: number): Promise<string>;
}

export interface StandInOptions {
  root: string;
  images?: Record<string, string>;
  singularityCommand?: string;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function zipDir(dir: string, dest: string): Promise<number> {
  return (await zipDirectory(dir, dest)).bytes;
}

export class StandInRunner implements RunEngine {
  constructor(private readonly opts: StandInOptions) {}

  async submit(req: SubmitRequest): Promise<SubmitResult> {
    const key = crypto.randomUUID();
    const dir = path.join(this.opts.root, key);
    await fs.promises.mkdir(dir, { recursive: true });
    await stageInputs(req.files ?? [], req.filesOrder, dir);
    const image = this.opts.images?.[req.software];
    const line = image
      ? `${shQuote(this.opts.singularityCommand ?? 'singularity')} exec ${req.cmdOption ?? ''} ${shQuote(image)} ${req.cmd}`
      : req.cmd;
    const script = `( ${line} ) >__WS__stdout.txt 2>__WS__stderr.txt; echo $? >.exit.tmp; mv .exit.tmp .exit`;
    const child = spawn('sh', ['-c', script], { cwd: dir, detached: true, stdio: 'ignore' });
    child.unref();
    return { key, location: dir, noContainer: !image };
  }

  async states(runs: RunRef[]): Promise<Map<string, StateReport | Error>> {
    const out = new Map<string, StateReport | Error>();
    for (const run of runs) {
      const dir = path.join(this.opts.root, run.key ?? '');
      if (!run.key || !fs.existsSync(dir)) {
        out.set(run.id, new Error(`No run ${run.key}`));
        continue;
      }
      let code: string | undefined;
      try {
        code = (await fs.promises.readFile(path.join(dir, '.exit'), 'utf8')).trim();
      } catch {
        code = undefined;
      }
      if (code === undefined) out.set(run.id, { state: 'waiting', raw: { slurmState: 'RUNNING' } });
      else {
        const exitCode = Number(code);
        out.set(run.id, { state: exitCode === 0 ? 'ok' : 'failed', raw: { exitCode } });
      }
    }
    return out;
  }

  async results(run: RunRef, destFile: string): Promise<ResultOutcome> {
    const dir = path.join(this.opts.root, run.key ?? '');
    const stdout = path.join(dir, '__WS__stdout.txt');
    switch (run.request.returnedType) {
      case 'stdout':
        return { kind: 'stdout', text: await fs.promises.readFile(stdout, 'utf8') };
      case 'stdout.txt':
        await fs.promises.copyFile(stdout, destFile);
        return { kind: 'file', path: destFile, bytes: (await fs.promises.stat(destFile)).size };
      default:
        return { kind: 'file', path: destFile, bytes: await zipDir(dir, destFile) };
    }
  }

  async content(run: RunRef, destFile: string): Promise<{ path: string; bytes: number }> {
    return { path: destFile, bytes: await zipDir(path.join(this.opts.root, run.key ?? ''), destFile) };
  }
}
