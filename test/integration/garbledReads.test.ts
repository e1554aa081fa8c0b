/**
 * The web API answering one read in ten with a garbled body (HTTP 200, JSON cut short): the
 * built CLI's `submit --wait` asks again, as after a 5xx or a reset, and every run ends with its
 * right result; the submits themselves are sent once each.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMuseServer } from '../server/museServer';
import type { MuseTestServer } from '../server/museServer';
import { listZip } from '../../src/core/transfer/zip';
import { mapLimit } from '../../src/core/concurrency';
import { buildCli, runMuse } from '../support/museCli';
import type { MuseResult } from '../support/museCli';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';

describe('muse submit --wait under 10% garbled answers on reads (built CLI, ws test server)', function () {
  this.timeout(300_000);
  let tmp: string;
  let server: MuseTestServer;
  let env: NodeJS.ProcessEnv;

  const muse = (args: string[], cwd: string, input?: string): Promise<MuseResult> => runMuse(args, { env, cwd, input });
  const ok = (r: MuseResult, what: string) => assert.strictEqual(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

  before(async function () {
    buildCli();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-garbled-'));
    server = await startMuseServer({ dataDir: path.join(tmp, 'server'), images: { sw_example: swExampleImage() }, singularityCommand: SINGULARITY_STAND_IN });
    env = { ...process.env, MUSE_DATA_DIR: path.join(tmp, 'data'), MUSE_CONFIG_DIR: path.join(tmp, 'config') };
    delete env.MUSE_JWT;
    delete env.MUSE_PROFILE;
    ok(await muse(['profiles', 'add', 'ws', '--kind', 'ws', '--url', server.url, '--username', 'alice', '--default'], tmp), 'profile');
    ok(await muse(['login', '--password-stdin'], tmp, 'secret\n'), 'login');
  });
  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('20 runs (stdout, stdout.txt, run.zip): each ends with its right result', async () => {
    // Reads only: state polls, results, content and downloads; the submit is never garbled here.
    server.faults.set({ kind: 'malformed', method: 'GET', path: /^\/api\/(software\/muse\/(state|run|content)\/|download\/)/, rate: 0.1 });
    server.requests.length = 0;
    const runs = Array.from({ length: 20 }, (_, i) => i);
    const failures: string[] = [];
    await mapLimit(runs, 4, async (i) => {
      const dir = path.join(tmp, `run-${i}`);
      fs.mkdirSync(dir);
      const type = ['stdout', 'stdout.txt', 'run.zip'][i % 3];
      const args = ['submit', 'sw_example', '--cmd', `python /add.py ${i} 1000`, '--wait', '--returned-type', type];
      if (type === 'run.zip') args.push('-o', 'res.zip');
      const r = await muse(args, dir);
      if (r.code !== 0) {
        failures.push(`run ${i} (${type}): exit ${r.code}: ${r.stderr.trim()}`);
        return;
      }
      const want = `${(i + 1000).toFixed(1)}`;
      if (type === 'stdout') assert.strictEqual(r.stdout.trim().split('\n').pop(), want, `run ${i}`);
      else if (type === 'stdout.txt') {
        const saved = r.stdout.trim().split('\n').pop()!;
        assert.strictEqual(fs.readFileSync(path.resolve(dir, saved), 'utf8').trim(), want, `run ${i}`);
      } else {
        const names = (await listZip(path.join(dir, 'res.zip'))).map((e) => e.name);
        assert.ok(names.includes('__WS__stdout.txt'), `run ${i}: ${names.join(', ')}`);
      }
    });
    assert.deepStrictEqual(failures, []);
    const reads = server.requests.filter((q) => q.method === 'GET' && /\/(state|run|content)\/|\/download\//.test(q.path)).length;
    assert.ok(reads >= 40, `enough reads for ${Math.floor(reads / 10)} garbled answers (${reads} reads)`);
    const submits = server.requests.filter((q) => q.method === 'POST' && /\/software\/muse\/run\//.test(q.path)).length;
    assert.strictEqual(submits, 20, 'each run submitted once');
  });
});
