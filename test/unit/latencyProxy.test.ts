import * as assert from 'assert';
import * as net from 'net';
import { LatencyProxy } from '../support/latencyProxy';

/** An echo server that also ends its side when the client ends. */
async function echoServer(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

function connect(proxy: LatencyProxy): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `text` and resolves with the echo, and how long it took. */
async function roundTrip(s: net.Socket, text: string): Promise<{ echo: string; ms: number }> {
  const started = performance.now();
  let got = '';
  return new Promise((resolve) => {
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        resolve({ echo: got, ms: performance.now() - started });
      }
    };
    s.on('data', onData);
    s.write(text);
  });
}

describe('test support: the latency proxy', () => {
  let server: net.Server;
  let proxy: LatencyProxy;
  beforeEach(async () => {
    server = await echoServer();
    proxy = await LatencyProxy.start({ targetHost: '127.0.0.1', targetPort: (server.address() as net.AddressInfo).port, rttMs: 80 });
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((r) => server.close(r));
  });

  it('adds at least the round-trip time to a request and its answer, and counts the turns', async () => {
    const s = await connect(proxy);
    const a = await roundTrip(s, 'ping');
    const b = await roundTrip(s, 'pong');
    assert.strictEqual(a.echo, 'ping');
    assert.strictEqual(b.echo, 'pong');
    assert.ok(a.ms >= 75 && b.ms >= 75, `round trips took ${a.ms.toFixed(1)} and ${b.ms.toFixed(1)} ms, not >= 80`);
    assert.strictEqual(proxy.stats.connections, 1);
    assert.strictEqual(proxy.stats.turns, 1, 'the second request follows an answer: one turn');
    assert.strictEqual(proxy.stats.bytesUp, 8);
    assert.strictEqual(proxy.stats.bytesDown, 8);
    s.destroy();
  });

  it('keeps the order of many chunks and passes a half-close on after the data before it', async () => {
    const s = await connect(proxy);
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    const parts = Array.from({ length: 200 }, (_, i) => `${i};`);
    for (const p of parts) s.write(p);
    s.end();
    await ended;
    assert.strictEqual(got, parts.join(''));
  });

  it('cutAll drops open connections like a network cut, and the proxy takes new ones', async () => {
    const s = await connect(proxy);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => undefined);
    proxy.cutAll();
    await closed;
    const again = await connect(proxy);
    assert.strictEqual((await roundTrip(again, 'x')).echo, 'x');
    again.destroy();
  });
});
