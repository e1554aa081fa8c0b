import * as vscode from 'vscode';
import { errorMessage, isMuseError } from '../../core/errors';
import type { Services } from '../services';
import { asUserGesture } from '../userGesture';

let lastError: string | undefined;

/** The last error a command showed (tests read it to say why a command returned nothing). */
export function lastCommandError(): string | undefined {
  return lastError;
}

/**
 * Registers a command whose errors become one clear message (and a log line), not an
 * unhandled rejection. A cancelled operation is not an error. The command runs as the user's
 * gesture (userGesture.ts): what it awaits may ask the user (an SSH code, a passphrase).
 */
export function command(s: Services, id: string, fn: (...args: any[]) => unknown): vscode.Disposable {
  const log = s.log('commands');
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      await s.ready;
      return await asUserGesture(id, () => fn(...args));
    } catch (e) {
      if (isMuseError(e, 'cancelled')) {
        log.info(`${id}: cancelled`);
        return undefined;
      }
      lastError = `${id}: ${errorMessage(e)}`;
      log.error(lastError);
      const showLog = 'Show Log';
      void vscode.window.showErrorMessage(errorMessage(e), showLog).then((p) => {
        if (p === showLog) s.channel.show(true);
      });
      return undefined;
    }
  });
}
