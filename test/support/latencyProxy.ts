/**
 * A TCP proxy that adds latency, for tests and benches "at a real distance": every chunk is held
 * `rttMs / 2` in each direction before it is passed on, in order, so an SSH or HTTP scenario run
 * through it sees the round trips a user 20-150 ms from the cluster sees. (`tc netem` is not
 * available on these machines: the kernel has no `sch_netem`.)
 *
 * It also counts what a user waits for: connections, bytes each way, and "turns" (a burst from
 * the client that follows data from the server, which is one round trip of a request/answer
 * protocol once the client waits for the answer).
 */
import * as net from 'net';

export interface LatencyProxyOptions {
  /** Where connections go. */
  targetHost: string;
  targetPort: number;
  /** Round-trip time added (half each way); 0 passes chunks on at once, still in order. */
  rttMs: number;
  /** Address to listen on (default 127.0.0.1, port chosen by the system). */
  host?: string;
}

/** What went through the proxy since it started (or since `resetStats`). */
export interface LatencyProxyStats {
  connections: number;
  bytesUp: number;
  bytesDown: number;
  /** Client bursts that followed server data, summed over connections. */
  turns: number;
}

/** Pause the sending side past this many queued bytes in one direction. */
const HIGH_WATER = 4 * 1024 * 1024;

/** One direction of one connection: chunks held until they are due, then written in order. */
class DelayedPipe {
  private readonly queue: { due: number; chunk: Buffer | null }[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly delayMs: number,
    onChunk: (n: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      onChunk(chunk.length);
      this.push(chunk);
    });
    // A half-close is passed on after the same delay, so that protocols ending with one work.
    from.on('end', () => this.push(null));
  }

  private push(chunk: Buffer | null): void {
    this.queue.push({ due: Date.now() + this.delayMs, chunk });
    if (chunk) {
      this.queued += chunk.length;
      if (this.queued > HIGH_WATER) this.from.pause();
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].due - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].due <= now) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed) return;
      if (chunk === null) {
        this.to.end();
        continue;
      }
      this.queued -= chunk.length;
      this.to.write(chunk);
    }
    if (this.queued <= HIGH_WATER && this.from.isPaused()) this.from.resume();
    this.arm();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** A running latency proxy; `port` is where clients connect. */
export class LatencyProxy {
  readonly stats: LatencyProxyStats = { connections: 0, bytesUp: 0, bytesDown: 0, turns: 0 };
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  private rttMs: number;

  private constructor(private readonly opts: LatencyProxyOptions) {
    this.rttMs = opts.rttMs;
    // Half-open sockets: an end is passed on after the data queued before it, not at once.
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
  }

  /** Starts a proxy in front of `targetHost:targetPort`. */
  static async start(opts: LatencyProxyOptions): Promise<LatencyProxy> {
    const p = new LatencyProxy(opts);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as net.AddressInfo).address;
  }

  /** Changes the added round-trip time for connections made from now on. */
  setRtt(rttMs: number): void {
    this.rttMs = rttMs;
  }

  resetStats(): void {
    Object.assign(this.stats, { connections: 0, bytesUp: 0, bytesDown: 0, turns: 0 });
  }

  /** Drops every open connection at once (a network cut), without stopping the proxy. */
  cutAll(): void {
    // A reset, not a FIN: the peers see the connection fail, not end.
    for (const s of this.sockets) s.resetAndDestroy();
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    const upstream = net.connect({ host: this.opts.targetHost, port: this.opts.targetPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      this.sockets.add(s);
    }
    const half = this.rttMs / 2;
    let lastWasDown = false;
    const up = new DelayedPipe(client, upstream, half, (n) => {
      this.stats.bytesUp += n;
      if (lastWasDown) this.stats.turns++;
      lastWasDown = false;
    });
    const down = new DelayedPipe(upstream, client, half, (n) => {
      this.stats.bytesDown += n;
      lastWasDown = true;
    });
    const teardown = (): void => {
      up.dispose();
      down.dispose();
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    // An error on either side ends both: a cut is a cut, as on a real network. A clean close
    // comes by itself once both halves were ended in turn.
    for (const s of [client, upstream]) {
      s.on('error', teardown);
      s.on('close', () => {
        if (client.destroyed && upstream.destroyed) teardown();
      });
    }
  }
}
