/**
 * The run store's file format: `{ "version": 1, "runs": [...] }`, and the check that tells a
 * readable store from one to set aside (store.ts). Records are kept as they are on disk.
 */
import { errorMessage } from './errors';
import type { Run } from './model';

export const STORE_VERSION = 1;

export interface Doc {
  version: number;
  /** Every record as read, including those we cannot show (kept so they are written back). */
  runs: unknown[];
  /** Set when the file could not be read (what is wrong with it). */
  corrupt?: string;
}

/** True for a record we can show: an object with a string id. */
export function isRunRecord(r: unknown): r is Run {
  return typeof r === 'object' && r !== null && !Array.isArray(r) && typeof (r as { id?: unknown }).id === 'string';
}

/** The parsed doc, or a short text saying what is wrong with it. */
export function checkDoc(text: string): Doc | string {
  if (text.trim() === '') return 'the file is empty';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not valid JSON: ${errorMessage(e)}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.version !== 'number') return 'no numeric "version"';
  if (!Array.isArray(o.runs)) return '"runs" is not a list';
  return { version: o.version, runs: o.runs };
}
