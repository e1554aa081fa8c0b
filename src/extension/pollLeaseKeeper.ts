import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { PollLease } from '../core/pollLease';
import type { Poller } from '../core/poller';
import type { Log } from './log';

/** How often the lease is renewed (and a free one looked for): a third of its 30 s life. */
const RENEW_MS = 10_000;

/**
 * Keeps this window's poll lease (src/core/pollLease.ts) and turns the poller on while it holds
 * it: one window polls for the user, the others follow the run store. A window that gains focus
 * takes the lease over; a closed window gives it up; a crashed one loses it when it expires.
 */
export class PollLeaseKeeper implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly focusSub: vscode.Disposable;

  /**
   * @param whileHeld called at each renewal while this window holds the lease: the user's
   *   housekeeping, done by one window (abandoned submissions marked, for one)
   */
  constructor(
    readonly lease: PollLease,
    private readonly poller: Poller,
    private readonly log: Log,
    private readonly whileHeld: () => Promise<void> = async () => undefined,
  ) {
    // Until the lease is known, this window does not poll (another one may).
    poller.setEnabled(false);
    this.focusSub = vscode.window.onDidChangeWindowState((e) => {
      if (e.focused) void this.sync(true);
    });
    void this.sync(vscode.window.state.focused);
  }

  /** True while this window holds the lease (it polls and announces runs submitted elsewhere). */
  get held(): boolean {
    return this.lease.held;
  }

  private async sync(steal: boolean): Promise<void> {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const was = this.lease.held;
    const held = await this.lease.acquire({ steal });
    if (this.disposed) return;
    if (held !== was) this.log.info(held ? 'this window polls for the user (poll lease taken)' : 'another window polls for the user (poll lease lost)');
    this.poller.setEnabled(held);
    if (held) await this.whileHeld().catch((e: unknown) => this.log.warn(errorMessage(e)));
    if (this.disposed) return;
    // One renewal timer, however many syncs overlapped (a focus change during a renewal).
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sync(false), RENEW_MS);
    this.timer.unref?.();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.focusSub.dispose();
    void this.lease.release();
  }
}
