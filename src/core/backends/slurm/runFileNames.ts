/**
 * The names in a run folder: the user's files, checked before anything reaches the cluster,
 * and the backend's own bookkeeping files beside them.
 */
import { MuseError } from '../../errors';

/** Folder of staged inputs while zips are unzipped in order. */
export const STAGING_DIR = '.muse-inputs';
/** The submit lock (a folder: mkdir is atomic), taken before sbatch runs. */
export const SUBMIT_LOCK = '.muse-sbatch';
/** The job id sbatch gave, recorded under the lock. */
export const JOBID_FILE = '.muse-jobid';
/** The backend's own files in a run folder, left out of its content zip (the batch script stays: users read it). */
export const BOOKKEEPING = new Set([SUBMIT_LOCK, JOBID_FILE]);

/**
 * Checks the name a file gets in the run folder: a relative path with `/`, no `.`/`..`
 * segments, no control characters (they would break the remote shell lines and the listings),
 * not one of the names the backend writes itself.
 */
export function checkRunFileName(name: string): string {
  const bad = (why: string): never => {
    // The user's own input: a usage error (exit 2), not a safety refusal.
    throw new MuseError('usage', `The file name ${JSON.stringify(name)} is refused: ${why}.`);
  };
  if (typeof name !== 'string' || name === '') bad('it is empty');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) bad('it contains a line break or a control character');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('it is an absolute path');
  if (name.includes('\\')) bad('it contains a backslash (use / between folders)');
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad('it has an empty, "." or ".." segment');
  if (/^(__WS__|__MUSE__|\.muse-)/.test(parts[0])) bad('names starting with __WS__, __MUSE__ or .muse- are kept for the run\'s own files');
  if (Buffer.byteLength(name) > 1024) bad('it is too long');
  return name;
}

/** True for an input that is unzipped in the run folder once sent. */
export function isZipName(name: string): boolean {
  return /\.zip$/i.test(name);
}
