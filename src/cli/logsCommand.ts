/**
 * `muse logs KEY [--stderr] [-f|--follow]`: a run's output; with `--follow`, new bytes as they
 * come (the core's follower, one read a second) until the run ends: exit 0 if it ended ok, 1 if
 * not. Ctrl-C stops following and leaves the run alone.
 */
import type { Command } from 'commander';
import { can, cannot } from '../core/backend';
import type { Backend, OutputStream } from '../core/backend';
import { MuseError, errorMessage } from '../core/errors';
import { failureOfRun } from '../core/failure/failureOfRun';
import { failureLine } from '../core/failure/explainFailure';
import { Follower } from '../core/follow/follower';
import type { FollowEvent } from '../core/follow/follower';
import type { Run, StateReport } from '../core/model';
import { applyStates } from '../core/runs';
import type { CliContext } from './context';
import { runAndBackend, shortKey } from './resultCommands';

/**
 * `muse logs` without --follow prints at most the last this many bytes (held in memory at once);
 * a line before them names where the whole file is (`muse content` fetches it).
 */
const PRINT_MAX_BYTES = 64 * 1024 * 1024;

/** Seconds between two reads of a followed run (`MUSE_FOLLOW_SECONDS` changes it, tests make it short). */
function everyMs(ctx: CliContext): number {
  const s = Number(ctx.env.MUSE_FOLLOW_SECONDS);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 1000;
}

/** The least time between two fetches of a web API run folder (`MUSE_FOLLOW_WEB_API_SECONDS`, default 30 s). */
function webApiEveryMs(ctx: CliContext): number | undefined {
  const s = Number(ctx.env.MUSE_FOLLOW_WEB_API_SECONDS);
  return Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

export function registerLogsCommand(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  program
    .command('logs')
    .description("print a run's output (stdout, or stderr); with --follow, print new output as it comes until the run ends")
    .argument('<key>', 'run id, backend key, or a unique prefix')
    .option('--stderr', 'the standard error instead of the standard output')
    .option('-f, --follow', 'keep printing new output until the run ends (exit 0 if it ended ok, 1 if not); Ctrl-C stops following, the run goes on')
    .action(async (key: string, o: { stderr?: boolean; follow?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      const { run, backend } = await runAndBackend(ctx, key);
      if (!can(backend, 'follow')) throw cannot(backend.kind, 'follow', { profile: run.profile });
      if (!run.key) throw new MuseError('usage', 'This run has no key (the submit got no answer): it has no output.');
      const stream: OutputStream = o.stderr ? 'stderr' : 'stdout';
      const follower = new Follower({ backendOf: () => backend, maxBytes: o.follow ? undefined : PRINT_MAX_BYTES, folderEveryMs: () => webApiEveryMs(ctx) });
      let lastState: StateReport | undefined;
      let noted = false;
      let warned = '';
      const ended = new Promise<void>((resolve, reject) => {
        const onEvent = (e: FollowEvent): void => {
          if (e.text) ctx.io.stdout.write(e.text);
          if (e.state) lastState = e.state;
          if (e.note && !noted && o.follow) {
            noted = true;
            ctx.info(e.note);
          }
          if (e.error) {
            // A dropped connection is read again from the same offset: say it once, go on.
            const msg = errorMessage(e.error);
            if (!o.follow) return reject(e.error);
            if (msg !== warned) ctx.warn(`${msg} (trying again)`);
            warned = msg;
            return;
          }
          warned = '';
          if (e.ended || !o.follow) resolve();
        };
        follower.add(run, stream, onEvent);
      });
      const onAbort = () => follower.dispose();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (o.follow) {
          follower.start(() => everyMs(ctx));
          follower.poke();
        } else {
          await follower.cycle(ctx.signal);
        }
        await Promise.race([
          ended,
          new Promise<never>((_, reject) => {
            if (ctx.signal.aborted) reject(new MuseError('cancelled', 'Stopped following.'));
            ctx.signal.addEventListener('abort', () => reject(new MuseError('cancelled', 'Stopped following.')), { once: true });
          }),
        ]);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        follower.dispose();
      }
      if (!o.follow) return;
      let now: Run = run;
      if (lastState) [now] = await applyStates(store, [run], new Map([[run.id, lastState]]));
      if (now.state === 'ok') return;
      const cause = await failureOfRun(backend, now, { signal: ctx.signal }).catch(() => undefined);
      throw new MuseError('runFailed', `The run ${shortKey(now)} ${cause ? failureLine(now, cause) : `ended ${now.state}`}.`);
    });
}

/** `muse state`'s line for a run that ended failed: why (`failed: ZeroDivisionError at add.py:12`). */
export async function showFailure(ctx: CliContext, backend: Backend, run: Run): Promise<void> {
  if (run.state !== 'failed' && run.state !== 'cancelled') return;
  const cause = await failureOfRun(backend, run, { signal: ctx.signal }).catch(() => undefined);
  if (cause) ctx.out(`${'why:'.padEnd(14)}${failureLine(run, cause)}${cause.detail && !failureLine(run, cause).includes(cause.detail) ? `\n${''.padEnd(14)}${cause.detail}` : ''}`);
}
