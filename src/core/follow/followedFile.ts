/**
 * A followed output kept as a file that an editor shows (the extension's Follow Output): a head
 * (the web API's refresh rate), the kept text (keptText.ts) and a tail (how the run ended), with
 * only the new text appended at each update. The whole file is written again only when the
 * kept part was trimmed (about once per half of the limit), so the work per update follows
 * the new bytes, not the document's size. Writes are asynchronous and in order.
 */
import * as fs from 'fs';
import * as path from 'path';
import { KeptText } from './keptText';

export class FollowedFile {
  private readonly kept: KeptText;
  private tail = '';
  private io: Promise<void>;
  /** Characters written so far, and whole-file writes (tests, benches). */
  writtenChars = 0;
  rewrites = 0;

  /**
   * @param file the file written (its folder is made)
   * @param head lines shown above the output
   * @param limit characters of output kept
   * @param whereWhole where the whole output is, named once its beginning is dropped
   * @param onError a write failed (the document no longer matches the output)
   */
  constructor(
    readonly file: string,
    private readonly head: string,
    limit: number,
    whereWhole: string,
    private readonly onError: (e: unknown) => void,
  ) {
    this.kept = new KeptText(limit, whereWhole);
    this.io = fs.promises.mkdir(path.dirname(file), { recursive: true }).then(() => fs.promises.writeFile(file, head));
    this.io = this.io.catch(onError);
  }

  /** Appends output text; the file gets only this text, unless the kept part had to be trimmed. */
  append(text: string): void {
    if (!text || this.tail) return;
    if (this.kept.append(text)) {
      this.rewrites++;
      this.write(this.head + this.kept.text, false);
    } else {
      this.write(text, true);
    }
  }

  /** Ends the document with a last line (how the run ended, why it stopped); later text is ignored. */
  end(line: string): void {
    if (this.tail) return;
    this.tail = `${this.kept.endsInLine() ? '\n' : ''}${line}`;
    this.write(this.tail, true);
  }

  /** True once `end` was called. */
  get ended(): boolean {
    return this.tail !== '';
  }

  /** Resolves once every queued write is done. */
  settled(): Promise<void> {
    return this.io;
  }

  /** Removes the file once the queued writes are done. */
  remove(): Promise<void> {
    this.io = this.io.then(() => fs.promises.rm(this.file, { force: true })).catch(() => undefined);
    return this.io;
  }

  private write(text: string, append: boolean): void {
    this.writtenChars += text.length;
    this.io = this.io.then(() => (append ? fs.promises.appendFile(this.file, text) : fs.promises.writeFile(this.file, text))).catch(this.onError);
  }
}
