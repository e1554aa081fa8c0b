import * as vscode from 'vscode';
import type { OpOptions, Progress } from '../../core/backend';
import { formatBytes } from '../../core/format';

/**
 * Runs a transfer under a cancellable notification showing the bytes moved; with `withPhase`,
 * also what is being done and on which file (an upload goes through several).
 */
export function withTransferProgress<T>(title: string, op: (opts: OpOptions) => Promise<T>, withPhase = false): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const ctl = new AbortController();
    const sub = token.onCancellationRequested(() => ctl.abort());
    let lastPct = 0;
    const onProgress = (p: Progress): void => {
      const pct = p.total ? Math.floor((100 * p.done) / p.total) : lastPct;
      const bytes = p.total ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : formatBytes(p.done);
      progress.report({ message: withPhase ? `${p.phase}${p.file ? ` ${p.file}` : ''}: ${bytes}` : bytes, increment: Math.max(0, pct - lastPct) });
      lastPct = pct;
    };
    try {
      return await op({ signal: ctl.signal, onProgress });
    } finally {
      sub.dispose();
    }
  });
}
