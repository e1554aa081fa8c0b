/**
 * `muse diff KEY1 KEY2`: what differs between two runs' requests (command, options, lists,
 * files by the content hash recorded at submit), then a unified diff of their stdout (the last
 * 4 MB of each, read in one batch per profile).
 */
import type { Command } from 'commander';
import { lineDiffNote, unifiedDiff } from '../core/compare/lineDiff';
import { requestDiff, requestDiffLines } from '../core/compare/requestDiff';
import { readOutputs } from '../core/compare/runOutputs';
import type { OutputRead } from '../core/compare/runOutputs';
import { MuseError } from '../core/errors';
import type { CliContext } from './context';
import { shortKey } from './resultCommands';

/** How much of each output is compared: the end, as `muse logs` and the editor show it. */
const DIFF_MAX_BYTES = 4 * 1024 * 1024;

function textOf(read: OutputRead | undefined, name: string): string {
  if (!read) throw new MuseError('notReady', `The output of ${name} could not be read.`);
  if ('missing' in read) throw new MuseError('notReady', `The output of ${name} cannot be read: ${read.missing}.`);
  return read.text;
}

export function registerDiffCommand(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  program
    .command('diff')
    .description("what differs between two runs: their requests (command, options, files by content), then their stdout as a unified diff")
    .argument('<key1>', 'run id, backend key, or a unique prefix')
    .argument('<key2>', 'run id, backend key, or a unique prefix')
    .option('--stderr', 'compare the standard error instead of the standard output')
    .action(async (key1: string, key2: string, o: { stderr?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const store = await ctx.store();
      const a = store.resolve(key1);
      const b = store.resolve(key2);
      if (a.id === b.id) throw new MuseError('usage', `"${key1}" and "${key2}" are the same run: give two runs.`);
      const stream = o.stderr ? 'stderr' : 'stdout';
      const req = requestDiff(a, b);
      const outputs = await readOutputs([a, b], async (r) => ctx.backend(ctx.profileForRun(r)), { stream, maxBytes: DIFF_MAX_BYTES, signal: ctx.signal });
      const [ta, tb] = [textOf(outputs.get(a.id), shortKey(a)), textOf(outputs.get(b.id), shortKey(b))];
      const truncated = [a, b].some((r) => {
        const x = outputs.get(r.id);
        return !!x && 'truncated' in x && x.truncated;
      });
      const diff = unifiedDiff(ta, tb, { labelA: `${shortKey(a)} ${stream}`, labelB: `${shortKey(b)} ${stream}` });
      ctx.out(`Request of ${shortKey(a)} (-) and ${shortKey(b)} (+):`);
      ctx.out(requestDiffLines(req).map((l) => `  ${l}`).join('\n'));
      ctx.out('');
      if (truncated) ctx.info(lineDiffNote(DIFF_MAX_BYTES));
      ctx.out(diff.length === 0 ? `The ${stream} of both runs is the same.` : diff.join('\n'));
      ctx.json({ a: a.id, b: b.id, request: req, stream, diff, truncated });
    });
}
