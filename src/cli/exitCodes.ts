/** The CLI's documented exit codes, and how errors map to them. */
import { isMuseError } from '../core/errors';

export const EXIT = {
  ok: 0,
  /** The run failed or ended not OK. */
  runFailed: 1,
  /** Bad arguments or configuration. */
  usage: 2,
  /** Server, network or file error. */
  server: 3,
  /** Authentication needed or expired, login refused. */
  auth: 4,
  /** Unknown run, key or profile item. */
  notFound: 5,
  /** Ctrl-C. */
  interrupted: 130,
} as const;

/** The text appended to `muse --help`. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    ok
  1    the run failed or ended not OK
  2    usage or configuration error (also: results asked before the run ended, an operation
       this backend does not offer)
  3    server, network or local file error
  4    authentication needed or expired (run "muse login"), or login refused
  5    not found (unknown run or key)
  130  interrupted (Ctrl-C)

Environment:
  MUSE_CONFIG_DIR   folder of config.json and tokens/ (profiles, tokens)
  MUSE_DATA_DIR     folder of runs.json (the run list) and local-runs/
  MUSE_PROFILE      profile used when --profile is not given
  MUSE_JWT          token used instead of the stored one
  MUSE_DEBUG=1      print stack traces`;

/** The exit code for a thrown value. */
export function exitCodeFor(e: unknown): number {
  if (!isMuseError(e)) return EXIT.server;
  switch (e.code) {
    case 'usage':
    case 'unsupported':
    case 'notReady':
      return EXIT.usage;
    case 'auth':
      return EXIT.auth;
    case 'notFound':
      return EXIT.notFound;
    case 'cancelled':
      return EXIT.interrupted;
    case 'runFailed':
      return EXIT.runFailed;
    case 'server':
    case 'malformed':
    case 'network':
    case 'refused':
    case 'io':
      return EXIT.server;
  }
}
