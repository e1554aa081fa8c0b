/**
 * What the SSH layer may need to ask the user. The CLI answers on the terminal, the extension
 * with input boxes and modal dialogs. Answering `undefined` (or false) means the user declined.
 */
export interface SshPrompts {
  /** Passphrase of an encrypted private key. */
  passphrase(keyPath: string): Promise<string | undefined>;
  /** Password login. */
  password(user: string, host: string): Promise<string | undefined>;
  /** keyboard-interactive (2FA / OTP): one answer per prompt, in order. */
  keyboardInteractive(
    name: string,
    instructions: string,
    prompts: { prompt: string; echo: boolean }[],
  ): Promise<string[] | undefined>;
  /** A host key not in known_hosts: true records it and goes on. A mismatch is never asked: it is refused. */
  unknownHostKey(host: string, port: number, keyType: string, fingerprintSha256: string): Promise<boolean>;
  /**
   * Why nobody can be asked now (the agent serving a background poll), else undefined: the login
   * then skips keyboard-interactive and password, failing with this error, instead of starting
   * them and leaving the server's question unanswered, which a cluster counts as a failed login
   * (and may lock the account for). Absent: asking is always possible.
   */
  cannotAsk?(): Error | undefined;
}
