/**
 * Following output as it grows, on the local runner (through the core's follower and through
 * `muse logs -f`, the built CLI) and on the web API (its run folder fetched at a short rate made
 * for the test): every line once, in order, the first seen before the run ends. And a Python
 * script sent from a subfolder that raises: `muse state` names the file and line.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Backend } from '../../src/core/backend';
import { LocalBackend } from '../../src/core/backends/local/localBackend';
import { WsBackend } from '../../src/core/backends/ws/wsBackend';
import { Follower } from '../../src/core/follow/follower';
import type { Run } from '../../src/core/model';
import { normalizeRequest } from '../../src/core/model';
import type { SubmitRequest } from '../../src/core/model';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { buildCli, runMuse, spawnMuse } from '../support/museCli';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';
import { until } from '../support/until';

/** Prints `line 1`..`line N`, one every `gap` seconds. */
const COUNT = (n: number, gap: number) => `for i in $(seq 1 ${n}); do echo "line $i"; sleep ${gap}; done`;

function expectLines(text: string, n: number): void {
  const want = Array.from({ length: n }, (_, i) => `line ${i + 1}`);
  assert.deepStrictEqual(text.split('\n').filter((l) => l.startsWith('line ')), want, `every line once, in order:\n${text}`);
}

async function submitRun(b: Backend, req: SubmitRequest, profile: string): Promise<Run> {
  const res = await b.submit(req);
  const now = new Date().toISOString();
  return { id: `id-${res.key}`, key: res.key, location: res.location, profile, backend: b.kind, software: req.software, request: normalizeRequest(req), state: 'waiting', raw: {}, createdAt: now, updatedAt: now };
}

/** Follows `run` with a follower cycling every `everyMs` until the end; resolves with the text and whether a line came before the end. */
async function followToEnd(b: Backend, run: Run, everyMs: number, folderEveryMs?: number): Promise<{ text: string; earlyLine: boolean; note: string }> {
  const f = new Follower({ backendOf: () => b, folderEveryMs: () => folderEveryMs });
  let text = '';
  let earlyLine = false;
  let ended = false;
  let note = '';
  f.add(run, 'stdout', (e) => {
    text += e.text;
    note ||= e.note ?? '';
    if (!e.ended && /line \d+\n/.test(text)) earlyLine = true;
    ended ||= e.ended;
  });
  f.start(() => everyMs);
  f.poke();
  try {
    await until('the run to end while followed', () => ended, { timeoutMs: 60_000 });
  } finally {
    f.dispose();
  }
  return { text, earlyLine, note };
}

describe('following output as it grows', function () {
  this.timeout(120_000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-follow-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('local runner, through the core: every line once, in order, the first before the end', async () => {
    const b = new LocalBackend({ root: path.join(tmp, 'core-runs') });
    const run = await submitRun(b, { software: 'sh', cmd: COUNT(12, 0.25) }, 'loc');
    const got = await followToEnd(b, run, 300);
    expectLines(got.text, 12);
    assert.ok(got.earlyLine, 'a line was seen before the run ended');
  });

  describe('the built CLI on the local runner', () => {
    let env: NodeJS.ProcessEnv;
    let work: string;
    before(async function () {
      this.timeout(300_000);
      buildCli();
      work = path.join(tmp, 'work');
      fs.mkdirSync(path.join(work, 'src'), { recursive: true });
      env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config'), MUSE_FOLLOW_SECONDS: '0.3' };
      delete env.MUSE_PROFILE;
      const r = await runMuse(['profiles', 'add', 'loc', '--kind', 'local', '--default'], { env, cwd: work });
      assert.strictEqual(r.code, 0, r.stderr);
    });

    it('muse logs -f prints the lines as they come and exits 0 when the run ends ok; muse logs prints them again', async () => {
      const s = await runMuse(['submit', 'sh', '--cmd', COUNT(10, 0.3)], { env, cwd: work });
      assert.strictEqual(s.code, 0, s.stderr);
      const key = s.stdout.trim();
      const child = spawnMuse(['logs', '-f', key], { env, cwd: work });
      await until('a first line while the run goes on', () => /line 1\n/.test(child.out()));
      assert.doesNotMatch(child.out(), /line 10/, 'the first line came before the last was written');
      const r = await child.result;
      assert.strictEqual(r.code, 0, r.stderr);
      expectLines(r.stdout, 10);
      const again = await runMuse(['logs', key], { env, cwd: work });
      assert.strictEqual(again.code, 0, again.stderr);
      expectLines(again.stdout, 10);
    });

    it('a script sent from a subfolder that raises: logs -f exits 1 naming the file and line, and so does muse state', async () => {
      fs.writeFileSync(path.join(work, 'src', 'add.py'), 'import sys\n\ndef add(a, b):\n    return a / b\n\nprint("start", flush=True)\nprint(add(1, 0))\n');
      const s = await runMuse(['submit', 'py', '--cmd', 'python3 src/add.py', '--file', 'src'], { env, cwd: work });
      assert.strictEqual(s.code, 0, s.stderr);
      const key = s.stdout.trim();
      const r = await runMuse(['logs', '-f', key], { env, cwd: work });
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, /failed: ZeroDivisionError at src\/add\.py:4/);
      const st = await runMuse(['state', key], { env, cwd: work });
      assert.match(st.stdout, /why:\s+failed: ZeroDivisionError at src\/add\.py:4\n\s+ZeroDivisionError: division by zero/);
    });
  });

  describe('the web API (no streaming: the run folder fetched at a slow rate)', () => {
    let server: MuseTestServer;
    let b: WsBackend;
    before(async function () {
      this.timeout(300_000);
      server = await startMuseServer({ dataDir: path.join(tmp, 'server'), images: { sw_example: swExampleImage() }, singularityCommand: SINGULARITY_STAND_IN });
      let token: string | undefined;
      b = new WsBackend({ baseUrl: server.url, getToken: async () => token });
      token = await b.client.obtainToken('alice', 'secret');
    });
    after(async () => {
      await b?.dispose();
      await server?.close();
    });

    it('shows the lines at the folder rate, each once, with the note saying so, and the final output at the end', async () => {
      const script = path.join(tmp, 'count.py');
      fs.writeFileSync(script, 'import time\nfor i in range(1, 9):\n    print(f"line {i}", flush=True)\n    time.sleep(0.5)\n');
      const run = await submitRun(b, { software: 'sw_example', cmd: 'python count.py', files: [{ path: script, name: 'count.py' }] }, 'ws');
      const got = await followToEnd(b, run, 300, 1500);
      expectLines(got.text, 8);
      assert.ok(got.earlyLine, 'a line was seen before the run ended');
      assert.match(got.note, /fetched every 2 s/);
    });
  });
});
