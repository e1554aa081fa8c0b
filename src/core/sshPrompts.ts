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
}
