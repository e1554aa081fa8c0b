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
  /** Only requests of this method (`GET`: reads only); every method when absent. */
  method?: string;
  /** How many matching requests it applies to; every one when absent. */
  times?: number;
  /** For `delay`: how long to wait before answering normally (default 1000 ms). */
  delayMs?: number;
  /**
   * The share of matching requests it applies to (0..1), spread evenly and the same in every
   * run (0.1: the 10th, 20th, ... matching request): a flaky network without a flaky test.
   */
  rate?: number;
}

/** A fault as kept: with the count of matching requests it has seen (for `rate`). */
type ActiveFault = Fault & { seen: number };

/**
 * The active faults. `set` adds one; a request takes the first fault that matches it and
 * still has `times` left; `clear` removes them all.
 */
export class FaultSet {
  private faults: ActiveFault[] = [];

  /** Adds a fault (a copy: the caller's object is not changed as `times` runs down). */
  set(f: Fault): void {
    if (f.times !== undefined && (!Number.isInteger(f.times) || f.times < 1)) {
      throw new Error(`fault "times" must be a positive integer, got ${f.times}`);
    }
    if (f.rate !== undefined && !(f.rate > 0 && f.rate <= 1)) throw new Error(`fault "rate" must be in (0, 1], got ${f.rate}`);
    this.faults.push({ ...f, seen: 0 });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault for this request, counted as used; undefined when none applies. */
  take(pathAndQuery: string, method?: string): Fault | undefined {
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i];
      if (f.method && method && f.method.toUpperCase() !== method.toUpperCase()) continue;
      if (f.path) {
        f.path.lastIndex = 0; // a /g or /y RegExp keeps state between tests otherwise
        if (!f.path.test(pathAndQuery)) continue;
      }
      if (f.rate !== undefined) {
        f.seen += 1;
        if (Math.floor(f.seen * f.rate) === Math.floor((f.seen - 1) * f.rate)) continue;
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
