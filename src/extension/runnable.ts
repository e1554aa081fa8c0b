/**
 * Which files the Run button shows on: those the active profile can run, i.e. with a command
 * template for the file's language or extension (the profile's or the defaults), or a `#!` line.
 * No vscode import (unit-tested).
 */
import * as path from 'path';
import { DEFAULT_TEMPLATES } from './commandTemplate';

function hasKey(templates: Record<string, string> | undefined, keys: string[]): boolean {
  if (!templates) return false;
  const lower = new Set(Object.keys(templates).map((k) => k.toLowerCase()));
  return keys.some((k) => lower.has(k));
}

/** True when a run of this file has a command to start with (not the `./name` fallback on any file). */
export function canRunFile(templates: Record<string, string> | undefined, languageId: string | undefined, fileName: string, firstLine: string | undefined): boolean {
  if (firstLine?.startsWith('#!')) return true;
  const ext = path.extname(fileName).toLowerCase();
  const keys = [languageId?.toLowerCase(), ext, ext.slice(1)].filter((k): k is string => !!k);
  return hasKey(templates, keys) || hasKey(DEFAULT_TEMPLATES as Record<string, string>, keys);
}
