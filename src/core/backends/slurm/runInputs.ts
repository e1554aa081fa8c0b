/**
 * A run's inputs on the cluster: the run folder and its subfolders made, the files uploaded over
 * SFTP a few at a time, then (when zips are among them) moved in place from the staging folder
 * in `files_order` and unzipped there.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import type { OpOptions } from '../../backend';
import { mapLimit } from '../../concurrency';
import { MuseError, errorMessage } from '../../errors';
import type { Run, SubmitRequest } from '../../model';
import { STAGING_DIR, checkRunFileName, isZipName } from './runFileNames';
import { sftpCall } from './sftp';
import type { SshConnection } from './sshConnection';

/** Runs an operation on the backend's connection, once more after a dropped connection. */
export type WithConnection = <T>(fn: (conn: SshConnection) => Promise<T>) => Promise<T>;

/** The inputs of one submit, by their name in the run folder. */
export interface RunInputs {
  /** Run-folder name -> local path. */
  files: Map<string, string>;
  /** Run-folder name -> size in bytes (for progress). */
  sizes: Map<string, number>;
  /** Names in the order they are placed (zips are unzipped in this order). */
  order: string[];
}

/**
 * The inputs of `req`, checked before anything is made on the cluster: each name a valid run
 * file name (the last file given for a name wins, as "copy (overwrite)" does), `files_order`
 * naming only files sent, each local file readable (`usage` or `io` otherwise).
 */
export async function gatherInputs(req: SubmitRequest, request: Run['request']): Promise<RunInputs> {
  const files = new Map<string, string>();
  for (const f of req.files ?? []) files.set(checkRunFileName(f.name), f.path);
  const order = [...request.filesOrder];
  for (const n of order) {
    if (!files.has(n)) throw new MuseError('usage', `files_order names "${n}", which is not among the files sent.`);
  }
  for (const n of files.keys()) if (!order.includes(n)) order.push(n);
  const sizes = new Map<string, number>();
  for (const [name, local] of files) {
    try {
      const st = await fs.stat(local);
      if (!st.isFile()) throw new Error('not a regular file');
      sizes.set(name, st.size);
    } catch (e) {
      throw new MuseError('io', `Cannot read the input file ${local}: ${errorMessage(e)}.`, { cause: e });
    }
  }
  return { files, sizes, order };
}

/** Where the uploads go: the run folder itself, or its staging folder when zips must be unzipped in order. */
export function uploadDir(runDir: string, inputs: RunInputs): string {
  return inputs.order.some(isZipName) ? `${runDir}/${STAGING_DIR}` : runDir;
}

/** The message of a submit refused because the cluster has no `unzip`. */
export function noUnzip(host: string): string {
  return `The inputs hold a zip, and \`unzip\` is not installed on ${host}: unzip it locally and send the files, or ask the cluster's administrators for unzip.`;
}

/**
 * Makes the run folder and every folder the inputs need, in one round trip that also checks
 * that `unzip` exists when a zip must be opened (`unsupported` otherwise).
 */
export async function makeRunFolders(withConnection: WithConnection, runDir: string, inputs: RunInputs, host: string, signal?: AbortSignal): Promise<void> {
  const hasZip = inputs.order.some(isZipName);
  const upDir = uploadDir(runDir, inputs);
  const dirs = new Set<string>([runDir, upDir]);
  for (const n of inputs.files.keys()) {
    const d = path.posix.dirname(n);
    if (d !== '.') {
      dirs.add(`${upDir}/${d}`);
      if (hasZip) dirs.add(`${runDir}/${d}`);
    }
  }
  const mk = await withConnection((c) =>
    c.exec(['sh', '-c', 'need=$1; shift; mkdir -p -- "$@" || exit 1; if [ "$need" = 1 ] && ! command -v unzip >/dev/null 2>&1; then exit 97; fi', 'sh', hasZip ? '1' : '0', ...dirs], { signal }),
  );
  if (mk.code === 97) throw new MuseError('unsupported', noUnzip(host));
  if (mk.code !== 0) throw new MuseError('server', `Cannot create the run folder ${runDir} on ${host}: ${mk.stderr.toString().trim()}`);
}

/**
 * Uploads the inputs into `upDir`, `concurrency` at a time, reporting the bytes sent. Each upload
 * is retried once after a dropped connection (a re-upload overwrites). The first failure starts
 * no further upload and is thrown once those in flight have settled, so that the caller's
 * cleanup does not race them.
 */
export async function uploadInputs(withConnection: WithConnection, inputs: RunInputs, upDir: string, concurrency: number, opts: OpOptions): Promise<void> {
  const { signal, onProgress } = opts;
  const total = [...inputs.sizes.values()].reduce((a, b) => a + b, 0);
  const doneBy = new Map<string, number>();
  const report = (file?: string) => onProgress?.({ phase: 'upload', done: [...doneBy.values()].reduce((a, b) => a + b, 0), total, file });
  let failed: { error: unknown } | undefined;
  await mapLimit([...inputs.files.keys()], concurrency, async (name) => {
    if (failed) return;
    const local = inputs.files.get(name)!;
    const remote = `${upDir}/${name}`;
    const put = (c: SshConnection) =>
      c.sftp(
        (s) =>
          sftpCall<void>(
            (cb) =>
              s.fastPut(local, remote, {
                step: (done: number) => {
                  doneBy.set(name, done);
                  report(name);
                },
              }, cb),
            `Uploading ${name}`,
          ),
        signal,
      );
    doneBy.set(name, 0);
    try {
      await withConnection(put);
    } catch (e) {
      failed ??= { error: e };
      return;
    }
    doneBy.set(name, inputs.sizes.get(name)!);
    report(name);
  });
  if (failed) throw failed.error;
}

/** Moves each staged input in place (overwriting) in `files_order`, unzipping the zips, then removes the staging folder. */
export async function placeStagedInputs(conn: SshConnection, runDir: string, inputs: RunInputs, signal?: AbortSignal): Promise<void> {
  const args: string[] = [];
  for (const n of inputs.order) args.push(n, isZipName(n) ? '1' : '0');
  const st = await conn.exec(
    [
      'sh', '-c',
      'cd -- "$1" || exit 98; shift; while [ $# -gt 0 ]; do n=$1; z=$2; shift 2; ' +
        'mv -f -- "' + STAGING_DIR + '/$n" "./$n" || exit 1; ' +
        'if [ "$z" = 1 ]; then unzip -o -q "./$n" || { echo "unzip failed for $n" >&2; exit 2; }; fi; done; rm -rf -- "' + STAGING_DIR + '"',
      'sh', runDir, ...args,
    ],
    { signal },
  );
  if (st.code !== 0) throw new MuseError('server', `Cannot place the inputs in ${runDir}: ${st.stderr.toString().trim() || `exit ${st.code}`}`);
}
