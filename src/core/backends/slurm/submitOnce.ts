/**
 * Submit at most once: sbatch runs under a remote lock and its job id is recorded, so that a
 * submit repeated after a dropped connection finds the job instead of making a second one.
 */
import { MuseError } from '../../errors';
import { BATCH_FILE } from './batchScript';
import { JOBID_FILE, SUBMIT_LOCK } from './runFileNames';
import { isConnectionLoss } from './sshConnection';
import type { SshConnection } from './sshConnection';
import type { ExecResult } from './sshExec';

/** `123` from `sbatch --parsable` output `123` or `123;cluster`. */
export function parseSbatchOutput(out: string): string | undefined {
  const line = out.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
  const id = line.split(';')[0];
  return /^\d+$/.test(id) ? id : undefined;
}

/** Errors meaning "no job exists, and none will": sbatch refused, or the command failed before it. */
const notSubmitted = new WeakSet<Error>();

/** True when `e` says no job exists (sbatch refused, or the submit failed before sbatch could run): the run folder can go. */
export function isNotSubmitted(e: unknown): boolean {
  return e instanceof Error && notSubmitted.has(e);
}

/** Marks `e` as meaning that no job exists (see `isNotSubmitted`). */
export function markNotSubmitted<E extends Error>(e: E): E {
  notSubmitted.add(e);
  return e;
}

/**
 * sbatch's own refusal, its message as it wrote it (less the "Try sbatch --help" line: the user did
 * not type sbatch). An option sbatch cannot parse can only be one of the user's `sbatch_list`
 * items (ours are fixed): a usage error; anything else (partition, limits, controller) is the
 * cluster's answer.
 */
export function sbatchRefusal(stderr: string): MuseError {
  const text = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Try "?sbatch --help/.test(l))
    .join('\n');
  const optionError = /^sbatch: (unrecognized option|invalid option|option .* requires an argument|option .* doesn't allow an argument|option .* is ambiguous)/m.test(text);
  const e = new MuseError(optionError ? 'usage' : 'server', `sbatch refused the job: ${text || 'no message'}`);
  notSubmitted.add(e);
  return e;
}

/**
 * The shell fragment that runs sbatch at most once in the current folder (the run folder): it
 * takes the lock (mkdir is atomic), submits `BATCH_FILE` and records the job id; when the lock
 * exists already it only prints the recorded id. Exit 96: sbatch refused (its stderr follows);
 * exit 99: locked without an id (a connection died while sbatch ran).
 */
export const SBATCH_GUARD =
  `if mkdir ${SUBMIT_LOCK} 2>/dev/null; then id=$(sbatch --parsable ${BATCH_FILE}) || exit 96; printf '%s\\n' "$id" > ${JOBID_FILE}; printf '%s\\n' "$id"; ` +
  `else cat ${JOBID_FILE} 2>/dev/null || exit 99; fi`;

/**
 * Submits the batch script at most once. The remote side takes a lock (mkdir is atomic) before
 * sbatch and records the job id; after a dropped connection the same guarded command is run
 * again, and it only reads the recorded id. If the lock exists without an id (the connection
 * died while sbatch ran), the job is looked for by its unique name; it is never submitted twice.
 */
export async function sbatchOnce(conn: SshConnection, runDir: string, jobName: string): Promise<string> {
  const args = ['sh', '-c', `cd -- "$1" || exit 98; ${SBATCH_GUARD}`, 'sh', runDir];
  let r;
  try {
    r = await conn.exec(args);
  } catch (e) {
    if (!isConnectionLoss(e)) throw e;
    r = await conn.exec(args); // guarded: reads the id if sbatch ran
  }
  return sbatchAnswer(conn, r, runDir, jobName);
}

/**
 * The job id from the answer of a command that ended with `SBATCH_GUARD`: exit 0 with the id,
 * 96 sbatch's refusal, 99 the job looked for by its name (never submitted again). Any other exit
 * is a `server` error (`notSubmitted` tells whether it came before sbatch could run).
 */
export async function sbatchAnswer(conn: SshConnection, r: ExecResult, runDir: string, jobName: string, notSubmittedCodes: readonly number[] = []): Promise<string> {
  if (r.code === 0) {
    const id = parseSbatchOutput(r.stdout.toString());
    if (id) return id;
    throw new MuseError('malformed', `sbatch answered something that is not a job id: ${JSON.stringify(r.stdout.toString().slice(0, 200))}`);
  }
  if (r.code === 96) throw sbatchRefusal(r.stderr.toString());
  if (r.code === 99) {
    const found = await findJobByName(conn, jobName);
    if (found) {
      await conn.exec(['sh', '-c', `printf '%s\\n' "$2" > "$1/${JOBID_FILE}"`, 'sh', runDir, found]).catch(() => undefined);
      return found;
    }
    throw new MuseError(
      'network',
      `The connection dropped while sbatch was running for ${runDir}, and no job named ${jobName} can be found. ` +
        'It was not submitted again, so that it cannot run twice: check with squeue, and submit again if needed.',
    );
  }
  const e = new MuseError('server', `Cannot submit in ${runDir}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
  if (r.code !== null && notSubmittedCodes.includes(r.code)) notSubmitted.add(e);
  throw e;
}

/** The id of the job named `jobName`: squeue first, then sacct over the last 7 days. */
async function findJobByName(conn: SshConnection, jobName: string): Promise<string | undefined> {
  const q = await conn.exec(['squeue', '-h', '-t', 'all', '-n', jobName, '-o', '%A']);
  const fromQueue = q.stdout.toString().split('\n').map((l) => l.trim()).find((l) => /^\d+$/.test(l));
  if (fromQueue) return fromQueue;
  const a = await conn.exec(['sacct', '-X', '-n', '-P', '-S', 'now-7days', '--name', jobName, '--format=JobID']);
  return a.stdout.toString().split('\n').map((l) => l.trim().split('_')[0]).find((l) => /^\d+$/.test(l));
}
