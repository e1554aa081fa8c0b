import * as vscode from 'vscode';

/** An entry of a `pick` question; the answer is its label. */
export interface PickItem {
  label: string;
  description?: string;
  detail?: string;
}

/**
 * A question the extension puts to the user (SSH prompts, sign-in, an expired session, a run
 * that ended, the run flow's choices, where to save). `id` names the question for tests and logs;
 * `subject` is the run id when there is one.
 */
export type Question =
  | { kind: 'input'; id: string; title: string; prompt: string; password?: boolean; value?: string }
  | { kind: 'pick'; id: string; title: string; placeHolder?: string; items: PickItem[] }
  /** Where to save a file: the answer is a file system path. */
  | { kind: 'save'; id: string; title: string; defaultPath: string; filters?: Record<string, string[]> }
  | {
      kind: 'message';
      id: string;
      severity: 'info' | 'warning';
      message: string;
      detail?: string;
      modal?: boolean;
      choices: string[];
      subject?: string;
    };

/** Answers a question: the text typed, the choice or label picked, the path; undefined when dismissed. */
export type Answerer = (q: Question) => Promise<string | undefined>;

let override: Answerer | undefined;

/**
 * For tests: every question goes to `answerer` instead of a dialog (undefined: dialogs again).
 * Only the answer is replaced: what is asked, when and how often stays the extension's own.
 */
export function setAnswerer(answerer: Answerer | undefined): void {
  override = answerer;
}

/** True while tests answer the questions (multi-step inputs then ask through `ask` too). */
export function answeredByTest(): boolean {
  return override !== undefined;
}

/** Asks the user: an input box, a quick pick, a save dialog, or a (possibly modal) message with choices. */
export async function ask(q: Question): Promise<string | undefined> {
  if (override) return override(q);
  switch (q.kind) {
    case 'input':
      return vscode.window.showInputBox({ title: q.title, prompt: q.prompt, password: q.password, value: q.value, ignoreFocusOut: true });
    case 'pick':
      return (await vscode.window.showQuickPick(q.items, { title: q.title, placeHolder: q.placeHolder, matchOnDescription: true, matchOnDetail: true }))?.label;
    case 'save':
      return (await vscode.window.showSaveDialog({ title: q.title, defaultUri: vscode.Uri.file(q.defaultPath), filters: q.filters }))?.fsPath;
  }
  const show = q.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  return show(q.message, { modal: !!q.modal, detail: q.detail }, ...q.choices);
}
