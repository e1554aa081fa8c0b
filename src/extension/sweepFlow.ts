/**
 * The questions of Run as Sweep, asked through an `Answerer` (the extension's `ask`, or a test's
 * fake): the command with its `{name}` placeholders, each placeholder's values (a list, a range
 * or workspace files), product or zipped, a throttle, and the confirmation with the first
 * commands as they will run. Parsing and expansion are the core's (`sweepSpec.ts`); no vscode
 * import, so the flow is unit-tested with fake prompts.
 */
import { MuseError, cancelledError } from '../core/errors';
import type { InputFile } from '../core/model';
import { checkSweepSpec, expandSweep, parseValues, placeholders, sweepSize } from '../core/sweep/sweepSpec';
import type { SweepParam, SweepSpec, SweepTask } from '../core/sweep/sweepSpec';
import type { Answerer } from './prompts';

/** The kinds of values a placeholder can take, as the pick offers them. */
export const VALUE_KINDS = {
  list: 'List',
  range: 'Range',
  files: 'Files',
} as const;

/** The two ways several parameters combine, as the pick offers them. */
export const COMBINE_CHOICES = { product: 'Product', zip: 'Zipped' } as const;

/** The button of the confirmation. */
export const RUN_SWEEP = 'Run Sweep';

/** How many commands the confirmation shows before "... and N more". */
export const SHOWN_COMMANDS = 5;

/** What the flow needs besides the questions. */
export interface SweepFlowContext {
  ask: Answerer;
  /** The workspace files a glob matches, with their names in the run folder (`findFiles`). */
  findFiles(glob: string): Promise<InputFile[]>;
  /** The command as Run on Muse prefills it (`python3 add.py`). */
  prefill: string;
  /** `add.py`, for titles. */
  script: string;
  /** The profile's name, for titles. */
  profile: string;
  /** `sw_example`, shown in the confirmation. */
  software: string;
  /** One line on the files sent with these extra ones (`3 files, 1.2 KB`), shown in the confirmation. */
  filesSummary(extra: InputFile[]): Promise<string>;
}

/** What the user answered: the sweep, its tasks, the throttle, and the files its values name. */
export interface SweepAnswers {
  spec: SweepSpec;
  tasks: SweepTask[];
  /** At most this many tasks at once; undefined: no limit. */
  throttle?: number;
  /** Files picked as values (`{file}`): sent with the sweep, once for all tasks. */
  files: InputFile[];
}

/** A throttle as typed: empty is no limit, else a whole number of at least 1. */
export function parseThrottle(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^\d+$/.test(t) || Number(t) < 1) throw new MuseError('usage', `The throttle "${t}" is not a whole number of at least 1 (leave it empty for no limit).`);
  return Number(t);
}

/** The confirmation's detail: software, the first commands as they will run, throttle, files. */
export function confirmDetail(tasks: readonly SweepTask[], software: string, throttle: number | undefined, filesSummary: string): string {
  const shown = tasks.slice(0, SHOWN_COMMANDS).map((t) => `  ${t.command}`);
  if (tasks.length > SHOWN_COMMANDS) shown.push(`  ... and ${tasks.length - SHOWN_COMMANDS} more`);
  const limit = throttle ? `At most ${throttle} running at once.` : 'No limit on how many run at once.';
  return [`${software}:`, ...shown, limit, filesSummary].join('\n');
}

async function input(ctx: SweepFlowContext, id: string, title: string, prompt: string, value = ''): Promise<string> {
  const answer = await ctx.ask({ kind: 'input', id, title, prompt, value });
  if (answer === undefined) throw cancelledError('Run as Sweep');
  return answer;
}

async function pick(ctx: SweepFlowContext, id: string, title: string, placeHolder: string, items: { label: string; description?: string }[]): Promise<string> {
  const answer = await ctx.ask({ kind: 'pick', id, title, placeHolder, items });
  if (answer === undefined || !items.some((i) => i.label === answer)) throw cancelledError('Run as Sweep');
  return answer;
}

