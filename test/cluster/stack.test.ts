import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../support/repoRoot';
import { loadClusterEnv, runSsh, sshArgs } from './clusterEnv';
import type { ClusterEnv, SshResult } from './clusterEnv';
import { until } from '../support/until';

// The test cluster itself (bash test/cluster/up.sh), driven through the real OpenSSH client the
// way the SSH backend drives Muse: sbatch, squeue, sacct, scancel, singularity in a job.

async function ssh(env: ClusterEnv, command: string): Promise<string> {
  const r: SshResult = await runSsh(env, command);
  assert.equal(r.code, 0, `remote command failed (${r.code}): ${command}\n${r.stderr}`);
  return r.stdout;
}

/** The job's state and exit code from accounting, once it has a final one. */
async function finalAccounting(env: ClusterEnv, jobId: string): Promise<{ state: string; exitCode: string }> {
  return until(`job ${jobId} to end in sacct`, async () => {
    const out = await ssh(env, `sacct -X -P -n -j ${jobId} --format=State,ExitCode`);
    const [state, exitCode] = out.trim().split('|');
    if (!state || /^(PENDING|RUNNING|REQUEUED|SUSPENDED|COMPLETING|CONFIGURING)/.test(state)) return undefined;
    return { state, exitCode };
  }, { timeoutMs: 60_000, intervalMs: 250 });
}

async function submit(env: ClusterEnv, dir: string, wrap: string, extra = ''): Promise<string> {
  const out = await ssh(env, `mkdir -p ${dir} && cd ${dir} && sbatch --parsable ${extra} --wrap '${wrap}'`);
  const id = out.trim().split(';')[0];
  assert.match(id, /^\d+$/, `sbatch answered: ${out}`);
  return id;
}

describe('test cluster (Slurm behind OpenSSH)', function () {
  this.timeout(120_000);
  let env: ClusterEnv;
  let runDir: string;

  before(async function () {
    env = loadClusterEnv();
    runDir = `${env.remoteRoot}/stack-test-${process.pid}-${Date.now()}`;
  });

  after(async function () {
    if (env) await runSsh(env, `rm -rf '${runDir}'`);
  });

  it('logs the test user in by key with strict host key checking, with SLURM_CONF and singularity set', async function () {
    const out = await ssh(env, 'id -un; echo "$SLURM_CONF"; command -v singularity; singularity --version');
    const [user, conf, sing, ...version] = out.trim().split('\n');
    assert.equal(user, env.user);
    assert.equal(conf, env.slurmConf);
    assert.equal(sing, env.singularityCommand);
    assert.match(version.join('\n'), /Muse Runner test stand-in over bubblewrap/);
  });

  it('refuses a login when the host key is not the known one', function () {
    const wrongKnownHosts = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'muse-kh-')), 'known_hosts');
    fs.writeFileSync(wrongKnownHosts, `[${env.host}]:${env.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmCGWJqo1Ey0aRw+3ih0ClEl0zF7x1N1UbOrK2X9jyy\n`);
    const args = sshArgs(env).map((a) => (a.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${wrongKnownHosts}` : a));
    const r = spawnSync('ssh', [...args, 'true'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('runs a sleep 2 job: PENDING or RUNNING, then COMPLETED 0:0 in sacct', async function () {
    // squeue in the same remote shell as sbatch: a slow round trip cannot miss the 2 s job.
    const out = await ssh(env, `mkdir -p ${runDir} && cd ${runDir} && id=$(sbatch --parsable --wrap 'sleep 2') && echo "$id" && squeue -h -j "$id" -o %T`);
    const [id, first] = out.trim().split('\n');
    assert.match(id, /^\d+$/, `sbatch answered: ${out}`);
    assert.match(first, /^(PENDING|RUNNING|CONFIGURING)$/, `state right after sbatch: "${first}"`);
    assert.deepEqual(await finalAccounting(env, id), { state: 'COMPLETED', exitCode: '0:0' });
  });

  it('reports exit 3 as FAILED 3:0', async function () {
    const id = await submit(env, runDir, 'exit 3');
    assert.deepEqual(await finalAccounting(env, id), { state: 'FAILED', exitCode: '3:0' });
  });

  it('cancels a job with scancel: CANCELLED', async function () {
    const id = await submit(env, runDir, 'sleep 300');
    await ssh(env, `scancel ${id}`);
    const { state } = await finalAccounting(env, id);
    assert.match(state, /^CANCELLED/);
  });

  it('runs singularity exec IMAGE python /add.py 4 5 in a job, which writes 9.0', async function () {
    const image = env.images.sw_example;
    assert.ok(image, 'env.json has no sw_example image');
    const dir = `${runDir}/sing`;
    const id = await submit(env, dir, `singularity exec ${image} python /add.py 4 5 > result.txt`,
      `--export=ALL,MUSE_SINGULARITY_LOG=${dir}/calls.jsonl`);
    assert.deepEqual(await finalAccounting(env, id), { state: 'COMPLETED', exitCode: '0:0' });
    assert.equal(await ssh(env, `cat ${dir}/result.txt`), '9.0\n');
    const call = JSON.parse((await ssh(env, `cat ${dir}/calls.jsonl`)).trim()) as { argv: string[]; cwd: string };
    assert.deepEqual(call.argv, ['exec', image, 'python', '/add.py', '4', '5']);
    assert.equal(call.cwd, dir);
  });

  it('up.sh again reuses the running stack (same sshd, same port)', function () {
    const r = spawnSync('bash', [path.join(repoRoot(), 'test', 'cluster', 'up.sh')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /already up \(reused\)/);
    const again = loadClusterEnv();
    assert.equal(again.sshdPid, env.sshdPid);
    assert.equal(again.port, env.port);
  });

  it('loadClusterEnv says how to start the cluster when env.json is missing', function () {
    const saved = process.env.MUSE_CLUSTER_ENV;
    process.env.MUSE_CLUSTER_ENV = path.join(os.tmpdir(), `no-such-env-${process.pid}.json`);
    try {
      assert.throws(() => loadClusterEnv(), /test cluster is not up .*bash test\/cluster\/up\.sh/);
    } finally {
      if (saved === undefined) delete process.env.MUSE_CLUSTER_ENV;
      else process.env.MUSE_CLUSTER_ENV = saved;
    }
  });

  it('serves SFTP (internal-sftp) to the test user', function () {
    const local = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-sftp-'));
    fs.writeFileSync(path.join(local, 'up.txt'), 'uploaded\n');
    const args = sshArgs(env);
    const target = args.pop() as string;
    const sftpArgs = args.map((a) => (a === '-p' ? '-P' : a)); // sftp spells the port -P
    const batch = `mkdir ${runDir}/sftp\nput ${path.join(local, 'up.txt')} ${runDir}/sftp/up.txt\nget ${runDir}/sftp/up.txt ${path.join(local, 'down.txt')}\n`;
    const r = spawnSync('sftp', [...sftpArgs, '-b', '-', target], { input: batch, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(local, 'down.txt'), 'utf8'), 'uploaded\n');
  });
});
