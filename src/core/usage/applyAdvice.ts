/**
 * Applying an advice item to a run's sbatch options: the option it names replaces the ones that
 * say the same thing, whatever form they were written in (`--mem=4G`, `--mem 4G`, `-t 10`, the
 * web API's `mem=4G`), so the new request never holds two answers to one question.
 */
import type { UsageAdvice } from './usageAdvice';

/** Options that say the same thing: setting one drops the others (sbatch refuses two memory forms). */
const SAME_QUESTION: ReadonlyArray<readonly string[]> = [
  ['--mem', '--mem-per-cpu', '--mem-per-gpu'],
  ['--time', '-t'],
  ['--cpus-per-task', '-c'],
];

/** The option name of an item in any of its forms: `--mem` for `--mem=4G`, `--mem 4G`, `mem=4G`; `-t` for `-t 10`, `-t10`. */
export function sbatchOptionName(item: string): string | undefined {
  const s = item.trim();
  const long = /^(--[A-Za-z][A-Za-z0-9-]*)(?:[= ]|$)/.exec(s);
  if (long) return long[1];
  const short = /^(-[A-Za-z])/.exec(s);
  if (short) return short[1];
  const bare = /^([a-z][a-z0-9-]*)(?:=|$)/.exec(s);
  return bare ? `--${bare[1]}` : undefined;
}

/** True when the item is written the web API's way, without dashes (`mem=4G`). */
function isBare(item: string): boolean {
  return !item.trim().startsWith('-');
}

/**
 * The options with `advice.option` applied: the items naming the same thing are removed, and
 * the new one takes the place of the first of them (or goes last). It is written without
 * dashes when the item it replaces was, or when every item of the list is (the web API's form).
 */
export function applyAdvice(options: readonly string[], advice: Pick<UsageAdvice, 'option'>): string[] {
  const name = sbatchOptionName(advice.option);
  if (!name) throw new Error(`Not an sbatch option: ${advice.option}`);
  const family = SAME_QUESTION.find((g) => g.includes(name)) ?? [name];
  const at = options.findIndex((o) => family.includes(sbatchOptionName(o) ?? ''));
  const bare = at >= 0 ? isBare(options[at]) : options.length > 0 && options.every(isBare);
  const written = bare ? advice.option.replace(/^--/, '') : advice.option;
  const kept = options.filter((o) => !family.includes(sbatchOptionName(o) ?? ''));
  const insertAt = at >= 0 ? options.slice(0, at).filter((o) => !family.includes(sbatchOptionName(o) ?? '')).length : kept.length;
  kept.splice(insertAt, 0, written);
  return kept;
}
