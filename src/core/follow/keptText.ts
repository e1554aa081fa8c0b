/**
 * The text of a followed output kept under a size limit: past it, only the last part is kept,
 * under a first line naming where the whole file is. Trimming drops about a quarter of the limit
 * at once, at a line start, so that it happens rarely (each trim is an edit at the top).
 */

/** Default limit of a followed document (8 MB). */
export const DEFAULT_KEEP_BYTES = 8 * 1024 * 1024;

export class KeptText {
  private body = '';
  private dropped = 0;

  /**
   * @param limit characters kept (about bytes for mostly-ASCII output)
   * @param whereWhole where the whole file is, named in the first line once something is dropped
   */
  constructor(
    private readonly limit = DEFAULT_KEEP_BYTES,
    private readonly whereWhole = 'the run folder',
  ) {}

  /** Appends text; true when the beginning was trimmed (the whole text changed, not only its end). */
  append(text: string): boolean {
    const keep = Math.floor(this.limit * 0.5);
    if (this.body.length + text.length > this.limit && text.length >= keep) {
      // What is kept comes from the new text alone (a big catch-up): the old text is not copied.
      let cut = text.length - keep;
      const nl = text.indexOf('\n', cut);
      if (nl >= 0 && nl - cut < 4096) cut = nl + 1;
      this.dropped += this.body.length + cut;
      this.body = text.slice(cut);
      return true;
    }
    this.body += text;
    if (this.body.length <= this.limit) return false;
    let cut = this.body.length - keep;
    const nl = this.body.indexOf('\n', cut);
    if (nl >= 0 && nl - cut < 4096) cut = nl + 1;
    this.dropped += cut;
    this.body = this.body.slice(cut);
    return true;
  }

  /** Counts characters dropped before this text was seen (the backend skipped them). */
  skipped(count: number): void {
    this.dropped += count;
  }

  /** The header line, when something was dropped. */
  get header(): string {
    return this.dropped > 0 ? `[${this.dropped} earlier characters not shown: the whole file is ${this.whereWhole}]\n` : '';
  }

  /** True when the kept text ends inside a line (something follows on a line of its own). */
  endsInLine(): boolean {
    return this.body !== '' && !this.body.endsWith('\n');
  }

  /** All the kept text, with its header. */
  get text(): string {
    return this.header + this.body;
  }
}
