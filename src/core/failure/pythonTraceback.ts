/** The last Python traceback in a run's output: its frames and its exception line. Pure. */

export interface TracebackFrame {
  file: string;
  line: number;
  func?: string;
}

export interface PythonTraceback {
  /** Outermost first, as Python prints them. */
  frames: TracebackFrame[];
  /** `ZeroDivisionError: division by zero` (the whole last line). */
  exception: string;
  /** `ZeroDivisionError`. */
  type: string;
}

const HEAD = 'Traceback (most recent call last):';
const FRAME = /^\s*File "([^"]+)", line (\d+)(?:, in (.+))?\s*$/;
const EXC = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)?)(?::\s?(.*))?$/;

/** The last traceback of `text`, or undefined. */
export function lastPythonTraceback(text: string): PythonTraceback | undefined {
  const at = text.lastIndexOf(HEAD);
  if (at < 0) return undefined;
  const lines = text.slice(at + HEAD.length).split(/\r?\n/);
  const frames: TracebackFrame[] = [];
  for (const l of lines.slice(1)) {
    const m = FRAME.exec(l);
    if (m) {
      frames.push({ file: m[1]!, line: Number(m[2]), func: m[3]?.trim() });
      continue;
    }
    // Source lines and carets are indented; the exception line is the first that is not.
    if (l === '' || /^\s/.test(l)) continue;
    const e = EXC.exec(l.trim());
    const type = e ? e[1]!.split('.').pop()! : l.trim().split(/[:\s]/)[0]!;
    return { frames, exception: l.trim(), type };
  }
  return frames.length ? { frames, exception: '', type: 'Exception' } : undefined;
}
