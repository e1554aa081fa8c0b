/**
 * A failure explained: from the tails of stderr and stdout of a run that ended failed, timed
 * out, out of memory or cancelled, the likely cause in a few words ("ZeroDivisionError at
 * add.py:12"), with the location in the user's own file when the output gives one. Pure: the
 * CLI, the notification, the tree tooltip and the report document all show this one text.
 */
import type { Run } from '../model';
import { lastPythonTraceback } from './pythonTraceback';
import { runFileName } from './runFilePaths';

export type FailureKind = 'traceback' | 'outOfMemory' | 'timeLimit' | 'cancelled' | 'srun' | 'commandNotFound' | 'noSuchFile' | 'container' | 'exitCode' | 'unknown';

/** Where in a sent file the failure points. */
export interface FailureLocation {
  /** The file's name in the run folder (`src/add.py`): found again under the folder it was sent from. */
  name: string;
  /** 1-based. */
  line: number;
}

export interface FailureCause {
  kind: FailureKind;
  /** A few words: `ZeroDivisionError at add.py:12`, `out of memory (Killed)`, `exit code 3`. */
  summary: string;
  /** The line of output it comes from (the exception line, the error line). */
  detail?: string;
  location?: FailureLocation;
}

/** The part of a run the explanation reads. */
export type FailedRun = Pick<Run, 'state' | 'raw' | 'request' | 'location' | 'backend'>;

/** The last line of `text` matching `re` (trimmed). */
function lastLine(text: string, re: RegExp): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) if (re.test(lines[i]!)) return lines[i]!.trim();
  return undefined;
}

const cut = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The likely cause of a failed run, or undefined for a run that did not fail. `stderr` and
 * `stdout` are the tails of the output (a few tens of KB are enough).
 */
export function explainFailure(run: FailedRun, stderr: string, stdout = ''): FailureCause | undefined {
  if (run.state === 'ok' || run.state === 'waiting' || run.state === 'submitting') return undefined;
  const slurm = `${run.raw.usage?.state ?? ''} ${run.raw.slurmState ?? ''}`.toUpperCase();
  const both = `${stdout}\n${stderr}`;

  const timeLine = lastLine(both, /CANCELLED AT .* DUE TO TIME LIMIT/);
  if (timeLine || /TIMEOUT/.test(slurm)) return { kind: 'timeLimit', summary: 'time limit reached', detail: timeLine };

  const oomLine = lastLine(stderr, /oom[-_ ]kill|Out Of Memory|out of memory|Exceeded job memory limit|MemoryError/i) ?? lastLine(stderr, /(^|\s)Killed(\s|$)/);
  if (oomLine || /OUT_OF_MEMORY/.test(slurm)) return { kind: 'outOfMemory', summary: `out of memory${oomLine && /Killed/.test(oomLine) ? ' (Killed)' : ''}`, detail: oomLine };

  const tb = lastPythonTraceback(stderr) ?? lastPythonTraceback(stdout);
  if (tb) {
    const sent = run.request.files;
    const runDir = run.backend === 'ws' ? undefined : run.location;
    // The innermost frame in the user's files; else the innermost frame at all.
    let location: FailureLocation | undefined;
    for (let i = tb.frames.length - 1; i >= 0 && !location; i--) {
      const name = runFileName(tb.frames[i]!.file, sent, runDir);
      if (name) location = { name, line: tb.frames[i]!.line };
    }
    const inner = tb.frames[tb.frames.length - 1];
    const where = location ? `${location.name}:${location.line}` : inner ? `${inner.file.split(/[\\/]/).pop()}:${inner.line}` : undefined;
    return { kind: 'traceback', summary: `${tb.type}${where ? ` at ${where}` : ''}`, detail: cut(tb.exception), location };
  }

  const container = lastLine(stderr, /FATAL:.*(image|container|\.sif)|could not open image|image not found|Failed to (get|pull) image|singularity: command not found|apptainer: command not found/i);
  if (container) return { kind: 'container', summary: `container error: ${cut(container.replace(/^FATAL:\s*/, '').split(': ')[0]!, 100)}`, detail: container };

  const srun = lastLine(stderr, /^\s*srun: error:/);
  if (srun) return { kind: 'srun', summary: cut(srun, 120), detail: srun };

  const notFound = lastLine(stderr, /command not found/);
  if (notFound) {
    const m = /(?:^|:\s)([^\s:]+): command not found/.exec(notFound);
    return { kind: 'commandNotFound', summary: `command not found: ${m ? m[1] : cut(notFound, 80)}`, detail: notFound };
  }

  const noFile = lastLine(stderr, /No such file or directory/);
  if (noFile) return { kind: 'noSuchFile', summary: cut(noFile, 120), detail: noFile };

  if (run.state === 'cancelled') return { kind: 'cancelled', summary: 'cancelled' };
  if (run.raw.exitCode !== undefined) {
    const sig = run.raw.signal ? ` (${run.raw.signal})` : '';
    const last = lastLine(stderr, /\S/);
    return { kind: 'exitCode', summary: `exit code ${run.raw.exitCode}${sig}`, detail: last && cut(last) };
  }
  const last = lastLine(stderr, /\S/);
  return { kind: 'unknown', summary: last ? cut(last, 120) : 'no error message', detail: last };
}

/** The word for how a run ended: `failed`, `timed out`, `out of memory`, `cancelled`. */
export function endWord(run: Pick<Run, 'state'>, cause?: FailureCause): string {
  if (cause?.kind === 'timeLimit') return 'timed out';
  if (cause?.kind === 'outOfMemory') return 'ran out of memory';
  return run.state === 'cancelled' ? 'cancelled' : 'failed';
}

/** One line for people: `failed: ZeroDivisionError at add.py:12`, `timed out (time limit reached)`. */
export function failureLine(run: Pick<Run, 'state'>, cause: FailureCause): string {
  switch (cause.kind) {
    case 'timeLimit':
      return 'timed out (time limit reached)';
    case 'outOfMemory':
      return cause.summary.replace(/^out of memory/, 'ran out of memory');
    case 'cancelled':
      return 'cancelled';
    default:
      return `${endWord(run, cause)}: ${cause.summary}`;
  }
}