/** One placeholder's values: the kind first (files first for `{file}`), then the values. */
async function askParam(ctx: SweepFlowContext, name: string, files: Map<string, InputFile>): Promise<SweepParam> {
  const title = `Muse: values of {${name}}`;
  const kinds = [
    { label: VALUE_KINDS.list, description: '1,2,5 (or a JSON list: ["a,b", "c"])' },
    { label: VALUE_KINDS.range, description: 'start:end:step, e.g. 0:1:0.25' },
    { label: VALUE_KINDS.files, description: 'one task per workspace file a glob matches, e.g. data/*.csv' },
  ];
  if (name === 'file') kinds.unshift(kinds.pop()!);
  const kind = await pick(ctx, 'sweep.kind', title, `How to give the values of {${name}}`, kinds);
  if (kind === VALUE_KINDS.files) {
    const glob = (await input(ctx, 'sweep.files', title, `Files for {${name}}: a glob in the workspace (each match is sent once, and each task gets one as {${name}})`, '**/*.csv')).trim();
    if (!glob) throw new MuseError('usage', `No glob given for {${name}}.`);
    const found = await ctx.findFiles(glob);
    if (found.length === 0) throw new MuseError('usage', `No file in the workspace matches ${glob}.`);
    for (const f of found) files.set(f.name, f);
    return { name, values: found.map((f) => f.name) };
  }
  const prompt = kind === VALUE_KINDS.range ? `A range for {${name}}: start:end:step (0:1:0.25), the end included when the steps reach it` : `Values of {${name}}: a comma-separated list (1,2,5), or a JSON list for values holding commas`;
  return { name, values: parseValues(await input(ctx, 'sweep.values', title, prompt)) };
}

/**
 * Asks the sweep's questions in order and returns the answers; a dismissed question cancels
 * (`cancelled` MuseError), a wrong answer throws the core's words (`usage` MuseError).
 */
export async function askSweep(ctx: SweepFlowContext): Promise<SweepAnswers> {
  const title = `Muse: run ${ctx.script} as a sweep on ${ctx.profile}`;
  const template = (
    await input(ctx, 'sweep.cmd', title, 'The command with {name} placeholders (python3 fit.py --lr {lr}); each value is passed as one shell word', ctx.prefill)
  ).trim();
  const names = placeholders(template);
  // No placeholder: the core says so in its words.
  if (names.length === 0) checkSweepSpec({ template, params: [], combine: 'product' });
  const files = new Map<string, InputFile>();
  const params: SweepParam[] = [];
  for (const name of names) params.push(await askParam(ctx, name, files));
  let combine: SweepSpec['combine'] = 'product';
  if (params.length > 1) {
    const product = sweepSize({ template, params, combine: 'product' });
    const zipped = params.every((p) => p.values.length === params[0].values.length);
    const items: { label: string; description: string }[] = [{ label: COMBINE_CHOICES.product, description: `every combination: ${product} tasks` }];
    items.push({ label: COMBINE_CHOICES.zip, description: zipped ? `the i-th values together: ${params[0].values.length} tasks` : `the i-th values together (${params.map((p) => `${p.name} has ${p.values.length}`).join(', ')})` });
    combine = (await pick(ctx, 'sweep.combine', title, 'How the parameters combine', items)) === COMBINE_CHOICES.zip ? 'zip' : 'product';
  }
  const spec: SweepSpec = { template, params, combine };
  const tasks = expandSweep(spec);
  const throttle = parseThrottle(await input(ctx, 'sweep.throttle', title, `At most how many of the ${tasks.length} tasks run at once (empty: no limit)`));
  const answer = await ctx.ask({
    kind: 'message',
    id: 'sweep.confirm',
    severity: 'info',
    modal: true,
    message: `Run ${ctx.script} as a sweep of ${tasks.length} task${tasks.length === 1 ? '' : 's'} on ${ctx.profile}?`,
    detail: confirmDetail(tasks, ctx.software, throttle, await ctx.filesSummary([...files.values()])),
    choices: [RUN_SWEEP],
  });
  if (answer !== RUN_SWEEP) throw cancelledError('Run as Sweep');
  return { spec, tasks, throttle, files: [...files.values()] };
}
