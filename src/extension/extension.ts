import type * as vscode from 'vscode';

/** Wiring only: logger -> settings -> secrets -> backends -> store -> poller -> views -> commands. */
export function activate(_context: vscode.ExtensionContext): void {
  // Filled in by the extension issue.
}

export function deactivate(): void {
  // Nothing to release yet.
}
