/**
 * A sweep's specification: a command template with `{name}` placeholders, the values of each
 * placeholder, and how several parameters combine (cartesian product, or zipped). Expanding it
 * gives one command per task, each value substituted as ONE shell word (quoted by
 * `shellQuote`), never interpreted by the shell.
 */
import { MuseError } from '../errors';
import { shellQuote } from '../shellQuote';

/** One placeholder and its values. */
export interface SweepParam {
  name: string;
  values: string[];
}

/** What the user asked: the template, its parameters, and how they combine. */
export interface SweepSpec {
  template: string;
  params: SweepParam[];
  combine: 'product' | 'zip';
}

/** One task of a sweep: its index (from 0), its value of each parameter, and its command line. */
export interface SweepTask {
  index: number;
  params: Record<string, string>;
  command: string;
}

/** The most tasks one sweep may have (a typo in a range must not make a million runs). */
export const MAX_SWEEP_TASKS = 100_000;

/**
 * `{name}` where name is an identifier; not `${name}` (the shell's own braces stay the shell's).
 * The lookbehind keeps `${HOME}` in a template working as the user meant it.
 */
const PLACEHOLDER = /(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The placeholder names of `template`, in order of first use, each once. */
export function placeholders(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

const NUMBER = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';
const RANGE = new RegExp(`^\\s*(${NUMBER})\\s*:\\s*(${NUMBER})\\s*(?::\\s*(${NUMBER})\\s*)?$`);

/** Digits after the decimal point of a number as written (`0.25` -> 2, `1e-3` -> 3). */
function decimalsOf(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n)) return 0;
  const m = /^[-+]?\d*(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text.trim());
  if (!m) return 0;
  const frac = (m[1] ?? '').length;
  const exp = m[2] !== undefined ? Number(m[2]) : 0;
  return Math.max(0, frac - exp);
}

/**
 * The values of one parameter, as the user writes them:
 * - a range `start:end:step` (or `start:end`, step 1), end included when the steps reach it,
 *   printed without float noise (`0:1:0.1` gives `0.3`, not `0.30000000000000004`);
 * - a JSON list `["a b", "c,d"]`, for values holding commas;
 * - otherwise a comma-separated list `1,2,5` (spaces around each item trimmed).
 * Throws a `usage` MuseError for an empty list, an empty item, or a range that cannot end.
 */
export function parseValues(text: string): string[] {
  const t = text.trim();
  if (t === '') throw new MuseError('usage', 'No values given: write a list (1,2,5), a range (0:1:0.25) or a JSON list (["a", "b"]).');
  const r = RANGE.exec(t);
  if (r) return rangeValues(t, r[1], r[2], r[3] ?? '1');
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new MuseError('usage', `The values ${t} start with "[" but are not a JSON list of strings.`);
    }
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw new MuseError('usage', `The values ${t} must be a non-empty JSON list of strings or numbers.`);
    }
    return v.map(String);
  }
  const items = t.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new MuseError('usage', `The list "${t}" has an empty item: remove the extra comma (a value holding a comma can be written as a JSON list: ["a,b", "c"]).`);
  }
  return items;
}

function rangeValues(text: string, a: string, b: string, s: string): string[] {
  const start = Number(a);
  const end = Number(b);
  const step = Number(s);
  if (step === 0) throw new MuseError('usage', `The range ${text} has a step of 0: it would never end.`);
  if ((end - start) / step < 0) {
    throw new MuseError('usage', `The range ${text} never reaches its end from its start with that step (write a negative step to count down).`);
  }
  // A small tolerance so that 0:1:0.1 reaches 1 despite binary fractions.
  const count = Math.floor((end - start) / step + 1e-9) + 1;
  if (count > MAX_SWEEP_TASKS) throw new MuseError('usage', `The range ${text} has ${count} values: at most ${MAX_SWEEP_TASKS} are allowed in a sweep.`);
  const decimals = Math.min(15, Math.max(decimalsOf(a), decimalsOf(s)));
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(String(Number((start + i * step).toFixed(decimals))));
  return out;
}

