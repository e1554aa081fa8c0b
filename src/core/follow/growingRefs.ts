/**
 * The references to sent files (links, runFilePaths.ts) in a followed document that grows at its
 * end: each call scans only the lines completed since the last one (and the unfinished last
 * line), so the link provider's work per update follows the new text, not the document's size
 * (VS Code asks for all the links again after every change). Pure.
 */
import { findRunFileRefs } from '../failure/runFilePaths';
import type { RunFileRef } from '../failure/runFilePaths';

/** A growing document as the scan sees it. */
export interface GrowingText {
  /** Its first line: when it changes (the kept part was trimmed, the text replaced), all is scanned again. */
  firstLine: string;
  /** The offset where its last, unfinished line starts (everything before is whole lines). */
  lastLineStart: number;
  /** Its length. */
  length: number;
  /** The text between two offsets. */
  read(from: number, to: number): string;
}

export class GrowingRefs {
  private key?: string;
  private scannedTo = 0;
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
    const key = `${doc.firstLine}\0${runDir ?? ''}`;
    if (key !== this.key || doc.lastLineStart < this.scannedTo) {
      this.key = key;
      this.scannedTo = 0;
      this.found = [];
    }
    if (doc.lastLineStart > this.scannedTo && this.found.length < this.max) {
      this.found.push(...this.scan(doc, this.scannedTo, doc.lastLineStart, runDir, this.max - this.found.length));
    }
    this.scannedTo = Math.max(this.scannedTo, doc.lastLineStart);
    // The unfinished last line is read again at each call (it may still grow).
    const tail = this.found.length < this.max && doc.length > doc.lastLineStart ? this.scan(doc, doc.lastLineStart, doc.length, runDir, this.max - this.found.length) : [];
    return tail.length ? [...this.found, ...tail] : this.found;
  }

  private scan(doc: GrowingText, from: number, to: number, runDir: string | undefined, max: number): RunFileRef[] {
    const text = doc.read(from, to);
    this.readChars += text.length;
    return findRunFileRefs(text, this.sent, runDir, max).map((r) => ({ ...r, start: r.start + from, end: r.end + from }));
  }
}
