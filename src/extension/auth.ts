import * as vscode from 'vscode';
import { MuseError, errorMessage, isMuseError } from '../core/errors';
import { isJwtExpired, jwtTimes } from '../core/jwt';
import type { Profile, WsProfile } from '../core/profiles';
import { loadCore } from './coreBundle';
import { ask } from './prompts';
import type { Log } from './log';
import { Renewal } from './renewal';
import type { Secrets } from './secrets';
import type { Settings } from './settings';

/**
 * Signing in to ws profiles (`jwt/obtain`) and renewing an expired token: at most one renewal
 * per expired token, silent with a remembered password, else one question. Never a loop.
 */
export class Auth implements vscode.Disposable {
  /** Profiles whose current token already failed and could not be renewed: no more attempts. */
  private readonly gaveUp = new Set<string>();
  private readonly inFlight = new Map<string, { interactive: boolean; done: Promise<boolean> }>();
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly secrets: Secrets,
    private readonly settings: Settings,
    private readonly log: Log,
  ) {
    // A new token (this window or another) deserves a fresh chance.
    this.sub = secrets.onDidChange((name) => this.gaveUp.delete(name));
  }

  dispose(): void {
    this.sub.dispose();
  }

  private async obtain(profile: WsProfile, username: string, password: string): Promise<string> {
    const { WsClient } = loadCore();
    const client = new WsClient({ baseUrl: profile.url, timeoutMs: profile.timeoutMs });
    try {
      return await client.obtainToken(username, password);
    } finally {
      await client.close();
    }
  }

  /** True when the profile has a token that is not known to be expired. */
  async isSignedIn(profile: WsProfile): Promise<boolean> {
    const token = await this.secrets.getToken(profile.name);
    if (!token) return false;
    return !isJwtExpired(token) || !!(await this.secrets.getPassword(profile.name));
  }

  /**
   * True when the profile has a token that will still be valid for a user's operation: not
   * expired and not about to (within 30 s, or a quarter of its lifetime for short-lived tokens),
   * by its own `exp`. An upload does not start with a token the server is about to refuse.
   */
  async tokenUsable(profile: WsProfile, nowMs = Date.now()): Promise<boolean> {
    const token = await this.secrets.getToken(profile.name);
    if (!token) return false;
    const { exp, iat } = jwtTimes(token);
    if (exp === undefined) return true; // not a JWT we can read: the server decides
    const margin = Math.min(30, iat !== undefined && exp > iat ? (exp - iat) / 4 : 30);
    return exp - margin > nowMs / 1000;
  }

  /**
   * Asks for the username and password (unless `given`: automation and tests), obtains a token
   * and stores it. The password is kept only if the user agrees (or `given.remember`).
   */
  async signIn(profile: WsProfile, given?: { username: string; password: string; remember?: boolean }): Promise<boolean> {
    if (given) {
      const token = await this.obtain(profile, given.username, given.password);
      await this.secrets.setToken(profile.name, token);
      if (given.remember) {
        await this.secrets.setPassword(profile.name, given.password);
        await this.secrets.setUsername(profile.name, given.username);
      }
      this.gaveUp.delete(profile.name);
      this.log.info(`signed in to "${profile.name}" as ${given.username}`);
      return true;
    }
    const username = await ask({ kind: 'input', id: 'auth.username', title: `Muse: sign in to ${profile.name}`, prompt: `Username on ${profile.url}`, value: profile.username ?? '' });
    if (!username) return false;
    const password = await ask({ kind: 'input', id: 'auth.password', title: `Muse: sign in to ${profile.name}`, prompt: `Password of ${username}`, password: true });
    if (!password) return false;
    const token = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Signing in to ${profile.name}...` },
      () => this.obtain(profile, username, password),
    );
    await this.secrets.setToken(profile.name, token);
    this.gaveUp.delete(profile.name);
    this.log.info(`signed in to "${profile.name}" as ${username}`);
    const remember = 'Remember Password';
    const pick = await ask({
      kind: 'message',
      id: 'auth.remember',
      severity: 'info',
      message: `Signed in to ${profile.name} as ${username}. Remember the password (in the system keychain) to renew the token when it expires?`,
      choices: [remember, 'No'],
    });
    if (pick === remember) {
      await this.secrets.setPassword(profile.name, password);
      await this.secrets.setUsername(profile.name, username);
    }
    return true;
  }

  async signOut(profile: WsProfile): Promise<void> {
    await this.secrets.clear(profile.name);
    this.log.info(`signed out of "${profile.name}"`);
  }

  /**
   * After an `auth` error: renews the token once. With a remembered password, silently;
   * otherwise, when `interactive`, by asking the user to sign in. Resolves true when a new token
   * is stored; once it has failed for a token, it answers false until the token changes.
   */
  renew(profile: WsProfile, interactive: boolean): Promise<boolean> {
    if (this.gaveUp.has(profile.name) && !interactive) return Promise.resolve(false);
    const running = this.inFlight.get(profile.name);
    // A silent renewal already under way (a poll's) that fails must still let a user's gesture ask.
    if (running) return running.interactive || !interactive ? running.done : running.done.then((ok) => ok || this.renew(profile, true));
    const done = this.renewOnce(profile, interactive).finally(() => this.inFlight.delete(profile.name));
    this.inFlight.set(profile.name, { interactive, done });
    return done;
  }

  private async renewOnce(profile: WsProfile, interactive: boolean): Promise<boolean> {
    const password = await this.secrets.getPassword(profile.name);
    const username = (await this.secrets.getUsername(profile.name)) ?? profile.username;
    if (password && username) {
      try {
        const token = await this.obtain(profile, username, password);
        await this.secrets.setToken(profile.name, token);
        this.log.info(`renewed the token of "${profile.name}"`);
        return true;
      } catch (e) {
        this.log.warn(`could not renew the token of "${profile.name}": ${errorMessage(e)}`);
        if (isMuseError(e, 'auth')) await this.secrets.clear(profile.name);
      }
    }
    this.gaveUp.add(profile.name);
    if (!interactive) return false;
    const signIn = 'Sign In';
    const token = await this.secrets.getToken(profile.name);
    // A token that is not expired by its own date was refused by the server (new secret, revoked).
    const why = token && !isJwtExpired(token) ? `${profile.name} refused your sign-in.` : `Your session on ${profile.name} has expired.`;
    const pick = await ask({ kind: 'message', id: 'auth.expired', severity: 'warning', message: why, choices: [signIn] });
    if (pick !== signIn) return false;
    return this.signIn(profile);
  }

  /**
   * The token budget of one gesture (`interactive`: a user's command, which may ask) or one
   * background operation (never asks) on a profile: every ws operation goes through one. Profiles
   * without tokens get a pass-through. See `Renewal`.
   */
  renewal(profile: Profile | string, interactive: boolean): Renewal {
    const p = typeof profile === 'string' ? this.settings.profile(profile) : profile;
    if (p?.kind !== 'ws') return new Renewal(undefined, interactive);
    return new Renewal(
      {
        usable: () => this.tokenUsable(p),
        renew: (i) => this.renew(p, i),
        notSignedIn: () => new MuseError('auth', `Sign in to ${p.name} first (Muse: Sign In).`),
      },
      interactive,
    );
  }
}
