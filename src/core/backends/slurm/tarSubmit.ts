/**
 * A submit in one remote command: the inputs and the batch script travel as one tar stream into
 * a command that makes the run folder, unpacks them, applies `files_order` (zips unzipped in that
 * order, later files overwriting earlier ones), and runs sbatch at most once (submitOnce.ts).
 * On a warm connection that is one exec: a few round trips whatever the number of files, where
 * SFTP costs several per file. Names travel as tar member names, never through a shell line.
 */
import type { OpOptions } from '../../backend';
import { cancelledError } from '../../errors';
import { tarStream } from '../../transfer/tarStream';
import type { TarEntry } from '../../transfer/tarStream';
import { BATCH_FILE } from './batchScript';
import type { RunInputs } from './runInputs';
import { STAGING_DIR, SUBMIT_LOCK, isZipName } from './runFileNames';
import { isConnectionLoss } from './sshConnection';
import type { SshConnection } from './sshConnection';
import { SBATCH_GUARD, markNotSubmitted, sbatchAnswer } from './submitOnce';

/** The last member of every stream: its presence proves the archive arrived whole. */
const SENT_MARK = '.muse-sent';

/** Exits of the remote command that come before sbatch could run. */
const BEFORE_SBATCH = [93, 94, 95];

/**
 * The remote side. `$1` the run folder, `$2` 1 when inputs are staged (zips among them), then
 * name / is-zip pairs in `files_order`. A repeat after a dropped connection that finds the submit
 * lock reads no input: it only answers the recorded job id.
 */
const REMOTE =
  'd=$1; z=$2; shift 2; ' +
  `if [ -d "$d/${SUBMIT_LOCK}" ]; then cd -- "$d" || exit 98; ${SBATCH_GUARD}; exit; fi; ` +
  'mkdir -p -- "$d" && cd -- "$d" || exit 94; ' +
  'tar -x -o -f - || exit 95; ' +
  `[ -f ${SENT_MARK} ] || { echo "the inputs arrived incomplete" >&2; exit 95; }; rm -f ${SENT_MARK}; ` +
  'if [ "$z" = 1 ]; then while [ $# -gt 0 ]; do n=$1; k=$2; shift 2; ' +
  'case $n in */*) mkdir -p -- "./${n%/*}" || exit 93;; esac; ' +
  `mv -f -- "${STAGING_DIR}/$n" "./$n" || exit 93; ` +
  'if [ "$k" = 1 ]; then unzip -o -q "./$n" || { echo "unzip failed for $n" >&2; exit 93; }; fi; done; ' +
  `rm -rf -- ${STAGING_DIR}; fi; ` +
  SBATCH_GUARD;

/** The tar members of a submit: the batch script, the inputs (staged when zips must be opened in order), the end mark. */
export function submitMembers(inputs: RunInputs, script: string, extra: readonly TarEntry[] = []): TarEntry[] {
  const staged = inputs.order.some(isZipName);
  return [
    { name: BATCH_FILE, data: Buffer.from(script, 'utf8') },
    ...extra,
    ...inputs.order.map((n) => ({ name: staged ? `${STAGING_DIR}/${n}` : n, path: inputs.files.get(n)! })),
    { name: SENT_MARK, data: Buffer.alloc(0) },
  ];
}

/**
 * Sends the inputs and the batch script of a run to `runDir` and submits it, in one remote
 * command; resolves with the job id. A dropped connection repeats the command once (it is
 * guarded: a job submitted by the first attempt is found, never made again). A cancel stops the
 * stream while it is being sent (no job is made then); once it is sent, the submit completes.
 * Errors after which no job exists are marked (`isNotSubmitted`), so the caller can remove the
 * folder. `extra` members (a sweep's task table) travel in the same stream.
 */
export async function submitByTar(
  conn: SshConnection,
  runDir: string,
  inputs: RunInputs,
  script: string,
  jobName: string,
  opts: OpOptions,
  extra: readonly TarEntry[] = [],
): Promise<string> {
  const { signal, onProgress } = opts;
  const total = [...inputs.sizes.values()].reduce((a, b) => a + b, 0);
  const staged = inputs.order.some(isZipName);
  const args = ['sh', '-c', REMOTE, 'sh', runDir, staged ? '1' : '0'];
  for (const n of inputs.order) args.push(n, isZipName(n) ? '1' : '0');
  const members = submitMembers(inputs, script, extra);

  const attempt = async (first: boolean): Promise<string> => {
    let done = 0;
    const source = tarStream(members, (n, name) => {
      if (name === BATCH_FILE || name === SENT_MARK || extra.some((x) => x.name === name)) return;
      done += n;
      onProgress?.({ phase: 'upload', done, total, file: name });
    });
    let sourceError: unknown;
    source.once('error', (e) => (sourceError = e));
    const onAbort = () => source.destroy(cancelledError('Submit'));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await conn.exec(args, { stdin: source });
      onProgress?.({ phase: 'submit', done: 0 });
      return await sbatchAnswer(conn, r, runDir, jobName, first ? BEFORE_SBATCH : []);
    } catch (e) {
      // A cancel or a local read failure cut the stream before its end mark: no job was made.
      if (first && e === sourceError && e instanceof Error) markNotSubmitted(e);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };

  try {
    return await attempt(true);
  } catch (e) {
    if (!isConnectionLoss(e) || signal?.aborted) throw e;
    return await attempt(false);
  }
}
