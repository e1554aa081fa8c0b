/**
 * Fault switches of the ws test server: each one makes the next matching requests fail in
 * one of the ways a real network or a real Django service fails.
 */

/** What a fault does to a matching request. */
export type FaultKind = 'delay' | 'status500' | 'malformed' | 'reset' | 'truncate' | 'errorBody';

export interface Fault {
  kind: FaultKind;
  /** Tested against the request's path and query (`/api/software/muse/state/...`); all when absent. */
  path?: RegExp;
  /** How many matching requests it applies to; every one when absent. */
  times?: number;
  /** For `delay`: how long to wait before answering normally (default 1000 ms). */
  delayMs?: number;
}

/**
 * The active faults. `set` adds one; a request takes the first fault that matches it and
 * still has `times` left; `clear` removes them all.
 */
export class FaultSet {
  private faults: Fault[] = [];

  /** Adds a fault (a copy: the caller's object is not changed as `times` runs down). */
  set(f: Fault): void {
    if (f.times !== undefined && (!Number.isInteger(f.times) || f.times < 1)) {
      throw new Error(`fault "times" must be a positive integer, got ${f.times}`);
    }
    this.faults.push({ ...f });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault for this request, counted as used; undefined when none applies. */
  take(pathAndQuery: string): Fault | undefined {
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i];
      if (f.path) {
        f.path.lastIndex = 0; // a /g or /y RegExp keeps state between tests otherwise
        if (!f.path.test(pathAndQuery)) continue;
      }
      if (f.times !== undefined) {
        f.times -= 1;
        if (f.times <= 0) this.faults.splice(i, 1);
      }
      return f;
    }
    return undefined;
  }
}
