import * as vscode from 'vscode';
import type { SshPrompts } from '../core/backends/slurm/prompts';

/** The SSH layer's questions as VS Code input boxes and modal dialogs. */
export function vscodeSshPrompts(): SshPrompts {
  return {
    passphrase: async (keyPath) =>
      vscode.window.showInputBox({
        title: 'Muse: SSH key passphrase',
        prompt: `Passphrase of ${keyPath}`,
        password: true,
        ignoreFocusOut: true,
      }),
    password: async (user, host) =>
      vscode.window.showInputBox({
        title: 'Muse: SSH password',
        prompt: `Password of ${user}@${host}`,
        password: true,
        ignoreFocusOut: true,
      }),
    keyboardInteractive: async (name, instructions, prompts) => {
      const answers: string[] = [];
      for (const p of prompts) {
        const a = await vscode.window.showInputBox({
          title: `Muse: ${name || 'SSH login'}`,
          prompt: [instructions, p.prompt].filter(Boolean).join(' — '),
          password: !p.echo,
          ignoreFocusOut: true,
        });
        if (a === undefined) return undefined;
        answers.push(a);
      }
      return answers;
    },
    unknownHostKey: async (host, port, keyType, fingerprint) => {
      const trust = 'Trust and Connect';
      const pick = await vscode.window.showWarningMessage(
        `The host ${host}:${port} is not known yet.`,
        {
          modal: true,
          detail: `Its ${keyType} key fingerprint is\n${fingerprint}\n\nCompare it with the one your cluster administrators publish before trusting it.`,
        },
        trust,
      );
      return pick === trust;
    },
  };
}
