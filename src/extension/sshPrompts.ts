import { MuseError } from '../core/errors';
import type { SshPrompts } from '../core/sshPrompts';
import { ask } from './prompts';
import { isUserInitiated } from './userGesture';

/**
 * The SSH layer's questions as VS Code input boxes and modal dialogs. A login for background
 * work (the window's own, without the agent) starts no code or password question: it fails with
 * the same `needsSignIn` error the agent gives, and the Runs tree offers Sign In.
 */
export function vscodeSshPrompts(): SshPrompts {
  return {
    cannotAsk: () =>
      isUserInitiated() ? undefined : new MuseError('auth', 'The cluster needs a sign-in (a code or a password) that background work may not ask for: Sign In, or run an operation, to give it.', { needsSignIn: true }),
    passphrase: async (keyPath) =>
      ask({ kind: 'input', id: 'ssh.passphrase', title: 'Muse: SSH key passphrase', prompt: `Passphrase of ${keyPath}`, password: true }),
    password: async (user, host) =>
      ask({ kind: 'input', id: 'ssh.password', title: 'Muse: SSH password', prompt: `Password of ${user}@${host}`, password: true }),
    keyboardInteractive: async (name, instructions, prompts) => {
      const answers: string[] = [];
      for (const p of prompts) {
        const a = await ask({
          kind: 'input',
          id: 'ssh.keyboardInteractive',
          title: `Muse: ${name || 'SSH login'}`,
          prompt: [instructions, p.prompt].filter(Boolean).join(' — '),
          password: !p.echo,
        });
        if (a === undefined) return undefined;
        answers.push(a);
      }
      return answers;
    },
    unknownHostKey: async (host, port, keyType, fingerprint) => {
      const trust = 'Trust and Connect';
      const pick = await ask({
        kind: 'message',
        id: 'ssh.unknownHostKey',
        severity: 'warning',
        modal: true,
        message: `The host ${host}:${port} is not known yet.`,
        detail: `Its ${keyType} key fingerprint is\n${fingerprint}\n\nCompare it with the one your cluster administrators publish before trusting it.`,
        choices: [trust],
      });
      return pick === trust;
    },
  };
}
