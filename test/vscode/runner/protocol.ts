// What the in-host runner (index.ts, inside the extension host) and the scripts that start it
// (drive.ts, electron.ts, run.sh) agree on. No imports: loaded on both sides.

/** Env var naming the file where the runner writes `<passed> <failed> <pending>`. */
export const RESULT_ENV = 'MUSE_VSCODE_RESULT';

/** Env var with a mocha `grep` pattern, to run a subset of the in-host tests. */
export const GREP_ENV = 'MUSE_VSCODE_GREP';

/** First line the runner logs; drive.ts keeps the workbench's chatter before it out of the report. */
export const START_MARKER = '[muse-tests] in-host tests:';
