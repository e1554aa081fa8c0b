// The `extensionTestsPath` entry: VS Code's extension host loads this file and calls `run()`.
// It runs mocha (11: CommonJS; 12 is ESM-only) on every compiled `out/test/vscode/**/*.test.js`
// inside the real extension host, so the tests can use the `vscode` API against our extension.
import * as fs from 'fs';
import * as path from 'path';
import Mocha = require('mocha'); // mocha 11 is CommonJS: its export is the class itself
import { GREP_ENV, RESULT_ENV, START_MARKER } from './protocol';

/** Every `*.test.js` below `dir`, sorted so runs are repeatable. */
function findTests(dir: string): string[] {
  const names = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
  return names
    .filter((n) => n.endsWith('.test.js') && !n.split(path.sep).includes('runner'))
    .map((n) => path.join(dir, n))
    .sort();
}

/**
 * Runs the in-host tests. Resolves when all pass; rejects otherwise (VS Code then exits, or
 * calls `codeAutomationExit`, with a non-zero code). Writes `<passed> <failed> <pending>` to
 * the file named by `$MUSE_VSCODE_RESULT` when set, then a line per failed test (its file, full
 * title and first error line) for the tier's closing summary.
 */
export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    color: false, // the output goes through the workbench's log, not a terminal
    timeout: 60_000,
    grep: process.env[GREP_ENV] || undefined,
  });
  const testsRoot = path.resolve(__dirname, '..');
  const files = findTests(testsRoot);
  for (const f of files) mocha.addFile(f);
  // A file, not $MUSE_TALLY: the tier's tally is run.sh's business, and the host's env is not ours.
  const resultFile = process.env[RESULT_ENV];
  // drive.ts starts echoing the workbench's log to stdout at this line (before it: workbench noise).
  console.log(`${START_MARKER} ${files.length} file(s) from ${testsRoot}`);

  return new Promise((resolve, reject) => {
    const failures: string[] = [];
    const finish = (passed: number, failed: number, pending: number): void => {
      if (resultFile) fs.writeFileSync(resultFile, [`${passed} ${failed} ${pending}`, ...failures, ''].join('\n'));
      if (failed > 0) reject(new Error(`${failed} in-host test(s) failed`));
      else if (passed === 0) reject(new Error(`no in-host test ran (looked in ${testsRoot})`));
      else resolve();
    };
    try {
      const runner = mocha.run(() => {
        const s = runner.stats;
        finish(s?.passes ?? 0, s?.failures ?? 1, s?.pending ?? 0);
      });
      runner.on('fail', (test, err: unknown) => {
        const file = test.file ? path.relative(testsRoot, test.file) : '?';
        const first = String(err instanceof Error ? err.message : err).split('\n')[0].slice(0, 300);
        failures.push(`in-host ${file}: ${test.fullTitle()}: ${first}`);
      });
    } catch (err) {
      // A test file that throws while loading: count it as one failure, say which.
      console.error(err);
      failures.push(`in-host: a test file did not load: ${String(err).split('\n')[0]}`);
      finish(0, 1, 0);
    }
  });
}
