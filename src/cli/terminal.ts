/** Talking to the terminal: hidden prompts, progress lines, sizes, reading stdin. */
import type { Progress } from '../core/backend';
import type { SshPrompts } from '../core/sshPrompts';
import { MuseError } from '../core/errors';
import { formatBytes } from '../core/format';
import { askpassProgram, runAskpass } from './askpass';

/** The streams a CLI invocation uses (the real process ones, or test doubles). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Fires on Ctrl-C. */
  signal: AbortSignal;
}

/** `1.2 MB` style sizes (one copy, shared with the extension). */
export { formatBytes };

/** Reads all of stdin as text. */
export async function readAllStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Asks one line on the terminal; with `hidden`, nothing is echoed (passwords).
 * Throws a `usage` error when stdin is not a terminal.
 */
export function ask(io: CliIo, question: string, hidden: boolean, hint = ''): Promise<string> {
  const stdin = io.stdin;
  if (!stdin.isTTY || !stdin.setRawMode) {
    return Promise.reject(new MuseError('usage', `Cannot ask "${question.trim()}": standard input is not a terminal.${hint ? ' ' + hint : ''}`));
  }
  io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let answer = '';
    const done = (err?: Error): void => {
      stdin.setRawMode?.(false);
      stdin.removeListener('data', onData);
      (stdin as NodeJS.ReadStream).pause?.();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (d: Buffer | string): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new MuseError('cancelled', 'Interrupted.'));
        if (ch === '\u007f' || ch === '\b') {
          if (answer.length > 0) {
            answer = answer.slice(0, -1);
            if (!hidden) io.stderr.write('\b \b');
          }
          continue;
        }
        answer += ch;
        if (!hidden) io.stderr.write(ch);
      }
    };
    stdin.setRawMode?.(true);
    (stdin as NodeJS.ReadStream).resume?.();
    stdin.on('data', onData);
  });
}

/**
 * SSH questions answered on the terminal, hidden where the server says so; or by the
 * SSH_ASKPASS program (see askpass.ts). With neither, secrets are declined, and a
 * keyboard-interactive question (a two-factor code) fails with an error saying how to answer it.
 */
export function terminalSshPrompts(io: CliIo): SshPrompts {
  const tty = (): boolean => Boolean(io.stdin.isTTY && io.stdin.setRawMode);
  /** One secret or code: SSH_ASKPASS, the terminal, or undefined (declined). */
  const secret = async (question: string, hidden: boolean): Promise<string | undefined> => {
    const program = askpassProgram(io.env, tty());
    if (program) return runAskpass(program, question, io.env, io.signal);
    return tty() ? ask(io, question, hidden) : undefined;
  };
  return {
    passphrase: (keyPath) => secret(`Passphrase for ${keyPath}: `, true),
    password: (user, host) => secret(`Password for ${user}@${host}: `, true),
    keyboardInteractive: async (name, instructions, prompts) => {
      if (!tty() && !askpassProgram(io.env, false)) {
        const asked = prompts.map((p) => `"${p.prompt.trim()}"`).join(', ');
        throw new MuseError(
          'auth',
          `The SSH server asks ${asked}${name ? ` (${name})` : ''}: a keyboard-interactive question such as a two-factor code, ` +
            'and standard input is not a terminal. Run muse in a terminal to type it, or set SSH_ASKPASS to a program that prints the answer.',
        );
      }
      if (name) io.stderr.write(`${name}\n`);
      if (instructions) io.stderr.write(`${instructions}\n`);
      const out: string[] = [];
      for (const p of prompts) {
        const a = await secret(p.prompt, !p.echo);
        if (a === undefined) return undefined;
        out.push(a);
      }
      return out;
    },
    unknownHostKey: async (host, port, keyType, fp) => {
      io.stderr.write(`The host ${host}:${port} is not known. Its ${keyType} key fingerprint is ${fp}.\n`);
      if (!tty()) {
        io.stderr.write('Not a terminal: refusing it. Add it to known_hosts (ssh-keyscan) or connect once with ssh.\n');
        return false;
      }
      const a = await ask(io, 'Trust it and record it in known_hosts? [y/N] ', false);
      return /^y(es)?$/i.test(a.trim());
    },
  };
}

/**
 * A progress reporter writing one self-erasing line on stderr (only when stderr is a TTY),
 * at most every 100 ms. Call `end()` to erase it.
 */
export function progressLine(io: CliIo, enabled: boolean): { onProgress: (p: Progress) => void; end: () => void } {
  const on = enabled && Boolean(io.stderr.isTTY);
  let last = 0;
  let shown = false;
  return {
    onProgress: (p) => {
      if (!on) return;
      const now = Date.now();
      if (now - last < 100 && (p.total === undefined || p.done < p.total)) return;
      last = now;
      const amount = p.total !== undefined ? `${formatBytes(p.done)} / ${formatBytes(p.total)}` : formatBytes(p.done);
      const text = `${p.phase}${p.file ? ` ${p.file}` : ''}: ${amount}`;
      const width = Math.max(20, (io.stderr.columns ?? 80) - 1);
      io.stderr.write(`\r\x1b[K${text.slice(0, width)}`);
      shown = true;
    },
    end: () => {
      if (shown) io.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** Waits `ms`, or rejects with a `cancelled` error when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MuseError('cancelled', 'Interrupted.'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new MuseError('cancelled', 'Interrupted.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
