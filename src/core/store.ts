/**
 * The durable list of runs (`runs.json`), as the CLI and the tests use it: `RunStoreCore`
 * (storeCore.ts, where its guarantees are described) locking with proper-lockfile, which is
 * required on the first write only: commands that only read never load it (nor graceful-fs,
 * which patches `fs` when loaded).
 */
import type { LockFile, RunStoreOptions } from './storeCore';
import { RunStoreCore } from './storeCore';

export type { LockFile, RunStoreHooks, RunStoreOptions } from './storeCore';

function properLockfile(): LockFile {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('proper-lockfile') as typeof import('proper-lockfile')).lock;
}

/** The durable run store, locking with proper-lockfile unless `opts.lock` says otherwise. */
export class RunStore extends RunStoreCore {
  /** @param file path of `runs.json` (see `runStorePath()`). */
  constructor(file: string, opts: RunStoreOptions = {}) {
    super(file, { ...opts, lock: opts.lock ?? properLockfile });
  }
}
