// mocha's spec reporter, plus a line of counts appended to $MUSE_TALLY so that
// scripts/test.sh can print one closing "N passed, N failed" line for all tiers, and a line per
// failed test appended to $MUSE_FAILURES (its file, full title and first error line), so that
// the closing summary names what failed even when only the end of the log is kept.
'use strict';
const fs = require('fs');
const path = require('path');
const Mocha = require('mocha');

/** `file: full title: first line of the error`, on one line. */
function failureLine(test, err) {
  const file = test.file ? path.relative(process.cwd(), test.file) : '?';
  const first = String((err && err.message) || err).split('\n')[0].slice(0, 300);
  return `${file}: ${test.fullTitle()}: ${first}`;
}

class TallyReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.on('fail', (test, err) => {
      const file = process.env.MUSE_FAILURES;
      if (file) fs.appendFileSync(file, failureLine(test, err) + '\n');
    });
    runner.once('end', () => {
      const s = this.stats;
      const file = process.env.MUSE_TALLY;
      if (file) fs.appendFileSync(file, `${s.passes} ${s.failures} ${s.pending}\n`);
    });
  }
}
module.exports = TallyReporter;
