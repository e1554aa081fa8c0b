import * as vscode from 'vscode';

const TOKEN = 'muse.token.';
const PASSWORD = 'muse.password.';
const USERNAME = 'muse.username.';

/**
 * Tokens (and, only with the user's consent, passwords) per profile, in SecretStorage: never in
 * settings, never in the log. Other windows' changes arrive through `onDidChange`.
 */
export class Secrets implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<string>();
  /** Fires with the profile name whose secrets changed (here or in another window). */
  readonly onDidChange = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly storage: vscode.SecretStorage) {
    this.sub = storage.onDidChange((e) => {
      for (const prefix of [TOKEN, PASSWORD]) {
        if (e.key.startsWith(prefix)) this.emitter.fire(e.key.slice(prefix.length));
      }
    });
  }

  getToken(profile: string): Thenable<string | undefined> {
    return this.storage.get(TOKEN + profile);
  }

  setToken(profile: string, token: string): Thenable<void> {
    return this.storage.store(TOKEN + profile, token);
  }

  getPassword(profile: string): Thenable<string | undefined> {
    return this.storage.get(PASSWORD + profile);
  }

  setPassword(profile: string, password: string): Thenable<void> {
    return this.storage.store(PASSWORD + profile, password);
  }

  /** The username that goes with a remembered password (a setting may not name one). */
  getUsername(profile: string): Thenable<string | undefined> {
    return this.storage.get(USERNAME + profile);
  }

  setUsername(profile: string, username: string): Thenable<void> {
    return this.storage.store(USERNAME + profile, username);
  }

  /** Sign out: the token and any remembered password go. */
  async clear(profile: string): Promise<void> {
    await this.storage.delete(TOKEN + profile);
    await this.storage.delete(PASSWORD + profile);
    await this.storage.delete(USERNAME + profile);
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
