/**
 * An in-process ssh2 server standing in for the cluster in unit tests: a fresh host key, the
 * password `pw`, a known_hosts naming it, and an empty ssh_config, all in a temporary folder.
 * What the server does once a client is logged in is the test's own (`onReady`).
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import type * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Server } from 'ssh2';
import type { Connection } from 'ssh2';
import type { SshPrompts } from '../../src/core/sshPrompts';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { SshConnectionPool } from '../../src/core/backends/slurm/sshConnectionPool';
import type { SshProfile } from '../../src/core/profiles';

/** A running fake ssh server and the files a client needs to trust and reach it. */
export interface FakeSshServer {
  /** The temporary folder (host key, known_hosts, ssh_config); removed by `close`. */
  dir: string;
  port: number;
  knownHosts: string;
  sshConfigFile: string;
  /** Clients connected now (a client leaves the set when its connection closes). */
  clients: Set<Connection>;
  /** Stops the server and removes `dir`. */
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1 (a free port). `onReady` is called for each client once it has
 * logged in with the password `pw`; client errors are ignored (tests drop connections on purpose).
 */
export async function startFakeSshServer(tmpPrefix: string, onReady: (client: Connection) => void): Promise<FakeSshServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const hostKey = path.join(dir, 'host');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [readFileSync(hostKey)] }, (client: Connection) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => (ctx.method === 'password' && ctx.password === 'pw' ? ctx.accept() : ctx.reject(['password'])));
    client.on('ready', () => onReady(client));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
  const sshConfigFile = path.join(dir, 'ssh_config');
  writeFileSync(sshConfigFile, '');
  return {
    dir,
    port,
    knownHosts,
    sshConfigFile,
    clients,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Prompts that answer the password `pw` and refuse everything else. */
export function passwordPrompts(): SshPrompts {
  return { passphrase: async () => undefined, password: async () => 'pw', keyboardInteractive: async () => undefined, unknownHostKey: async () => false };
}

/**
 * A SlurmBackend for `fake` (profile `fake`, remote root `/runs`, software `sw` -> `/img`), with
 * fresh prompts: a connection of its own in `pool` (a new pool unless given), closed by dispose.
 * No ~/.ssh is read.
 */
export function fakeSlurmBackend(fake: FakeSshServer, pool = new SshConnectionPool(), prompts = passwordPrompts()): SlurmBackend {
  const profile: SshProfile = {
    name: 'fake',
    kind: 'ssh',
    host: '127.0.0.1',
    port: fake.port,
    user: 'u',
    knownHostsFile: fake.knownHosts,
    sshConfigFile: fake.sshConfigFile,
    remoteRoot: '/runs',
    images: { sw: '/img' },
  };
  return new SlurmBackend(profile, prompts, pool, { connection: { env: {}, homeDir: path.join(fake.dir, 'nohome') } });
}