/** Refuses a value no shell word can carry as one line of a task table (newline, NUL). */
function checkValue(name: string, value: string): void {
  if (/[\n\r\0]/.test(value)) {
    throw new MuseError('usage', `A value of {${name}} contains a line break (${JSON.stringify(value)}): each value must be on one line.`);
  }
}

/** Checks the spec against its template; throws a `usage` MuseError a user can act on. */
export function checkSweepSpec(spec: SweepSpec): void {
  const names = placeholders(spec.template);
  if (names.length === 0) {
    throw new MuseError('usage', `The command "${spec.template}" has no {name} placeholder: a sweep needs at least one (for instance python fit.py --lr {lr}).`);
  }
  const seen = new Set<string>();
  for (const p of spec.params) {
    if (seen.has(p.name)) throw new MuseError('usage', `The parameter ${p.name} is given twice: give all its values in one list.`);
    seen.add(p.name);
    if (!names.includes(p.name)) {
      throw new MuseError('usage', `Values are given for ${p.name}, but the command has no {${p.name}} placeholder (it has ${names.map((n) => `{${n}}`).join(', ')}).`);
    }
    if (p.values.length === 0) throw new MuseError('usage', `The placeholder {${p.name}} has no values.`);
    for (const v of p.values) checkValue(p.name, v);
  }
  const missing = names.filter((n) => !seen.has(n));
  if (missing.length > 0) {
    throw new MuseError('usage', `The placeholder${missing.length > 1 ? 's' : ''} ${missing.map((n) => `{${n}}`).join(', ')} ${missing.length > 1 ? 'have' : 'has'} no values: give them (for instance --param ${missing[0]}=1,2,3).`);
  }
  if (spec.combine === 'zip') {
    const lengths = spec.params.map((p) => p.values.length);
    if (new Set(lengths).size > 1) {
      throw new MuseError('usage', `Zipped parameters must have as many values each: ${spec.params.map((p) => `${p.name} has ${p.values.length}`).join(', ')}.`);
    }
  }
  const count = sweepSize(spec);
  if (count > MAX_SWEEP_TASKS) throw new MuseError('usage', `The sweep would have ${count} tasks: at most ${MAX_SWEEP_TASKS} are allowed.`);
}

/** How many tasks the spec makes (without checking it). */
export function sweepSize(spec: SweepSpec): number {
  if (spec.params.length === 0) return 0;
  if (spec.combine === 'zip') return spec.params[0].values.length;
  return spec.params.reduce((n, p) => n * p.values.length, 1);
}

/** The template with each placeholder replaced by its value, quoted as one shell word. */
export function fillTemplate(template: string, params: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in params ? shellQuote(params[name]) : whole));
}

/**
 * The tasks of a sweep, index 0 first. In a product the last parameter varies fastest
 * (`a=1,2 b=10,20` gives 1 10, 1 20, 2 10, 2 20); zipped, the i-th values go together.
 * Throws a `usage` MuseError when the spec does not fit its template (see `checkSweepSpec`).
 */
export function expandSweep(spec: SweepSpec): SweepTask[] {
  checkSweepSpec(spec);
  const count = sweepSize(spec);
  const tasks: SweepTask[] = [];
  for (let index = 0; index < count; index++) {
    const params: Record<string, string> = {};
    if (spec.combine === 'zip') {
      for (const p of spec.params) params[p.name] = p.values[index];
    } else {
      let rest = index;
      for (let k = spec.params.length - 1; k >= 0; k--) {
        const p = spec.params[k];
        params[p.name] = p.values[rest % p.values.length];
        rest = Math.floor(rest / p.values.length);
      }
    }
    tasks.push({ index, params: orderedLike(spec.params, params), command: fillTemplate(spec.template, params) });
  }
  return tasks;
}

/** The params object with keys in the spec's order (stable JSON, stable table columns). */
function orderedLike(order: SweepParam[], params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of order) out[p.name] = params[p.name];
  return out;
}
