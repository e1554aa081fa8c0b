/**
 * The pure half of Rerun with Changes: the advice offered as picks, and the option lists shown
 * in (and read back from) one input box. No vscode import.
 */
import { applyAdvice } from '../core/usage/applyAdvice';
import type { UsageAdvice } from '../core/usage/usageAdvice';

/** The pick that keeps the request as it was. */
export const KEEP_REQUEST = 'Keep the request as it was';

/** One pick of the advice question: its label, and the advice it applies. */
export interface AdvicePick {
  label: string;
  detail?: string;
  apply: UsageAdvice[];
}

/**
 * The advice as picks, one each (`Apply: --mem=6G`), then all of them at once when there are
 * several, then "keep the request": nothing is applied without being picked.
 */
export function advicePicks(advice: readonly UsageAdvice[]): AdvicePick[] {
  const picks: AdvicePick[] = advice.map((a) => ({ label: `Apply: ${a.option}`, detail: a.text, apply: [a] }));
  if (advice.length > 1) picks.push({ label: `Apply all: ${advice.map((a) => a.option).join(' ')}`, detail: 'Every piece of advice above', apply: [...advice] });
  picks.push({ label: KEEP_REQUEST, apply: [] });
  return picks;
}

/** The sbatch options with the picked advice applied (`applyAdvice`: one answer per question). */
export function applyPicked(options: readonly string[], pick: AdvicePick | undefined): string[] {
  let out = [...options];
  for (const a of pick?.apply ?? []) out = applyAdvice(out, a);
  return out;
}

/** An option or module list for an input box: one line, items separated by spaces. */
export function joinOptions(items: readonly string[]): string {
  return items.join(' ');
}

/** Modules typed in an input box: the words. */
export function splitWords(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * sbatch options typed in an input box, one item per option as the request keeps them: a word
 * not starting with `-` is the value of the option before it when that one has none yet
 * (`-c 2`, `--mem 4G`), else an item of its own (a flag, or the web API's `mem=4G`). sbatch values hold
 * no spaces (the Slurm backend refuses them), so spaces only separate.
 */
export function splitSbatchOptions(text: string): string[] {
  const out: string[] = [];
  for (const word of splitWords(text)) {
    const last = out[out.length - 1];
    const wantsValue = last !== undefined && last.startsWith('-') && !last.includes('=') && !last.includes(' ');
    // `qos=normal` after a flag is the web API's form of another option, not a value.
    const bareOption = /^[a-z][a-z0-9-]*=/.test(word);
    if (wantsValue && !word.startsWith('-') && !bareOption) out[out.length - 1] = `${last} ${word}`;
    else out.push(word);
  }
  return out;
}
