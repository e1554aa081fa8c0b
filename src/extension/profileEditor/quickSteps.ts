import * as vscode from 'vscode';
import { cancelledError } from '../../core/errors';
import type { PickItem } from '../prompts';
import { answeredByTest, ask } from '../prompts';

/** The user pressed the Back button of a step. */
export const BACK = Symbol('back');
export type Back = typeof BACK;

/** An input step: its question id (tests and logs), a prompt, a prefilled value and a check. */
export interface InputStep {
  id: string;
  prompt: string;
  placeholder?: string;
  value?: string;
  /** A message saying what is wrong with `value`, or undefined when it is fine. */
  validate?(value: string): string | undefined;
}

/** A pick step; `items` are shown in order, the answer is the picked item. */
export interface PickStep<T extends PickItem> {
  id: string;
  placeholder: string;
  items: T[];
  /** Items checked at first, for `many` picks. */
  many?: boolean;
}

/**
 * A guided sequence of quick inputs with one title, "step n of m", a Back button from the
 * second step on, validation messages while typing, and Escape cancelling the whole flow (as
 * Remote-SSH's "Add New SSH Host..." does). While tests answer the questions, each step goes to
 * them through `ask` (same id, same validation) instead of a widget.
 */
export class QuickSteps {
  constructor(
    private readonly title: string,
    private total: number,
  ) {}

  /** Changes the step count shown (flows branch after their first step). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Asks for text at step `step`; throws a cancelled error on Escape. */
  async input(step: number, s: InputStep): Promise<string | Back> {
    if (answeredByTest()) {
      const v = await ask({ kind: 'input', id: s.id, title: this.title, prompt: s.prompt, value: s.value });
      if (v === undefined) throw cancelledError(this.title);
      const problem = s.validate?.(v);
      if (problem) throw new Error(`${s.id}: ${problem}`);
      return v;
    }
    const box = vscode.window.createInputBox();
    box.title = this.title;
    box.step = step;
    box.totalSteps = this.total;
    box.prompt = s.prompt;
    box.placeholder = s.placeholder;
    box.value = s.value ?? '';
    box.ignoreFocusOut = true;
    box.buttons = step > 1 ? [vscode.QuickInputButtons.Back] : [];
    // Checked as the user types (a prefilled value such as `https://` is not an error yet).
    const check = (v: string): string | undefined => s.validate?.(v);
    return this.show(box, (resolve) => [
      box.onDidChangeValue((v) => (box.validationMessage = check(v))),
      box.onDidAccept(() => {
        const problem = check(box.value);
        box.validationMessage = problem;
        if (!problem) resolve(box.value);
      }),
    ]);
  }

  /** Asks for one item (or, with `many`, any number: checked ones are returned) at step `step`. */
  async pick<T extends PickItem & { picked?: boolean }>(step: number, s: PickStep<T>): Promise<T[] | Back> {
    if (answeredByTest()) {
      const answer = await ask({ kind: 'pick', id: s.id, title: this.title, placeHolder: s.placeholder, items: s.items });
      if (answer === undefined) throw cancelledError(this.title);
      // A `many` pick is answered with its labels, one per line ('' for none).
      const labels = s.many ? answer.split('\n').filter(Boolean) : [answer];
      const chosen = s.items.filter((i) => labels.includes(i.label));
      if (chosen.length !== labels.length) throw new Error(`${s.id}: no item labelled ${JSON.stringify(answer)}`);
      return chosen;
    }
    const qp = vscode.window.createQuickPick<T>();
    qp.title = this.title;
    qp.step = step;
    qp.totalSteps = this.total;
    qp.placeholder = s.placeholder;
    qp.items = s.items;
    qp.canSelectMany = !!s.many;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.ignoreFocusOut = true;
    if (s.many) qp.selectedItems = s.items.filter((i) => i.picked);
    qp.buttons = step > 1 ? [vscode.QuickInputButtons.Back] : [];
    return this.show(qp, (resolve) => [
      qp.onDidAccept(() => {
        const chosen = s.many ? [...qp.selectedItems] : qp.selectedItems.slice(0, 1);
        if (s.many || chosen.length === 1) resolve(chosen);
      }),
    ]);
  }

  /** Shows `input` until it is accepted (resolve), Back is pressed, or it is hidden (cancelled). */
  private show<R>(input: vscode.InputBox | vscode.QuickPick<vscode.QuickPickItem>, wire: (resolve: (v: R) => void) => vscode.Disposable[]): Promise<R | Back> {
    return new Promise<R | Back>((resolve, reject) => {
      let settled = false;
      const subs: vscode.Disposable[] = [];
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        f();
        subs.forEach((d) => d.dispose());
        input.dispose();
      };
      subs.push(
        ...wire((v) => finish(() => resolve(v))),
        input.onDidTriggerButton((b) => {
          if (b === vscode.QuickInputButtons.Back) finish(() => resolve(BACK));
        }),
        input.onDidHide(() => finish(() => reject(cancelledError(this.title)))),
      );
      input.show();
    });
  }
}
