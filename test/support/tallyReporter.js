// mocha's spec reporter, plus a line of counts appended to $MUSE_TALLY so that
// scripts/test.sh can print one closing "N passed, N failed" line for all tiers.
'use strict';
const fs = require('fs');
const Mocha = require('mocha');

class TallyReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const s = this.stats;
      const file = process.env.MUSE_TALLY;
      if (file) fs.appendFileSync(file, `${s.passes} ${s.failures} ${s.pending}\n`);
    });
  }
}
module.exports = TallyReporter;
