import * as vscode from 'vscode';
import type { OpOptions, Progress } from '../../core/backend';
import { formatBytes } from '../format';

/** Runs a transfer under a cancellable notification showing the bytes moved. */
export function withTransferProgress<T>(title: string, op: (opts: OpOptions) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const ctl = new AbortController();
    const sub = token.onCancellationRequested(() => ctl.abort());
    let lastPct = 0;
    const onProgress = (p: Progress): void => {
      const pct = p.total ? Math.floor((100 * p.done) / p.total) : lastPct;
      progress.report({ message: p.total ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : formatBytes(p.done), increment: Math.max(0, pct - lastPct) });
      lastPct = pct;
    };
    try {
      return await op({ signal: ctl.signal, onProgress });
    } finally {
      sub.dispose();
    }
  });
}
