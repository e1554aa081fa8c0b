/**
 * What every command needs: the global options, the config and profiles, tokens, the run
 * store, backends, and output helpers (data on stdout, messages on stderr).
 */
import * as fs from 'fs';
import * as path from 'path';
import { abandonedNotice, settleAbandonedSubmits } from '../core/abandonedSubmits';
import { AgentClient } from '../core/agent/agentClient';
import type { Backend, OpOptions } from '../core/backend';
import { createBackend } from '../core/backends/factory';
import { SshConnectionPool } from '../core/backends/slurm/sshConnectionPool';
import { loadConfig, readToken, resolveProfile, selectProfile } from '../core/config';
import type { CliConfig } from '../core/config';
import { MuseError, errorMessage } from '../core/errors';
import type { Run } from '../core/model';
import { expandLocalHome, runStorePath } from '../core/paths';
import type { Profile } from '../core/profiles';
import { RunStore } from '../core/store';
import { progressLine, readAllStdin, terminalSshPrompts } from './terminal';
import type { CliIo } from './terminal';

/** Options every command accepts. */
export interface GlobalOptions {
  profile?: string;
  url?: string;
  json?: boolean;
  quiet?: boolean;
  tokenStdin?: boolean;
  /** False with `--no-agent`: SSH profiles log in by themselves instead of through the agent. */
  agent?: boolean;
}

/** Name of the profile made from `--url` when `--profile` is not given. */
export const ADHOC_PROFILE = 'adhoc';

export class CliContext {
  private cfg?: CliConfig;
  private storeP?: Promise<RunStore>;
  private readonly backends = new Map<string, Backend>();
  /** The SSH connections of this invocation, shared by its backends, closed by dispose. */
  private readonly sshPool = new SshConnectionPool();
  /** This invocation's link to the per-user agent, made by the first SSH profile's backend. */
  private agentClient?: AgentClient;
  private stdinToken?: Promise<string>;
  /** Set while a submit may have reached a server: what to tell the user on Ctrl-C. */
  interruptNote?: string;
  /** The profile last used, for hints ("muse login --profile X"). */
  lastProfile?: Profile;
  /** Set by "muse login": its own auth errors need no "sign in with" hint. */
  noAuthHint = false;

