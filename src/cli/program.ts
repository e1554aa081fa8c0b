/**
 * The `muse` command line: the program, its global options, and one function that runs it
 * with given streams and returns the exit code (the entry point and the tests both use it).
 */
import { Command, CommanderError } from 'commander';
import { isMuseError } from '../core/errors';
import { registerAccountCommands } from './accountCommands';
import { registerAgentCommands } from './agentCommands';
import { CliContext } from './context';
import { registerDiffCommand } from './diffCommand';
import type { GlobalOptions } from './context';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exitCodes';
import { registerLogsCommand } from './logsCommand';
import { registerProfileCommands } from './profileCommands';
import { registerResultCommands } from './resultCommands';
import { registerRerunCommand } from './rerunCommand';
import { registerRunCommands } from './runCommands';
import { registerSubmitCommand } from './submitCommand';
import type { CliIo } from './terminal';

export const CLI_VERSION = '0.1.0';

/** Builds the program; `ctxOf` gives the invocation's context to each action. */
export function buildProgram(io: CliIo, ctxOf: (cmd: Command) => CliContext): Command {
  const program = new Command('muse');
  program
    .description('Run software on the Muse cluster (web API, SSH/Slurm) or on this machine, and fetch the results.')
    .version(CLI_VERSION)
    .option('--profile <name>', 'profile to use (see "muse profiles"; default: MUSE_PROFILE, then the default profile)')
    .option('--url <url>', 'use the web API at this URL (an ad-hoc ws profile)')
    .option('--json', 'machine-readable output on stdout (messages stay on stderr)')
    .option('-q, --quiet', 'no messages on stderr, only data and errors')
    .option('--token-stdin', 'read the ws token from standard input (with "login": keep it)')
    .option('--no-agent', 'SSH profiles log in by themselves, not through the per-user agent (also MUSE_NO_AGENT=1)')
    .showHelpAfterError('(run "muse --help" for the commands and exit codes)')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  registerSubmitCommand(program, ctxOf);
  registerRunCommands(program, ctxOf);
  registerRerunCommand(program, ctxOf);
  registerResultCommands(program, ctxOf);
  registerDiffCommand(program, ctxOf);
  registerLogsCommand(program, ctxOf);
  registerAccountCommands(program, ctxOf);
  registerProfileCommands(program, ctxOf);
  registerAgentCommands(program, ctxOf);
  return program;
}

/** The one line shown for an error (the server's text included), with a hint where one helps. */
export function errorLine(e: unknown, ctx: CliContext | undefined): string {
  if (!(e instanceof Error)) return String(e);
  let msg = e.message || e.name;
  if (isMuseError(e)) {
    const se = e.details.serverError;
    if (se && !msg.includes(se)) msg += ` (server: ${se})`;
    const p = ctx?.lastProfile;
    // "muse login" signs in to the web API only: an SSH login refusal needs a key, not a token.
    const wsAuth = !p || p.kind === 'ws';
    if (e.code === 'auth' && wsAuth && !ctx?.noAuthHint && !/muse login/.test(msg)) {
      msg += ` Sign in with: muse login${p && p.name !== 'adhoc' ? ` --profile ${p.name}` : ''}${ctx?.globals.url ? ` --url ${ctx.globals.url}` : ''}`;
    }
  }
  return msg.replace(/\s*\n\s*/g, ' ');
}

/** Runs `muse` with these arguments (without node and the script) and returns the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  let ctx: CliContext | undefined;
  const ctxOf = (cmd: Command): CliContext => {
    ctx ??= new CliContext(io, cmd.optsWithGlobals<GlobalOptions>());
    return ctx;
  };
  const program = buildProgram(io, ctxOf);
  try {
    if (args.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(args, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const code = exitCodeFor(e);
    if (code === EXIT.interrupted || io.signal.aborted) {
      io.stderr.write(`muse: interrupted.${ctx?.interruptNote ? ' ' + ctx.interruptNote : ''}\n`);
      return EXIT.interrupted;
    }
    io.stderr.write(`muse: ${errorLine(e, ctx)}\n`);
    if (io.env.MUSE_DEBUG === '1' && e instanceof Error) io.stderr.write(`${e.stack ?? ''}\n`);
    return code;
  } finally {
    await ctx?.dispose();
  }
}
