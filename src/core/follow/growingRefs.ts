/**
 * The references to sent files (links, runFilePaths.ts) in a followed document that grows at its
 * end: each call scans only the lines completed since the last one (and the unfinished last
 * line), so the link provider's work per update follows the new text, not the document's size
 * (VS Code asks for all the links again after every change). When the kept part is trimmed
 * (keptText.ts), the references found are shifted, not searched again: positions are kept in
 * the output's own coordinates. Pure.
 */
import { findRunFileRefs } from '../failure/runFilePaths';
import type { RunFileRef } from '../failure/runFilePaths';

/** A growing document as the scan sees it. */
export interface GrowingText {
  /** Where the output starts in the document (after its head and "not shown" lines). */
  bodyStart: number;
  /** Characters of the output dropped before `bodyStart` (the "N earlier characters not shown" line). */
  dropped: number;
  /** The offset where its last, unfinished line starts (everything before is whole lines). */
  lastLineStart: number;
  /** Its length. */
  length: number;
  /** The text between two offsets. */
  read(from: number, to: number): string;
}

/** The characters dropped, from a followed document's "[N earlier characters not shown: ...]" line. */
export function droppedOf(line: string): number | undefined {
  const m = /^\[(\d+) earlier characters not shown/.exec(line);
  return m ? Number(m[1]) : undefined;
}

export class GrowingRefs {
  private runDir?: string;
  /** Output offset (dropped characters included) up to which whole lines were scanned. */
  private scannedTo = 0;
  /** References in output offsets. */
  private found: RunFileRef[] = [];
  /** Characters read so far (tests: the work per update). */
  readChars = 0;

  /**
   * @param sent the run-folder names of the files that were sent
   * @param max at most this many references kept
   */
  constructor(
    private readonly sent: readonly string[],
    private readonly max = 2000,
  ) {}

  /** All the references in `doc`, in text order; `runDir` is the run folder on the cluster, if any. */
  refs(doc: GrowingText, runDir?: string): RunFileRef[] {
    // Document offset = output offset + origin.
    const origin = doc.bodyStart - doc.dropped;
    const lastLine = doc.lastLineStart - origin;
    if (runDir !== this.runDir || lastLine < this.scannedTo) {
      // Another run folder, or the text was replaced (not only grown or trimmed): all again.
      this.runDir = runDir;
      this.scannedTo = 0;
      this.found = [];
    }
    // What was trimmed is no longer linked; scanning goes on from the first kept character.
    if (this.found.length > 0 && this.found[0]!.start < doc.dropped) this.found = this.found.filter((r) => r.start >= doc.dropped);
    this.scannedTo = Math.max(this.scannedTo, doc.dropped);
    if (lastLine > this.scannedTo && this.found.length < this.max) {
      this.found.push(...this.scan(doc, this.scannedTo + origin, doc.lastLineStart, runDir, this.max - this.found.length, -origin));
    }
    this.scannedTo = Math.max(this.scannedTo, lastLine);
    const shown = this.found.map((r) => ({ ...r, start: r.start + origin, end: r.end + origin }));
    // The unfinished last line is read again at each call (it may still grow).
    if (this.found.length < this.max && doc.length > doc.lastLineStart) shown.push(...this.scan(doc, doc.lastLineStart, doc.length, runDir, this.max - this.found.length, 0));
    return shown;
  }

  /** References between two document offsets, moved by `shift`. */
  private scan(doc: GrowingText, from: number, to: number, runDir: string | undefined, max: number, shift: number): RunFileRef[] {
    const text = doc.read(from, to);
    this.readChars += text.length;
    return findRunFileRefs(text, this.sent, runDir, max).map((r) => ({ ...r, start: r.start + from + shift, end: r.end + from + shift }));
  }
}
