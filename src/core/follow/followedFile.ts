/**
 * A followed output kept as a file that an editor shows (the extension's Follow Output): a head
 * (the web API's refresh rate), the kept text (keptText.ts) and a tail (how the run ended), with
 * only the new text appended at each update. The whole file is written again only when the
 * kept part was trimmed (about once per half of the limit), so the work per update follows
 * the new bytes, not the document's size. Writes are asynchronous and in order. Text can also
 * be held (kept, not written: a document nobody sees) and written at the next `flush`, as one
 * append, or one whole-file write when the kept part was trimmed meanwhile.
 */
import * as fs from 'fs';
import * as path from 'path';
import { KeptText } from './keptText';

/** How many of the file's last characters `writtenEnd` keeps. */
const END_CHARS = 200;

export class FollowedFile {
  private readonly kept: KeptText;
  private tail = '';
  private io: Promise<void>;
  /**
   * Text kept but not written yet (the end of the kept text), as it came: written as it is, since
   * slicing it off the end of the kept text would copy all of it (up to the limit) at every update.
   */
  private held: string[] = [];
  /** The kept part was trimmed while text was held: the next write is the whole file. */
  private heldTrim = false;
  /** The last line is set but not written yet. */
  private tailHeld = false;
  /** Characters written so far, and whole-file writes (tests, benches). */
  writtenChars = 0;
  rewrites = 0;
  /** The file's last characters once the queued writes are done (an editor showing it ends so). */
  writtenEnd = '';

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
    this.writtenEnd = head.slice(-END_CHARS);
    this.io = fs.promises.mkdir(path.dirname(file), { recursive: true }).then(() => fs.promises.writeFile(file, head));
    this.io = this.io.catch(onError);
  }

  /**
   * Appends output text; the file gets only this text (and any held before it), unless the kept
   * part had to be trimmed. With `hold`, the text is kept but not written until `flush`.
   */
  append(text: string, hold = false): void {
    if (!text || this.tail) return;
    if (this.kept.append(text)) {
      this.heldTrim = true;
      this.held = [];
    } else if (!this.heldTrim) {
      this.held.push(text);
    }
    if (!hold) this.flush();
  }

  /** True while held text (or the last line) waits for `flush`. */
  get holding(): boolean {
    return this.held.length > 0 || this.heldTrim || this.tailHeld;
  }

  /** Writes the held text, if any: one append, or the whole file when the kept part was trimmed. */
  flush(): void {
    if (!this.holding) return;
    const tail = this.tailHeld ? this.tail : '';
    if (this.heldTrim) {
      this.rewrites++;
      this.write(this.head + this.kept.text + this.tail, false);
    } else {
      this.write(this.held.join('') + tail, true);
    }
    this.held = [];
    this.heldTrim = false;
    this.tailHeld = false;
  }

  /**
   * Ends the document with a last line (how the run ended, why it stopped); later text is
   * ignored. With `hold`, written at the next `flush` with the held text.
   */
  end(line: string, hold = false): void {
    if (this.tail) return;
    this.tail = `${this.kept.endsInLine() ? '\n' : ''}${line}`;
    this.tailHeld = true;
    if (!hold) this.flush();
  }

  /** True once `end` was called. */
  get ended(): boolean {
    return this.tail !== '';
  }

  /** Sets the file's modification time to now, after the writes queued so far (an editor reads it again). */
  touch(): Promise<void> {
    this.io = this.io.then(() => fs.promises.utimes(this.file, new Date(), new Date())).catch(() => undefined);
    return this.io;
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
    this.writtenEnd = (append ? this.writtenEnd + text : text).slice(-END_CHARS);
    this.io = this.io.then(() => (append ? fs.promises.appendFile(this.file, text) : fs.promises.writeFile(this.file, text))).catch(this.onError);
  }
}
