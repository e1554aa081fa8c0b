/**
 * Output bytes made into text to show, chunk by chunk, as a terminal would show the end state:
 * UTF-8 decoded across chunk boundaries (invalid bytes become U+FFFD), carriage-return progress
 * lines collapsed to their last state, and control characters (terminal escape sequences among
 * them) shown as visible symbols, never interpreted. Only appended text comes out.
 */
import { StringDecoder } from 'string_decoder';

/** Control characters other than tab and line feed, shown as their Unicode "control pictures". */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** `\x1b` becomes `␛`, `\x07` `␇`...: visible, and inert in an editor or a terminal. */
export function showControls(text: string): string {
  return text.replace(CONTROL, (c) => String.fromCharCode(c === '\x7f' ? 0x2421 : 0x2400 + c.charCodeAt(0)));
}

/**
 * The text of one output file as it grows. `push` returns the text to append for new bytes;
 * a line still being rewritten by `\r` is held back until its line feed (or `end`).
 */
export class OutputText {
  private decoder = new StringDecoder('utf8');
  /** The unfinished line held back because it holds a `\r`. */
  private held = '';
  /** True when the unfinished line's beginning was already given out (it had no `\r` yet). */
  private midLine = false;

  /** The text to append for these new bytes. */
  push(data: Buffer): string {
    return this.take(this.decoder.write(data), false);
  }

  /** The text left at the end of the file (a held progress line, an unfinished character). */
  end(): string {
    const out = this.take(this.decoder.end(), true);
    this.decoder = new StringDecoder('utf8');
    return out;
  }

  /**
   * Starts again on new bytes that do not follow the previous ones (a skipped part, a rewritten
   * file): the held line is dropped, and continuation bytes at the start of `data` are skipped.
   */
  reset(): string {
    const unfinished = this.midLine ? '\n' : '';
    this.decoder = new StringDecoder('utf8');
    this.held = '';
    this.midLine = false;
    return unfinished;
  }

  /** True when what was given out ends in the middle of a line. */
  get inLine(): boolean {
    return this.midLine;
  }

  private take(decoded: string, final: boolean): string {
    const s = this.held + decoded;
    this.held = '';
    if (s === '') return '';
    // Most output has no carriage return: one pass over the whole chunk, not one per line.
    if (!s.includes('\r')) {
      this.midLine = !s.endsWith('\n');
      return showControls(s);
    }
    let out = '';
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      out += this.line(s.slice(start, nl)) + '\n';
      this.midLine = false;
      start = nl + 1;
    }
    const rest = s.slice(start);
    if (rest === '') return out;
    if (final) {
      out += this.line(rest);
      this.midLine = true;
    } else if (rest.includes('\r')) {
      this.held = rest;
    } else {
      out += showControls(rest);
      this.midLine = true;
    }
    return out;
  }

  /** One line's last state: what follows its last `\r` (a `\r\n` ending is a plain line end). */
  private line(raw: string): string {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const cr = text.lastIndexOf('\r');
    if (cr < 0) return showControls(text);
    const last = showControls(text.slice(cr + 1));
    // The line's beginning was already given out: its last state goes on a line of its own.
    return this.midLine ? `\n${last}` : last;
  }
}

/** Skips UTF-8 continuation bytes at the start of a chunk read from the middle of a file. */
export function fromCharacterStart(data: Buffer): Buffer {
  let i = 0;
  while (i < data.length && i < 3 && (data[i]! & 0xc0) === 0x80) i++;
  return data.subarray(i);
}
