/**
 * Web API state polls over one keep-alive connection, counted by the latency proxy in front
 * of the ws test server: back-to-back polls (undici's own pool alternated between two
 * connections) and polls after an idle pause as long as the poller's base interval (undici's
 * default idle timeout closed the connection before each one).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunRef } from '../../src/core/backend';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { normalizeRequest } from '../../src/core/model';
import { startMuseServer, type MuseTestServer } from '../server/museServer';
import { LatencyProxy } from '../support/latencyProxy';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN } from '../support/singularity';

describe('Web API: state polls on one keep-alive connection', function () {
  this.timeout(60_000);
  let tmp: string;
  let server: MuseTestServer;
  let proxy: LatencyProxy;
  let backend: WsBackend;
  let token: string | undefined;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-keepalive-'));
    const image = path.join(tmp, 'image');
    execFileSync('bash', [path.join(repoRoot(), 'test/fixtures/singularity/build-image.sh'), image], { stdio: 'pipe' });
    server = await startMuseServer({ dataDir: path.join(tmp, 'data'), images: { sw_example: image }, singularityCommand: SINGULARITY_STAND_IN });
    const u = new URL(server.url);
    proxy = await LatencyProxy.start({ targetHost: u.hostname, targetPort: Number(u.port), rttMs: 20 });
    backend = new WsBackend({ baseUrl: `http://127.0.0.1:${proxy.port}/api/`, getToken: async () => token });
  });

  after(async function () {
    await backend?.dispose();
    await proxy?.close();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('sign-in, submit and 30 polls (the last ones 5 s apart) use one connection', async () => {
    token = await backend.client.obtainToken('alice', 'secret');
    const req = { software: 'sw_example', cmd: 'true' };
    const r = await backend.submit(req);
    const run: RunRef = { id: r.key, key: r.key, software: 'sw_example', request: normalizeRequest(req), raw: {} };
    const poll = async (): Promise<void> => {
      const st = (await backend.states([run])).get(run.id);
      assert.ok(st && !(st instanceof Error), String(st));
    };
    for (let i = 0; i < 28; i++) await poll();
    assert.strictEqual(proxy.stats.connections, 1, 'back-to-back polls after a POST');
    // The pause between two polls is what is under test (the poller's base interval), not a wait for state.
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await poll();
    }
    assert.strictEqual(proxy.stats.connections, 1, 'polls 5 s apart');
  });
});
