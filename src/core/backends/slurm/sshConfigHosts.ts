/**
 * The `Host` entries of an ssh config file, as Add Profile offers them (Remote-SSH shows the same
 * list): `Include` honoured (relative paths from `~/.ssh`, globs, nested up to 16 levels as in
 * OpenSSH), patterns (`*`, `?`, `!`) left out since they name no one host. Async: the extension
 * calls it.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import picomatch from 'picomatch';

/** A host a user can pick, with what its config says about it. */
export interface SshConfigHost {
  alias: string;
  hostName?: string;
  user?: string;
  port?: number;
  /** The file that declares it. */
  file: string;
}

/** OpenSSH's limit on nested Include. */
const MAX_DEPTH = 16;

/** Lines as `keyword args` (comments and blank lines dropped, `key=value` allowed). */
function directives(text: string): { key: string; args: string[] }[] {
  const out: { key: string; args: string[] }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    // Quoted arguments ("My Host") are one word.
    const args = [...m[2].matchAll(/"([^"]*)"|(\S+)/g)].map((a) => a[1] ?? a[2]);
    out.push({ key: m[1].toLowerCase(), args });
  }
  return out;
}

async function expandInclude(pattern: string, home: string): Promise<string[]> {
  const p = pattern.startsWith('~/') ? path.join(home, pattern.slice(2)) : path.isAbsolute(pattern) ? pattern : path.join(home, '.ssh', pattern);
  if (!/[*?[]/.test(p)) return [p];
  const dir = path.dirname(p);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const match = picomatch(path.basename(p), { dot: false });
  return names.filter((n) => match(n)).sort().map((n) => path.join(dir, n));
}

/**
 * The text of an ssh config file with every `Include` replaced by the text of the files it
 * names (recursively, up to OpenSSH's depth), so that a parser that does not follow `Include`
 * (the `ssh-config` library) sees the hosts they declare. Missing included files are skipped, as
 * ssh does. Throws the read error of `file` itself.
 */
export async function readSshConfigText(file: string, home = os.homedir(), depth = 0): Promise<string> {
  const text = await fs.readFile(file, 'utf8');
  if (depth >= MAX_DEPTH || !/^\s*include[\s=]/im.test(text)) return text;
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const d = directives(line)[0];
    if (d?.key !== 'include') {
      out.push(line);
      continue;
    }
    for (const pattern of d.args) {
      for (const inc of await expandInclude(pattern, home)) {
        const included = await readSshConfigText(inc, home, depth + 1).catch(() => undefined);
        if (included !== undefined) out.push(`# Include ${inc}`, included);
      }
    }
  }
  return out.join('\n');
}

/**
 * The hosts declared in `file` (default `~/.ssh/config`) and the files it includes, in file
 * order, each alias once. A missing file gives an empty list.
 */
export async function listSshConfigHosts(file?: string, home = os.homedir()): Promise<SshConfigHost[]> {
  const hosts: SshConfigHost[] = [];
  const seen = new Set<string>();
  const read = async (f: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const text = await fs.readFile(f, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    let current: SshConfigHost[] = [];
    for (const d of directives(text)) {
      if (d.key === 'host') {
        current = [];
        for (const alias of d.args) {
          if (/[*?!]/.test(alias) || seen.has(alias)) continue;
          seen.add(alias);
          const h: SshConfigHost = { alias, file: f };
          hosts.push(h);
          current.push(h);
        }
      } else if (d.key === 'match') {
        current = [];
      } else if (d.key === 'include') {
        for (const pattern of d.args) for (const inc of await expandInclude(pattern, home)) await read(inc, depth + 1);
      } else {
        // The first value wins in ssh_config, as for the connection itself.
        for (const h of current) {
          if (d.key === 'hostname') h.hostName ??= d.args[0];
          else if (d.key === 'user') h.user ??= d.args[0];
          else if (d.key === 'port' && /^\d+$/.test(d.args[0] ?? '')) h.port ??= Number(d.args[0]);
        }
      }
    }
  };
  await read(file ?? path.join(home, '.ssh', 'config'), 0);
  return hosts;
}
