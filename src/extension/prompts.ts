import * as vscode from 'vscode';

/**
 * A question the extension puts to the user (SSH prompts, sign-in, an expired session, a run
 * that ended). `id` names the question for tests and logs; `subject` is the run id when there is one.
 */
export type Question =
  | { kind: 'input'; id: string; title: string; prompt: string; password?: boolean; value?: string }
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

/** Answers a question: the text typed or the choice picked; undefined when dismissed. */
export type Answerer = (q: Question) => Promise<string | undefined>;

let override: Answerer | undefined;

/**
 * For tests: every question goes to `answerer` instead of a dialog (undefined: dialogs again).
 * Only the answer is replaced: what is asked, when and how often stays the extension's own.
 */
export function setAnswerer(answerer: Answerer | undefined): void {
  override = answerer;
}

/** Asks the user: an input box or a (possibly modal) message with choices. */
export async function ask(q: Question): Promise<string | undefined> {
  if (override) return override(q);
  if (q.kind === 'input') {
    return vscode.window.showInputBox({ title: q.title, prompt: q.prompt, password: q.password, value: q.value, ignoreFocusOut: true });
  }
  const show = q.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  return show(q.message, { modal: !!q.modal, detail: q.detail }, ...q.choices);
}
