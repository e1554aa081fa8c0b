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

/** An option list for an input box: space-separated, items holding spaces quoted. */
export function joinOptions(items: readonly string[]): string {
  return items.map((i) => (/[\s"']/.test(i) ? `"${i.replace(/(["\\])/g, '\\$1')}"` : i)).join(' ');
}

/**
 * An option list typed in an input box: words split on spaces, except inside double or single
 * quotes (`--comment="two words"` stays one item, without its quotes); a backslash escapes the
 * next character.
 */
export function splitOptions(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && quote !== "'") {
      cur += text[++i];
      has = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}
