/** Entry point of the `muse` CLI (bundled to dist/cli.js). */
import { runCli } from './program';

const ac = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts > 1) {
    process.stderr.write('\nmuse: interrupted.\n');
    process.exit(130);
  }
  ac.abort();
  // The operation stops on the signal; if something does not, do not hang on Ctrl-C.
  setTimeout(() => {
    process.stderr.write('\nmuse: interrupted.\n');
    process.exit(130);
  }, 5000).unref();
});

// `muse submit --wait | head -1`: once the reader is gone, what is left to print goes nowhere,
// and the command still finishes its work (store updates, files) with its own exit code.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
    throw e;
  });
}

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  signal: ac.signal,
}).then(
  (code) => {
    process.exitCode = code;
    // The command has finished: an error thrown late by a connection being torn down (an SFTP
    // request cut short by the close) must not turn its outcome into a crash.
    process.on('uncaughtException', (e) => {
      if (process.env.MUSE_DEBUG === '1') process.stderr.write(`muse: (while closing) ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(code);
    });
    // A lingering handle (keep-alive socket, stdin) must not keep a finished command alive.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (e: unknown) => {
    process.stderr.write(`muse: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 3;
  },
);
