/**
 * A connection pool for one origin that reuses an idle keep-alive connection before opening
 * another. undici's own Pool (7.2x and later) opens a second connection for sequential
 * requests: before reusing an idle socket it checks it for one event-loop turn (GHSA-35p6-
 * xmwp-9g52), during which the client reports itself busy, and the Pool then hands the request
 * to a new client. State polls of the web API thus alternated between two connections (each
 * one more TCP handshake at a distance, and one more socket on the server). Here a request goes
 * to a client with nothing queued or running, connected ones first; a new client is made only
 * when every one is in use (parallel state reads, a download beside a poll), up to a bound.
 */
import type { Dispatcher } from 'undici';

/** Connections per origin at most (the state loop reads 4 at once, a download may run beside). */
const MAX_CLIENTS = 8;

/** An undici `Agent` factory making an idle-first pool per origin (undici is passed in: it is loaded lazily). */
export function idleFirstPoolFactory(u: typeof import('undici')): (origin: string | URL, opts: object) => Dispatcher {
  class IdleFirstPool extends u.Dispatcher {
    private readonly clients: import('undici').Client[] = [];
    private closing = false;

    constructor(
      private readonly origin: string | URL,
      private readonly opts: object,
    ) {
      super();
    }

    private pick(): import('undici').Client {
      const free = this.clients.filter((c) => !c.destroyed && !c.closed && c.stats.size === 0);
      const reuse = free.find((c) => c.stats.connected) ?? free[0];
      if (reuse) return reuse;
      const live = this.clients.filter((c) => !c.destroyed && !c.closed);
      if (live.length < MAX_CLIENTS) {
        const c = new u.Client(this.origin, this.opts);
        // The Agent counts connections by these events (and drops a pool left with none).
        // (Typed loosely: the typings overload each event name separately.)
        const relay = c as unknown as { on(ev: string, f: (origin: URL, targets: Dispatcher[], err?: Error) => void): void };
        const emit = this.emit.bind(this) as unknown as (ev: string, ...args: unknown[]) => boolean;
        for (const ev of ['connect', 'disconnect', 'connectionError', 'drain']) {
          relay.on(ev, (origin, targets, err) => emit(ev, origin, [this, ...targets], err));
        }
        this.clients.splice(0, this.clients.length, ...live, c);
        return c;
      }
      return live.reduce((a, b) => (b.stats.size < a.stats.size ? b : a));
    }

    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      if (this.closing) throw new u.errors.ClientClosedError();
      return this.pick().dispatch(opts, handler);
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      this.closing = true;
      const p = Promise.all(this.clients.map((c) => c.close().catch(() => undefined))).then(() => undefined);
      if (!callback) return p;
      void p.then(callback);
    }

    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
      this.closing = true;
      const err = typeof a === 'function' ? null : (a ?? null);
      const callback = typeof a === 'function' ? a : b;
      const p = Promise.all(this.clients.map((c) => c.destroy(err).catch(() => undefined))).then(() => undefined);
      if (!callback) return p;
      void p.then(callback);
    }
  }
  return (origin, opts) => new IdleFirstPool(origin, opts);
}
