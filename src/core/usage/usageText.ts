/**
 * Usage figures as text, for `muse state` and the tree's tooltips:
 * `CPU 92% of 1 CPU · memory 210 MB of 4.0 GB (5%) · time 0:12 of 10:00 · waited 0:03`.
 * Unknown figures are said to be unknown or left out, never shown as 0.
 */
import { formatBytes } from '../format';
import type { UsageAdvice } from './usageAdvice';

/** The figures the text uses: Slurm's (`UsageFigures`) and the local runner's both fit. */
export interface UsageTextInput {
  started?: boolean;
  allocCpus?: number;
  gpus?: number;
  cpuEfficiency?: number;
  cpuSeconds?: number;
  memoryPeakBytes?: number;
  memoryRequestBytes?: number;
  elapsedSeconds?: number;
  timeLimit?: number | 'unlimited';
  waitSeconds?: number;
}

/** A duration for people: `0:12` (m:ss), `1:02:03`, `2-03:04:05` (days as Slurm writes them). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const days = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (days > 0) return `${days}-${pad(h)}:${pad(m)}:${pad(sec)}`;
  if (h > 0) return `${h}:${pad(m)}:${pad(sec)}`;
  return `${m}:${pad(sec)}`;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The parts of the usage line, in order: CPU, GPUs, memory, time, wait. */
export function usageParts(f: UsageTextInput): string[] {
  if (f.started === false) return ['did not start: no usage figures'];
  const parts: string[] = [];
  if (f.cpuEfficiency !== undefined) {
    parts.push(`CPU ${Math.round(f.cpuEfficiency * 100)}%` + (f.allocCpus !== undefined ? ` of ${plural(f.allocCpus, 'CPU')}` : ''));
  } else if (f.cpuSeconds !== undefined) {
    parts.push(`CPU time ${formatDuration(f.cpuSeconds)}`);
  } else if (f.allocCpus !== undefined) {
    parts.push(`CPU use unknown of ${plural(f.allocCpus, 'CPU')}`);
  }
  if (f.gpus !== undefined && f.gpus > 0) parts.push(plural(f.gpus, 'GPU'));
  const peak = f.memoryPeakBytes;
  const req = f.memoryRequestBytes;
  if (peak !== undefined && req !== undefined) {
    parts.push(`memory ${formatBytes(peak)} of ${formatBytes(req)} (${Math.round((peak / req) * 100)}%)`);
  } else if (peak !== undefined) {
    parts.push(`memory ${formatBytes(peak)}`);
  } else if (req !== undefined) {
    parts.push(`memory peak unknown of ${formatBytes(req)}`);
  }
  if (f.elapsedSeconds !== undefined) {
    const limit = f.timeLimit === 'unlimited' ? ' (no limit)' : f.timeLimit !== undefined ? ` of ${formatDuration(f.timeLimit)}` : '';
    parts.push(`time ${formatDuration(f.elapsedSeconds)}${limit}`);
  }
  if (f.waitSeconds !== undefined) parts.push(`waited ${formatDuration(f.waitSeconds)}`);
  return parts;
}

/** The one-line summary (tooltips, the tree). */
export function usageLine(f: UsageTextInput): string {
  return usageParts(f).join(' · ');
}

/** The usage block of `muse state`: the figures, then one line per advice item. */
export function usageBlock(f: UsageTextInput, advice: readonly UsageAdvice[] = []): string[] {
  const lines = [`usage: ${usageLine(f) || 'no figures'}`];
  for (const a of advice) lines.push(`advice: ${a.text}`);
  return lines;
}
