// The SSH connection test's probe: one remote command, and what its answer says about a cluster.
// Sample answers from a cluster with Lmod and apptainer, and the script itself run by a local sh
// against stand-in commands (so its quoting and its sections are checked for real).
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseProbeOutput, probeCommand } from '../../src/core/backends/slurm/clusterProbe';
import { repoRoot } from '../support/repoRoot';

describe('SSH connection test (cluster probe)', () => {
  it('reads Slurm, partitions (default first, once each), apptainer, modules and images from one answer', () => {
    const text = fs.readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'slurm', 'probe-lmod.txt'), 'utf8');
    const r = parseProbeOutput(text, '/shared/containers');
    assert.strictEqual(r.slurmVersion, 'slurm 23.02.7');
    assert.deepStrictEqual(r.partitions, ['cpu', 'gpu', 'bigmem']);
    assert.strictEqual(r.defaultPartition, 'cpu');
    assert.deepStrictEqual(r.container, { command: 'apptainer', path: '/usr/bin/apptainer', version: 'apptainer version 1.2.5-1.el8' });
    assert.deepStrictEqual(r.modules, ['gcc/12.2.0', 'python/3.11.4', 'R/4.3.1']);
    assert.deepStrictEqual(r.images, [
      { name: 'r-4.3', path: '/shared/containers/r-4.3.sif' },
      { name: 'py311', path: '/shared/containers/py/py311.simg' },
      { name: 'rstudio', path: '/shared/containers/rstudio' },
    ]);
    assert.deepStrictEqual(r.notes, []);
  });

  it('says what is missing: no Slurm, no container command, a folder that does not exist', () => {
    const text = [
      '@@muse-probe@@ slurm', 'sh: 1: sinfo: not found', '@@muse-probe@@ end slurm 127',
      '@@muse-probe@@ partitions', 'sh: 1: sinfo: not found', '@@muse-probe@@ end partitions 0',
      '@@muse-probe@@ container', '@@muse-probe@@ end container 127',
      '@@muse-probe@@ modules', '@@muse-probe@@ end modules 127',
      '@@muse-probe@@ images', '@@muse-probe@@ end images 2', '',
    ].join('\n');
    const r = parseProbeOutput(text, '/nope');
    assert.strictEqual(r.slurmVersion, undefined);
    assert.deepStrictEqual(r.partitions, []);
    assert.strictEqual(r.container, undefined);
    assert.strictEqual(r.modules, undefined, 'no module system is not an empty module list');
    assert.deepStrictEqual(r.images, []);
    assert.strictEqual(r.notes.length, 3);
    assert.match(r.notes[0], /Slurm was not found \(sinfo: sh: 1: sinfo: not found\)/);
    assert.match(r.notes[1], /Neither apptainer nor singularity/);
    assert.match(r.notes[2], /\/nope does not exist/);
  });

  describe('the remote command, run by a local sh', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-probe-'));
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin);
      const stub = (name: string, body: string): void => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      stub('sinfo', 'case "$1" in --version) echo "slurm 22.05.8";; -h) printf "debug*\\nlong\\n";; esac');
      stub('singularity', 'echo "singularity version 3.11.4"');
      // A module system as Lmod installs one: MODULESHOME/init/sh defines the `module` function.
      fs.mkdirSync(path.join(dir, 'lmod', 'init'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'lmod', 'init', 'sh'), 'module() { printf "/apps:\\ngcc/13\\n" >&2; }\n');
      // Images in a folder whose name needs quoting (a space and a quote), two levels deep.
      const images = path.join(dir, "my images 'x'");
      fs.mkdirSync(path.join(images, 'sandbox', '.singularity.d'), { recursive: true });
      fs.mkdirSync(path.join(images, 'deep'));
      fs.writeFileSync(path.join(images, 'deep', 'tool.sif'), '');
      fs.writeFileSync(path.join(images, 'notes.txt'), '');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('finds everything in one command, with the folder passed as an argument, not pasted', () => {
      const images = path.join(dir, "my images 'x'");
      const out = execFileSync('/bin/sh', ['-c', probeCommand(images)], {
        env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, MODULESHOME: path.join(dir, 'lmod') },
      }).toString();
      const r = parseProbeOutput(out, images);
      assert.strictEqual(r.slurmVersion, 'slurm 22.05.8');
      assert.deepStrictEqual(r.partitions, ['debug', 'long']);
      assert.deepStrictEqual(r.container, { command: 'singularity', path: path.join(dir, 'bin', 'singularity'), version: 'singularity version 3.11.4' });
      assert.deepStrictEqual(r.modules, ['gcc/13']);
      assert.deepStrictEqual(r.images.map((i) => i.name).sort(), ['sandbox', 'tool']);
      assert.ok(r.images.every((i) => i.path.startsWith(`${images}/`)), JSON.stringify(r.images));
      assert.deepStrictEqual(r.notes, []);
    });
  });
});
