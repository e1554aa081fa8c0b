import * as assert from 'assert';
import { readFileSync } from 'fs';
import * as path from 'path';
import { buildBatchScript, isArrayJob, validateModule, validateSbatchOption } from '../../src/core/backends/slurm/batchScript';
import type { BatchScriptInput } from '../../src/core/backends/slurm/batchScript';
import { isMuseError } from '../../src/core/errors';
import { repoRoot } from '../support/repoRoot';

const FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'slurm');

function input(over: Partial<BatchScriptInput> = {}): BatchScriptInput {
  return {
    jobName: 'muse-sw_example-0000',
    runDir: '/home/u/muse-runs/0000',
    cmd: 'python /add.py 4 5',
    image: '/images/sw.sif',
    ...over,
  };
}

const refused = (re: RegExp) => (e: unknown) => isMuseError(e, 'usage') && re.test((e as Error).message);

describe('batch script', () => {
  it('writes job name, run folder, outputs, options, modules and the singularity line', () => {
    const text = buildBatchScript(
      input({
        cmdOption: '--cleanenv',
        image: '/images/sw example.sif',
        sbatchList: ['--time=00:10:00', '--mem 1G', '-c 2'],
        moduleList: ['python/3.11', 'gcc@12'],
      }),
    );
    assert.strictEqual(text, readFileSync(path.join(FIXTURES, 'batch-basic.sh'), 'utf8'));
  });

  it('runs the plain command when the profile says noContainer', () => {
    const text = buildBatchScript(input({ noContainer: true, image: undefined }));
    assert.ok(text.trimEnd().endsWith('\npython /add.py 4 5'));
    assert.ok(!text.includes('singularity'));
  });

  it('uses the profile singularity command (apptainer)', () => {
    const text = buildBatchScript(input({ singularityCommand: '/opt/apptainer/bin/apptainer' }));
    assert.match(text, /\n\/opt\/apptainer\/bin\/apptainer exec \/images\/sw\.sif python \/add\.py 4 5\n$/);
  });

  it('gives each task of a job array its own output files', () => {
    const text = buildBatchScript(input({ sbatchList: ['--array=1-4'] }));
    assert.match(text, /#SBATCH --output=__WS__stdout_%a\.txt/);
    assert.match(text, /#SBATCH --error=__WS__stderr_%a\.txt/);
    assert.ok(isArrayJob(['-a 1-3']));
    assert.ok(!isArrayJob(['--time=1']));
  });

  it('keeps the command as the user typed it (quotes, $(), backticks, non-ASCII) on its own line', () => {
    const cmd = `echo "a  b" '$(id)' \`date\` né`;
    const text = buildBatchScript(input({ cmd }));
    assert.ok(text.endsWith(` ${cmd}\n`));
  });

  it('refuses a command with a line break, and an empty command', () => {
    assert.throws(() => buildBatchScript(input({ cmd: 'echo a\nrm -rf ~' })), refused(/line break/));
    assert.throws(() => buildBatchScript(input({ cmdOption: '--bind /a\n#SBATCH --x' })), refused(/line break/));
    assert.throws(() => buildBatchScript(input({ cmd: '   ' })), (e: unknown) => isMuseError(e, 'usage'));
  });

  it('refuses a run folder an #SBATCH line cannot carry', () => {
    assert.throws(() => buildBatchScript(input({ runDir: '/home/u/my runs/0000' })), refused(/remoteRoot/));
    assert.throws(() => buildBatchScript(input({ runDir: 'relative/0000' })), refused(/absolute/));
  });

  it('asks for an image unless noContainer', () => {
    assert.throws(() => buildBatchScript(input({ image: undefined })), (e: unknown) => isMuseError(e, 'usage') && /images/.test((e as Error).message));
  });
});

describe('sbatch_list validation', () => {
  const good = ['--time=01:00:00', '--mem=4G', '--mem 4G', '-N 2', '-n4', '--array=1-10%2', '--mail-user=a.b@example.org', '--mail-type=END,FAIL', '--export=ALL,OMP=4', '--exclusive', '-p debug'];
  for (const o of good) {
    it(`accepts ${JSON.stringify(o)}`, () => {
      assert.doesNotThrow(() => validateSbatchOption(o));
    });
  }
  const bad: [string, RegExp][] = [
    ['--time=1\n#SBATCH --wrap=x', /line break/],
    ['--comment=$(id)', /shell characters/],
    ['--comment=`id`', /shell characters/],
    ['--time=1; rm -rf ~', /shell characters/],
    ['--comment="a b"', /shell characters/],
    ['--comment a b', /spaces/],
    ['Time 1', /does not look like/],
    ['=1', /does not look like/],
    ['', /empty/],
    ['--wrap=hostname', /set by Muse Runner/],
    ['--output=x.txt', /set by Muse Runner/],
    ['-o x.txt', /set by Muse Runner/],
    ['--chdir=/tmp', /set by Muse Runner/],
    ['--job-name=x', /set by Muse Runner/],
  ];
  for (const [o, re] of bad) {
    it(`refuses ${JSON.stringify(o)} clearly`, () => {
      assert.throws(() => validateSbatchOption(o), refused(re));
    });
  }

  it('takes the ws form opt=value as --opt=value, and adds mail-type=ALL to a lone mail-user', () => {
    const text = buildBatchScript(input({ sbatchList: ['mail-user=me@example.org', 'exclusive', 'time=00:05:00'] }));
    assert.match(text, /#SBATCH --mail-user=me@example\.org\n#SBATCH --exclusive\n#SBATCH --time=00:05:00\n#SBATCH --mail-type=ALL\n/);
    const withType = buildBatchScript(input({ sbatchList: ['--mail-user=me@example.org', 'mail-type=END'] }));
    assert.ok(!withType.includes('--mail-type=ALL'));
    assert.ok(isArrayJob(['array=1-3']));
    assert.throws(() => buildBatchScript(input({ sbatchList: ['wrap=hostname'] })), refused(/set by Muse Runner/));
  });

  it('accepts module names and refuses shell in them', () => {
    assert.strictEqual(validateModule('R/4.3.1'), 'R/4.3.1');
    assert.throws(() => validateModule('python; rm -rf ~'), refused(/module name/));
    assert.throws(() => validateModule('--force'), refused(/module name/));
  });
});