  constructor(
    readonly io: CliIo,
    readonly globals: GlobalOptions,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  get signal(): AbortSignal {
    return this.io.signal;
  }

  config(): CliConfig {
    this.cfg ??= loadConfig(this.env);
    return this.cfg;
  }

  /** Forgets the cached config (after saving it). */
  resetConfig(): void {
    this.cfg = undefined;
  }

  /** The profile chosen by `--url` / `--profile` / MUSE_PROFILE / the default. */
  profile(): Profile {
    const g = this.globals;
    let p: Profile;
    if (g.url) {
      p = { name: g.profile ?? ADHOC_PROFILE, kind: 'ws', url: g.url };
    } else {
      p = selectProfile(this.config(), g.profile, this.env);
    }
    this.lastProfile = p;
    return p;
  }

  /** The profile a stored run was submitted through (`--url` stands in for one no longer configured). */
  profileForRun(run: Run): Profile {
    const g = this.globals;
    if (g.url && (g.profile === undefined || g.profile === run.profile)) {
      const p: Profile = { name: run.profile, kind: 'ws', url: g.url };
      this.lastProfile = p;
      return p;
    }
    const p = this.config().profiles.find((x) => x.name === run.profile);
    if (!p) {
      throw new MuseError('usage', `The run ${run.key ?? run.id} was submitted through the profile "${run.profile}", which is no longer configured: add it again, or give --url for a ws run.`);
    }
    this.lastProfile = p;
    return resolveProfile(p, this.env);
  }

  /** The ws token of a profile: --token-stdin, MUSE_JWT, or the token file. */
  async getToken(profileName: string): Promise<string | undefined> {
    if (this.globals.tokenStdin) {
      this.stdinToken ??= readAllStdin(this.io).then((t) => t.trim());
      const t = await this.stdinToken;
      if (!t) throw new MuseError('usage', '--token-stdin: standard input was empty.');
      return t;
    }
    return readToken(profileName, this.env);
  }

  /** True when SSH profiles go through the per-user agent (not `--no-agent`, not MUSE_NO_AGENT=1). */
  get useAgent(): boolean {
    return this.globals.agent !== false && this.env.MUSE_NO_AGENT !== '1';
  }

  /** This invocation's link to the per-user agent (`muse agent` commands and SSH profiles). */
  agent(autoStart = true): AgentClient {
    if (!autoStart) return new AgentClient({ env: this.env, autoStart: false, client: { kind: 'cli', pid: process.pid } });
    this.agentClient ??= new AgentClient({ env: this.env, client: { kind: 'cli', pid: process.pid } });
    return this.agentClient;
  }

  /**
   * The backend of a profile (one per profile per invocation). SSH profiles go through the
   * per-user agent (one login for every call while it holds the connection); when it cannot be
   * used, this call logs in by itself, with a warning.
   */
  backend(profile: Profile): Backend {
    let b = this.backends.get(profile.name);
    if (!b) {
      b = createBackend(profile, {
        getToken: (n) => this.getToken(n),
        sshPrompts: terminalSshPrompts(this.io),
        sshPool: this.sshPool,
        sshAgent: profile.kind === 'ssh' && this.useAgent ? this.agent() : undefined,
        onAgentUnavailable: (why) => this.warn(`${why.message} This call logs in by itself (--no-agent does so always).`),
      });
      this.backends.set(profile.name, b);
    }
    return b;
  }

  /** The run store, loaded; its warnings (a corrupt file set aside) go to stderr. */
  store(): Promise<RunStore> {
    this.storeP ??= (async () => {
      const s = new RunStore(runStorePath(this.env));
      await s.load();
      for (const w of s.warnings) this.warn(w);
      const marked = await settleAbandonedSubmits(s).catch((e: unknown) => {
        this.warn(`could not mark the abandoned submissions: ${errorMessage(e)}`);
        return [];
      });
      if (marked.length) this.warn(abandonedNotice(marked.length));
      return s;
    })();
    return this.storeP;
  }

  /** Options for a long operation: the Ctrl-C signal and a progress line on stderr. */
  op(): OpOptions & { end: () => void } {
    const p = progressLine(this.io, !this.globals.quiet);
    return { signal: this.signal, onProgress: p.onProgress, end: p.end };
  }

  /** A line of data on stdout (not in --json mode). */
  out(text: string): void {
    if (this.globals.json) return;
    this.io.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** A JSON document on stdout (only in --json mode). */
  json(value: unknown): void {
    if (!this.globals.json) return;
    this.io.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** A message for humans on stderr (silenced by --quiet). */
  info(text: string): void {
    if (this.globals.quiet) return;
    this.io.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** A warning on stderr (always shown). */
  warn(text: string): void {
    this.io.stderr.write(`warning: ${text}\n`);
  }

  /** Resolves a path given by the user against the invocation's folder (`~` is the home: Windows shells leave it). */
  resolvePath(p: string): string {
    return path.resolve(this.io.cwd, expandLocalHome(p));
  }

  /** True when `p` names an existing folder (or ends with a separator). */
  isDirTarget(p: string): boolean {
    if (p.endsWith('/') || p.endsWith(path.sep)) return true;
    try {
      return fs.statSync(this.resolvePath(p)).isDirectory();
    } catch {
      return false;
    }
  }

  async dispose(): Promise<void> {
    for (const b of this.backends.values()) {
      try {
        await b.dispose?.();
      } catch {
        // closing connections at exit: nothing useful to tell
      }
    }
    this.agentClient?.dispose();
    this.sshPool.dispose();
  }
}
