import { isMuseError } from '../core/errors';
import type { MuseError } from '../core/errors';

/** The token side of one ws profile, as a renewal needs it (Auth provides it; no vscode here). */
export interface TokenKeeper {
  /** True when the stored token can be sent: present, and not expired nor about to be. */
  usable(): Promise<boolean>;
  /**
   * Renews the token once: silently with a remembered password, else (only when `interactive`)
   * by one question. True when a new token is stored.
   */
  renew(interactive: boolean): Promise<boolean>;
  /** The error of an operation that needs a token when there is none and none could be had. */
  notSignedIn(): MuseError;
}

/**
 * The token budget of one user gesture (or one background poll) on one profile: at most one
 * renewal, whether it happens before an operation that sends the token (`ensureToken`) or after
 * an operation refused for its token (`run`), and then at most one retry. Never a loop: a second
 * refusal is thrown as it is. Without a keeper (profiles that have no token) it only runs the
 * operations.
 */
export class Renewal {
  private renewed = false;

  constructor(
    private readonly keeper: TokenKeeper | undefined,
    /** A user's gesture: the renewal may ask. Background work renews silently, at most. */
    readonly interactive: boolean,
  ) {}

  /**
   * Before an operation that sends the token (an upload): a token expired or about to expire is
   * renewed now rather than sent to a refusal. Throws `keeper.notSignedIn()` when none can be had.
   */
  async ensureToken(): Promise<void> {
    if (!this.keeper || (await this.keeper.usable())) return;
    if (this.renewed || !(await this.renewOnce())) throw this.keeper.notSignedIn();
  }

  /**
   * Runs `op`; when it fails for its token (`auth`) and this gesture has not renewed yet, renews
   * (see `TokenKeeper.renew`), calls `beforeRetry`, and runs `op` once more.
   */
  async run<T>(op: () => PromiseLike<T>, beforeRetry?: (refusal: unknown) => Promise<void> | void): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (!this.keeper || this.renewed || !isMuseError(e, 'auth')) throw e;
      if (!(await this.renewOnce())) throw e;
      await beforeRetry?.(e);
      return op();
    }
  }

  private renewOnce(): Promise<boolean> {
    this.renewed = true;
    return this.keeper!.renew(this.interactive);
  }
}
