import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { LocalBackend } from '../../src/core/backends/local/localBackend';
import { isSameProcessAlive, procStartTime } from '../../src/core/backends/local/procInfo';
import type { RunRef } from '../../src/core/backend';
import { isMuseError } from '../../src/core/errors';
import { normalizeRequest, type InputFile, type StateReport, type SubmitRequest } from '../../src/core/model';
import { listZip } from '../../src/core/transfer/zip';
import { buildRawZip } from '../fixtures/zips/rawZip';
import { repoRoot } from '../support/repoRoot';
import { SINGULARITY_STAND_IN, swExampleImage } from '../support/singularity';
import { until } from '../support/until';

const ROOT = repoRoot();

describe('LocalBackend (real child processes)', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: string;
  let backend: LocalBackend;
  let n = 0;
  let image: string;

  before(() => {
    image = swExampleImage();
  });
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'muse-local-'));
    root = path.join(tmp, 'runs');
    backend = new LocalBackend({ root, cancelGraceMs: 3000 });
  });
  afterEach(async () => {
    // Stop what a failed test may have left running, by the pids it recorded.
    for (const key of await backend.listKeys()) {
      await backend.cancel(ref(key)).catch(() => undefined);
    }
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  function ref(key: string, req: SubmitRequest = { software: 'sw_example', cmd: 'true' }): RunRef {
    return { id: `id-${key}`, key, software: req.software, request: normalizeRequest(req), raw: {} };
  }
  async function submit(req: Partial<SubmitRequest> & { cmd: string }, b = backend) {
    const full: SubmitRequest = { software: 'sw_example', ...req };
    const res = await b.submit(full);
    return { res, run: ref(res.key, full) };
  }
  async function stateOf(run: RunRef, b = backend): Promise<StateReport> {
    const s = (await b.states([run])).get(run.id);
    if (s instanceof Error) throw s;
    return s!;
  }
  async function ended(run: RunRef, b = backend): Promise<StateReport> {
    return until('the run to end', async () => {
      const s = await stateOf(run, b);
      return s.state !== 'waiting' && s;
    }, { timeoutMs: 30_000 });
  }
  async function file(name: string, content: string | Buffer): Promise<InputFile> {
    const dir = path.join(tmp, 'in', String(n++));
    await fsp.mkdir(dir, { recursive: true });
    const p = path.join(dir, 'f');
    await fsp.writeFile(p, content);
    return { path: p, name };
  }
  const readText = async (p: string) => fsp.readFile(p, 'utf8');

  it('runs a command to success and returns its stdout; stderr is readable', async () => {
    const { res, run } = await submit({ cmd: 'echo hello; echo "to stderr" >&2' });
    assert.ok(res.noContainer, 'no image configured: ran without a container, and says so');
    assert.match(res.message ?? '', /without|directly/);
    assert.strictEqual(res.location, path.join(root, res.key));
    const s = await ended(run);
    assert.strictEqual(s.state, 'ok');
    assert.deepStrictEqual([s.raw.slurmState, s.raw.cr, s.raw.latestCr, s.raw.exitCode], ['COMPLETED', 'OK', 'ENDED_OK', 0]);
    assert.ok(s.startedAt && s.endedAt);
    const out = await backend.results(run, path.join(tmp, 'unused'));
    assert.deepStrictEqual(out, { kind: 'stdout', text: 'hello' });
    const errFile = path.join(tmp, 'stderr.txt');
    await backend.output(run, 'stderr', errFile);
    assert.strictEqual(await readText(errFile), 'to stderr\n');
  });

  it('reports a failing command as failed with its exit code, stderr readable', async () => {
    const { run } = await submit({ cmd: 'echo "something broke" >&2; exit 3' });
    const s = await ended(run);
    assert.strictEqual(s.state, 'failed');
    assert.deepStrictEqual([s.raw.slurmState, s.raw.cr, s.raw.latestCr, s.raw.exitCode], ['FAILED', 'NOK', 'ENDED_NOK', 3]);
    assert.match(s.raw.message ?? '', /code 3/);
    assert.strictEqual(await backend.tail(run, 'stderr', 1000), 'something broke\n');
    await assert.rejects(backend.results(run, path.join(tmp, 'r')), (e: unknown) => isMuseError(e, 'runFailed'));
  });

  it('ends every run of a command that exits at once (the usage sampler never keeps the wrapper waiting)', async () => {
    // A command that ends before the sampler has started used to race the sampler's stop: the
    // wrapper then waited for it forever and the run never ended (1 run in a few).
    const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => submit({ cmd: `exit ${i % 3}` })));
    const states = await Promise.all(runs.map((r) => ended(r.run)));
    assert.deepStrictEqual(states.map((s) => s.raw.exitCode), runs.map((_, i) => i % 3));
  });

  it('reports what a run used: the peak memory of a run holding ~200 MB, within 25%', async () => {
    const held = 200 * 1024 * 1024;
    const { run } = await submit({ cmd: `python3 -c "import time; b = bytearray(${held}); time.sleep(3)"` });
    const s = await ended(run);
    assert.strictEqual(s.state, 'ok');
    const u = s.raw.usage;
    assert.ok(u, 'usage figures once the run ended');
    assert.strictEqual(u.source, 'local');
    assert.ok(u.memoryPeakBytes !== undefined && Math.abs(u.memoryPeakBytes - held) <= held * 0.25, `peak ${u.memoryPeakBytes} bytes, held ${held}`);
    assert.ok(u.elapsedSeconds !== undefined && u.elapsedSeconds >= 3 && u.elapsedSeconds < 30, `wall ${u.elapsedSeconds} s`);
  });

  it('reports a CPU efficiency above 70% for a busy loop (of the CPU share the machine gave it), and figures for a failed run', async () => {
    // The loop prints the share of a CPU it got itself: on a loaded machine a busy loop gets
    // less than one CPU, and the figure must say what it got, not what it wanted.
    const loop = 'import time\nw = time.time()\nt = time.process_time() + 3\nwhile time.process_time() < t: pass\nprint(time.process_time() / (time.time() - w))';
    const busy = await submit({ cmd: `python3 -c "${loop}"` });
    const failing = await submit({ cmd: 'sleep 1; exit 4' });
    const s = await ended(busy.run);
    assert.strictEqual(s.state, 'ok');
    const share = Number((await backend.results(busy.run, path.join(tmp, 'unused')) as { text: string }).text);
    const u = s.raw.usage!;
    assert.ok(u.cpuSeconds !== undefined && u.cpuSeconds >= 2.9 && u.cpuSeconds < 4, `CPU time ${u.cpuSeconds} s`);
    assert.ok(u.cpuEfficiency !== undefined && u.cpuEfficiency > 0.7 * share, `CPU efficiency ${u.cpuEfficiency}, the loop's own share ${share}`);
    const f = await ended(failing.run);
    assert.strictEqual(f.raw.usage?.state, 'FAILED');
    assert.ok((f.raw.usage?.elapsedSeconds ?? 0) >= 1, `wall ${f.raw.usage?.elapsedSeconds} s`);
    assert.ok((f.raw.usage?.cpuEfficiency ?? 1) < 0.5, 'a sleeping run is not busy');
  });

  it('cancels the whole process tree, grandchild included', async () => {
    const { run } = await submit({ cmd: `sh -c 'sleep 300 & echo $! > grandchild.pid; wait'` });
    const pidFile = path.join(root, run.key!, 'grandchild.pid');
    const grandchild = await until('the grandchild pid', async () => {
      const t = await fsp.readFile(pidFile, 'utf8').catch(() => '');
      return /^\d+\n$/.test(t) ? Number(t) : undefined;
    }, { timeoutMs: 30_000 });
    const started = await procStartTime(grandchild);
    assert.ok(started, 'the grandchild runs');
    assert.strictEqual((await stateOf(run)).state, 'waiting');
    assert.strictEqual((await stateOf(run)).raw.slurmState, 'RUNNING');

    await backend.cancel(run);
    await until('the grandchild to be gone', async () => !(await isSameProcessAlive(grandchild, started)), { timeoutMs: 30_000 });
    const s = await ended(run);
    assert.strictEqual(s.state, 'cancelled');
    assert.deepStrictEqual([s.raw.slurmState, s.raw.cr, s.raw.latestCr], ['CANCELLED', 'NOK', 'ENDED_NOK']);
    await backend.cancel(run); // cancelling an ended run is harmless
  });

  it('kills with SIGKILL after the grace period a command that ignores SIGTERM', async () => {
    const quick = new LocalBackend({ root, cancelGraceMs: 500 });
    const { run } = await submit({ cmd: `trap '' TERM; echo ready; sleep 300` }, quick);
    await until('the command to start', async () => (await quick.tail(run, 'stdout', 100)) === 'ready\n', { timeoutMs: 30_000 });
    await quick.cancel(run);
    const s = await ended(run, quick);
    assert.strictEqual(s.state, 'cancelled');
    const launch = JSON.parse(await fsp.readFile(path.join(root, run.key!, '__MUSE__state.json'), 'utf8'));
    assert.ok(!(await isSameProcessAlive(launch.pid, launch.procStart)), 'the wrapper is gone');
  });

  it('says failed, not waiting forever, when the process vanished without an exit record', async () => {
    const { run } = await submit({ cmd: 'sleep 300' });
    const launch = JSON.parse(await until('the launch record', () => fsp.readFile(path.join(root, run.key!, '__MUSE__state.json'), 'utf8'), { timeoutMs: 30_000 }));
    await until('the run to be running', async () => (await stateOf(run)).raw.slurmState === 'RUNNING', { timeoutMs: 30_000 });
    process.kill(-launch.pgid, 'SIGKILL'); // as the OOM killer or a reboot would
    const s = await ended(run);
    assert.strictEqual(s.state, 'failed');
    assert.match(s.raw.message ?? '', /gone without recording an exit status/);
  });

  it('keeps runs going after the submitting process exits; a new instance follows them', async () => {
    // The same module as this test uses: the .ts source under tsx, the compiled .js under out/.
    const modulePath = path.join(__dirname, '..', '..', 'src', 'core', 'backends', 'local', 'localBackend');
    const script = `
      const { LocalBackend } = require(${JSON.stringify(modulePath)});
      new LocalBackend({ root: ${JSON.stringify(root)} })
        .submit({ software: 'sw_example', cmd: 'sleep 2; echo detached' })
        .then((r) => { process.stdout.write(r.key); process.exit(0); });`;
    const nodeArgs = __filename.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [];
    const key = execFileSync(process.execPath, [...nodeArgs, '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim();
    const other = new LocalBackend({ root });
    const run = ref(key);
    const first = await stateOf(run, other);
    assert.strictEqual(first.state, 'waiting', 'still running after its submitter exited');
    const s = await ended(run, other);
    assert.strictEqual(s.state, 'ok');
    assert.deepStrictEqual(await other.results(run, path.join(tmp, 'x')), { kind: 'stdout', text: 'detached' });
  });

  it('tails the output of a running job', async () => {
    const { run } = await submit({ cmd: 'echo first line; sleep 300' });
    await until('the first line', async () => (await backend.tail(run, 'stdout', 100)) === 'first line\n', { timeoutMs: 30_000 });
    assert.strictEqual(await backend.tail(run, 'stdout', 5), 'line\n');
    await assert.rejects(backend.results(run, path.join(tmp, 'r')), (e: unknown) => isMuseError(e, 'notReady'));
    await backend.cancel(run);
  });

  it('returns stdout.txt and run.zip files, and keeps them under a download key when asked', async () => {
    const input = await file('input.txt', 'in');
    const a = await submit({ cmd: 'echo 42; echo log > made.txt', returnedType: 'stdout.txt', files: [input] });
    await ended(a.run);
    const txt = path.join(tmp, 'out', 'stdout.txt');
    const r1 = await backend.results(a.run, txt);
    assert.deepStrictEqual(r1, { kind: 'file', path: txt, bytes: 3 });
    assert.strictEqual(await readText(txt), '42\n');

    const b = await submit({ cmd: 'echo 42; echo log > made.txt', returnedType: 'run.zip', files: [input] });
    await ended(b.run);
    const zip = path.join(tmp, 'out', 'run.zip');
    const r2 = await backend.results(b.run, zip);
    assert.strictEqual(r2.kind, 'file');
    const names = (await listZip(zip)).map((e) => e.name).sort();
    assert.deepStrictEqual(names, ['__WS__stderr.txt', '__WS__stdout.txt', 'input.txt', 'made.txt']);

    const c = await submit({ cmd: 'echo kept', returnedType: 'run.zip', toDownload: true });
    await ended(c.run);
    const r3 = await backend.results(c.run, path.join(tmp, 'unused.zip'));
    assert.strictEqual(r3.kind, 'downloadKey');
    const key = (r3 as { key: string }).key;
    assert.match(key, /^\d{8}_\d{6}_[0-9a-f-]{36}$/);
    assert.deepStrictEqual(await backend.results(c.run, path.join(tmp, 'unused.zip')), r3, 'asking again gives the same key');
    const fetched = path.join(tmp, 'fetched.zip');
    const again = new LocalBackend({ root }); // a key is good in any later session
    const d = await again.download(key, fetched);
    assert.strictEqual(d.bytes, (await fsp.stat(fetched)).size);
    assert.ok((await listZip(fetched)).some((e) => e.name === '__WS__stdout.txt'));
    await assert.rejects(again.download('20200101_000000_00000000-0000-4000-8000-000000000000', fetched), (e: unknown) => isMuseError(e, 'notFound'));
    await assert.rejects(again.download('../../etc/passwd', fetched), (e: unknown) => isMuseError(e, 'notFound'));

    const content = path.join(tmp, 'content.zip');
    await backend.content(a.run, content);
    assert.ok((await listZip(content)).some((e) => e.name === 'made.txt'));
  });

  it('stages files in files_order: a plain file after a zip overwrites its entry', async () => {
    const plain = await file('a.txt', 'from the plain file');
    const zip = await file('bundle.zip', buildRawZip([{ name: 'a.txt', data: 'from the zip' }, { name: 'b.txt', data: 'only in zip' }]));
    const first = await submit({ cmd: 'cat a.txt; echo; cat b.txt', files: [plain, zip], filesOrder: ['bundle.zip', 'a.txt'] });
    const second = await submit({ cmd: 'cat a.txt', files: [plain, zip] }); // default: upload order, zip last
    await ended(first.run);
    await ended(second.run);
    assert.deepStrictEqual(await backend.results(first.run, ''), { kind: 'stdout', text: 'from the plain file\nonly in zip' });
    assert.deepStrictEqual(await backend.results(second.run, ''), { kind: 'stdout', text: 'from the zip' });
  });

  it('handles file names with spaces, quotes, $(), backticks and non-ASCII', async () => {
    const names = ['my file.txt', `it's "quoted".txt`, '$(touch pwned).txt', '`touch pwned2`.txt', 'données été 日本.txt'];
    const files = await Promise.all(names.map((nm) => file(nm, `<${nm}>`)));
    const { run } = await submit({ cmd: `for f in *.txt; do case "$f" in __*) ;; *) cat -- "$f"; echo; esac; done`, files });
    await ended(run);
    const out = await backend.results(run, '');
    assert.strictEqual(out.kind, 'stdout');
    const lines = (out as { text: string }).text.split('\n').sort();
    assert.deepStrictEqual(lines, names.map((nm) => `<${nm}>`).sort());
    const inDir = await fsp.readdir(path.join(root, run.key!));
    assert.ok(!inDir.includes('pwned') && !inDir.includes('pwned2'), 'no name was run as a command');
  });

  it('refuses a hostile input zip before anything runs', async () => {
    const evil = await file('evil.zip', buildRawZip([{ name: '../../escaped.txt', data: 'x' }]));
    await assert.rejects(submit({ cmd: 'echo should not run', files: [evil] }), (e: unknown) => isMuseError(e, 'refused'));
    assert.deepStrictEqual(await backend.listKeys(), [], 'no run was made');
    assert.ok(!fs.existsSync(path.join(tmp, 'escaped.txt')) && !fs.existsSync(path.join(root, 'escaped.txt')));
  });

  it('refuses a bad input file name or files_order as a usage error before anything runs', async () => {
    const fine = await file('fine.txt', 'x');
    const escape = await file('../escape.txt', 'x');
    await assert.rejects(submit({ cmd: 'echo should not run', files: [fine, escape] }), (e: unknown) => isMuseError(e, 'usage') && /escape\.txt/.test((e as Error).message));
    await assert.rejects(submit({ cmd: 'echo should not run', files: [fine], filesOrder: ['/etc/passwd'] }), (e: unknown) => isMuseError(e, 'usage'));
    assert.deepStrictEqual(await backend.listKeys(), [], 'no run was made');
    assert.ok(!fs.existsSync(path.join(root, 'escape.txt')));
    assert.deepStrictEqual((await fsp.readdir(root)).filter((f) => f.startsWith('.staging-')), [], 'no staging folder left');
  });

  it('maps an unknown or malformed key to an Error in the states map', async () => {
    const unknown = ref('7f1b3c52-0f0e-4a8e-9c1d-2b7c1e6f9a10');
    const bad = { ...ref('x'), id: 'bad', key: '../../etc' };
    const m = await backend.states([unknown, bad]);
    assert.ok(isMuseError(m.get(unknown.id), 'notFound'));
    assert.ok(isMuseError(m.get('bad'), 'notFound'));
  });

  describe('in a container (the singularity stand-in over bubblewrap)', () => {
    let log: string;
    let saved: string | undefined;
    beforeEach(() => {
      log = path.join(tmp, 'singularity.log');
      saved = process.env.MUSE_SINGULARITY_LOG;
      process.env.MUSE_SINGULARITY_LOG = log; // the detached run inherits it
      backend = new LocalBackend({ root, images: { sw_example: image }, singularityCommand: SINGULARITY_STAND_IN });
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.MUSE_SINGULARITY_LOG;
      else process.env.MUSE_SINGULARITY_LOG = saved;
    });

    it("runs the seed's `python /add.py 4 5` -> 9.0 through `singularity exec`", async () => {
      const { res, run } = await submit({ cmd: 'python /add.py 4 5', cmdOption: '--cleanenv' });
      assert.ok(!res.noContainer);
      const s = await ended(run);
      assert.strictEqual(s.state, 'ok', await backend.tail(run, 'stderr', 2000));
      assert.deepStrictEqual(await backend.results(run, ''), { kind: 'stdout', text: '9.0' });
      const calls = (await readText(log)).trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
      assert.strictEqual(calls.length, 1);
      assert.deepStrictEqual(calls[0]!.argv, ['exec', '--cleanenv', image, 'python', '/add.py', '4', '5']);
      assert.strictEqual(calls[0]!.cwd, path.join(root, run.key!), 'run in the run folder');
    });

    it('runs seed example E: stdin.txt as an input file -> 70.0', async () => {
      const stdin = await file('stdin.txt', '10 20\n40\n');
      const { run } = await submit({ cmd: 'python /add.py', files: [stdin] });
      await ended(run);
      assert.deepStrictEqual(await backend.results(run, ''), { kind: 'stdout', text: '70.0' });
    });

    it('runs seed example F as written: cmd=usrcmd.sh, a sent script without shebang, run by sh -> 70.0', async () => {
      const stdin = await file('stdin.txt', '10 20\n40\n');
      const script = await file('usrcmd.sh', 'python /add.py\n');
      const { run } = await submit({ cmd: 'usrcmd.sh', files: [script, stdin], filesOrder: ['stdin.txt', 'usrcmd.sh'] });
      const s = await ended(run);
      assert.strictEqual(s.state, 'ok', await backend.tail(run, 'stderr', 2000));
      assert.deepStrictEqual(await backend.results(run, ''), { kind: 'stdout', text: '70.0' });
      const calls = (await readText(log)).trim().split('\n').map((l) => JSON.parse(l) as { argv: string[] });
      assert.deepStrictEqual(calls[0]!.argv, ['exec', image, 'sh', './usrcmd.sh'], 'run from the run folder, inside the image');
      assert.ok((fs.statSync(path.join(root, run.key!, 'usrcmd.sh')).mode & 0o100) !== 0, 'made executable');
    });

    it('lists the configured images as software, and runs other software without a container', async () => {
      assert.deepStrictEqual((await backend.listSoftware()).map((s) => s.name), ['sw_example']);
      const { res, run } = await submit({ software: 'other', cmd: 'echo plain' });
      assert.ok(res.noContainer);
      await ended(run);
      assert.ok(!fs.existsSync(log), 'singularity was not called');
    });

    it('says clearly when the configured image or singularity command is missing', async () => {
      const noImage = new LocalBackend({ root, images: { sw_example: path.join(tmp, 'nope') }, singularityCommand: SINGULARITY_STAND_IN });
      await assert.rejects(noImage.submit({ software: 'sw_example', cmd: 'true' }), (e: unknown) => isMuseError(e, 'usage') && /image/.test((e as Error).message));
      const noCmd = new LocalBackend({ root, images: { sw_example: image }, singularityCommand: path.join(tmp, 'no-singularity') });
      await assert.rejects(noCmd.submit({ software: 'sw_example', cmd: 'true' }), (e: unknown) => isMuseError(e, 'usage') && /no-singularity/.test((e as Error).message));
    });
  });
});
