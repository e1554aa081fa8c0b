/**
 * The SSH connections of one process (a CLI invocation, an extension host), shared by its Slurm
 * backends: one connection per target and prompts, counted by its users and closed when the
 * last one lets go, all of them closed by `dispose`. Made by whoever makes the backends (the CLI
 * context, the extension's backend cache, a test) and passed in, so its lifetime is theirs.
 *
 * Imports nothing at run time: the CLI and the extension make one before knowing whether any
 * profile is an SSH one, and ssh2 must stay unloaded until one is.
 */
import { MuseError } from '../../errors';
import type { SshPrompts } from '../../sshPrompts';
import type { SshConnection } from './sshConnection';

/** One backend's use of a pooled connection. */
export interface SshConnectionLease {
  readonly connection: SshConnection;
  /** Lets go of the connection (closed when nobody else uses it). Calling it again does nothing. */
  release(): void;
}

export class SshConnectionPool {
  private readonly entries = new Map<string, { conn: SshConnection; users: number }>();
  private readonly promptIds = new WeakMap<SshPrompts, number>();
  private nextPromptId = 1;
  private disposed = false;

  /**
   * The shared connection for `targetKey` (see `targetKey` in sshTarget.ts) asked through
   * `prompts`, made with `open` when there is none yet. Different prompts get different
   * connections: a login answered by one user interface is not another's.
   */
  acquire(targetKey: string, prompts: SshPrompts, open: () => SshConnection): SshConnectionLease {
    if (this.disposed) throw new MuseError('usage', 'The SSH connections of this session were closed.');
    const key = `${targetKey}#${this.promptsId(prompts)}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { conn: open(), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      connection: held.conn,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users <= 0 && this.entries.get(key) === held) {
          this.entries.delete(key);
          held.conn.close();
        }
      },
    };
  }

  /** Connections open in the pool now (tests, logs). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes every connection for good; `acquire` refuses afterwards. */
  dispose(): void {
    this.disposed = true;
    for (const { conn } of this.entries.values()) conn.close();
    this.entries.clear();
  }

  private promptsId(p: SshPrompts): number {
    let id = this.promptIds.get(p);
    if (id === undefined) this.promptIds.set(p, (id = this.nextPromptId++));
    return id;
  }
}
