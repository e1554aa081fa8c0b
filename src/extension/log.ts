import * as vscode from 'vscode';

/** A component-tagged view of the one `Muse` log channel. Never give it a secret. */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

/** Creates the log channel (`Muse`, a LogOutputChannel: levels and timestamps for free). */
export function createLogChannel(): vscode.LogOutputChannel {
  return vscode.window.createOutputChannel('Muse', { log: true });
}

/** Messages of one component, prefixed with `[component]`. */
export function componentLog(channel: vscode.LogOutputChannel, component: string): Log {
  const tag = `[${component}] `;
  return {
    info: (m) => channel.info(tag + m),
    warn: (m) => channel.warn(tag + m),
    error: (m) => channel.error(tag + m),
    debug: (m) => channel.debug(tag + m),
  };
}
