import * as assert from 'assert';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBatchScript } from '../../src/core/backends/slurm/batchScript';
import { commandLine } from '../../src/core/backends/local/launcher';
import { resolveSentScript, sentScriptRun } from '../../src/core/sentScript';

// Seed example F: cmd=usrcmd.sh with usrcmd.sh among the files sent.
describe('a command that names a sent script (example F)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'muse-sent-'));
    writeFileSync(path.join(dir, 'with.sh'), '#!/bin/sh\npython /add.py\n');
    writeFileSync(path.join(dir, 'plain.sh'), 'python /add.py\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = () => [
    { name: 'usrcmd.sh', path: path.join(dir, 'with.sh') },
    { name: 'bare.sh', path: path.join(dir, 'plain.sh') },
    { name: 'stdin.txt', path: path.join(dir, 'plain.sh') },
  ];

  it('runs a script with a shebang as itself, one without through sh, after making it executable', async () => {
    assert.deepStrictEqual(await resolveSentScript('usrcmd.sh', files()), { file: 'usrcmd.sh', command: './usrcmd.sh', setup: 'chmod u+x ./usrcmd.sh' });
    assert.deepStrictEqual(await resolveSentScript('bare.sh 4 "5 6" > out.txt', files()), { file: 'bare.sh', command: 'sh ./bare.sh 4 "5 6" > out.txt', setup: 'chmod u+x ./bare.sh' });
    assert.strictEqual((await resolveSentScript('./usrcmd.sh x', files()))?.command, './usrcmd.sh x');
  });

  it('leaves every other command as it is', async () => {
    for (const cmd of ['python /add.py 4 5', 'sh usrcmd.sh', 'usrcmd.shx', '"usrcmd.sh"', 'other.sh', '']) {
      assert.strictEqual(await resolveSentScript(cmd, files()), undefined, cmd);
    }
    assert.strictEqual(await resolveSentScript('usrcmd.sh', []), undefined);
  });

  it('quotes the file name in the lines it writes', () => {
    const r = sentScriptRun('a=b.sh', ['a=b.sh'], () => true);
    assert.deepStrictEqual(r, { file: 'a=b.sh', command: './a=b.sh', setup: 'chmod u+x ./a=b.sh' });
    const s = sentScriptRun('x@y.sh --go', ['x@y.sh'], () => false);
    assert.strictEqual(s?.command, 'sh ./x@y.sh --go');
  });

  it('puts it in the batch script: chmod outside the container, the script inside it', async () => {
    const sentScript = await resolveSentScript('usrcmd.sh', files());
    const text = buildBatchScript({ jobName: 'muse-sw-1', runDir: '/home/u/r/1', cmd: 'usrcmd.sh', image: '/images/sw.sif', sentScript });
    assert.ok(text.endsWith('\nchmod u+x ./usrcmd.sh\nsingularity exec /images/sw.sif ./usrcmd.sh\n'), text);
    const plain = buildBatchScript({ jobName: 'muse-sw-1', runDir: '/home/u/r/1', cmd: 'bare.sh 1', noContainer: true, sentScript: await resolveSentScript('bare.sh 1', files()) });
    assert.ok(plain.endsWith('\nchmod u+x ./bare.sh\nsh ./bare.sh 1\n'), plain);
  });

  it("puts it in the local runner's shell line the same way", async () => {
    const sent = await resolveSentScript('usrcmd.sh', files());
    assert.strictEqual(commandLine('usrcmd.sh', { runtime: '/usr/bin/singularity', image: '/i/sw.sif', cmdOption: '--cleanenv' }, sent), 'chmod u+x ./usrcmd.sh\n/usr/bin/singularity exec --cleanenv /i/sw.sif ./usrcmd.sh');
    assert.strictEqual(commandLine('usrcmd.sh', undefined, sent), 'chmod u+x ./usrcmd.sh\n./usrcmd.sh');
    assert.strictEqual(commandLine('python /add.py', undefined, undefined), 'python /add.py');
  });
});
