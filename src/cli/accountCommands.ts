/** `muse login`, `muse logout`, `muse software`: the ws account and what it offers. */
import type { Command } from 'commander';
import { can, cannot } from '../core/backend';
import { WsClient } from '../core/backends/ws/wsClient';
import { deleteToken, writeToken } from '../core/config';
import { MuseError } from '../core/errors';
import type { WsProfile } from '../core/profiles';
import type { CliContext } from './context';
import { ask, readAllStdin } from './terminal';

function wsProfile(ctx: CliContext, what: string): WsProfile {
  const p = ctx.profile();
  if (p.kind !== 'ws') {
    throw new MuseError('usage', `"${what}" is for web API (ws) profiles; "${p.name}" is ${p.kind === 'ssh' ? 'an' : 'a'} ${p.kind} profile. Choose one with --profile, or give --url.`);
  }
  return p;
}

export function registerAccountCommands(program: Command, ctxOf: (cmd: Command) => CliContext): void {
  program
    .command('login')
    .description('sign in to the web API (jwt/obtain) and keep the token for this profile')
    .option('--username <name>', 'user name (default: the profile\'s, else asked)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (o: { username?: string; passwordStdin?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      ctx.noAuthHint = true;
      const p = wsProfile(ctx, 'muse login');
      const client = new WsClient({ baseUrl: p.url, timeoutMs: p.timeoutMs });
      try {
        let token: string;
        if (ctx.globals.tokenStdin) {
          // A token made elsewhere: check it before keeping it.
          token = (await ctx.getToken(p.name)) ?? '';
          if (!(await client.verifyToken(token, { signal: ctx.signal }))) {
            throw new MuseError('auth', `The server at ${client.baseUrl} says this token is not valid (expired?).`);
          }
        } else {
          const hint = 'Use --password-stdin (and --username) when not at a terminal.';
          const username = o.username ?? p.username ?? (await ask(ctx.io, 'Username: ', false, hint)).trim();
          if (!username) throw new MuseError('usage', 'No user name given.');
          let password: string;
          if (o.passwordStdin) {
            password = (await readAllStdin(ctx.io)).replace(/\r?\n$/, '');
            if (!password) throw new MuseError('usage', '--password-stdin: standard input was empty.');
          } else {
            password = await ask(ctx.io, `Password for ${username} at ${client.baseUrl}: `, true, hint);
          }
          token = await client.obtainToken(username, password, { signal: ctx.signal });
          ctx.info(`Signed in to ${client.baseUrl} as ${username}.`);
        }
        const file = writeToken(p.name, token, ctx.env);
        ctx.info(`Token kept for profile "${p.name}" in ${file} (readable by you only).`);
        ctx.json({ profile: p.name, tokenFile: file });
      } finally {
        await client.close();
      }
    });

  program
    .command('logout')
    .description('forget the token of this profile')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const p = wsProfile(ctx, 'muse logout');
      const had = deleteToken(p.name, ctx.env);
      ctx.info(had ? `Signed out of "${p.name}" (token deleted).` : `No token was kept for "${p.name}".`);
      ctx.json({ profile: p.name, deleted: had });
    });

  program
    .command('software')
    .description('list the software this profile can run')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const p = ctx.profile();
      const b = ctx.backend(p);
      if (!can(b, 'listSoftware')) throw cannot(b.kind, 'listSoftware', { profile: p.name, hint: 'Name the software in "muse submit SOFTWARE".' });
      const list = await b.listSoftware({ signal: ctx.signal });
      ctx.json(list);
      if (list.length === 0) ctx.info(`No software on "${p.name}".`);
      const w = Math.max(0, ...list.map((s) => s.name.length));
      for (const s of list) ctx.out(`${s.name.padEnd(w)}  ${s.description ?? ''}`.trimEnd());
    });
}
