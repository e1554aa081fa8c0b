/**
 * Runs the ws test server on its own, for demos and manual tries:
 *
 *   npx tsx test/server/main.ts --port 8000 --data DIR [--images sw_example=PATH] [--singularity CMD]
 *                               [--user NAME=PASSWORD] [--ttl SECONDS]
 *
 * Prints `MUSE_WS_URL=<base URL>` and `MUSE_WS_TOKEN=<a token for the first user>` (shell
 * `eval`-able), then `ready`; stops on SIGINT/SIGTERM.
 */
import { startMuseServer } from './museServer';

function usage(msg: string): never {
  process.stderr.write(
    `${msg}\nusage: npx tsx test/server/main.ts [--port N] --data DIR [--images NAME=PATH]... ` +
      `[--singularity CMD] [--user NAME=PASSWORD]... [--ttl SECONDS]\n`,
  );
  process.exit(2);
}

function pair(v: string, flag: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0) usage(`${flag} expects NAME=VALUE, got "${v}"`);
  return [v.slice(0, i), v.slice(i + 1)];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let port = 0;
  let data: string | undefined;
  let singularity: string | undefined;
  let ttl: number | undefined;
  const images: Record<string, string> = {};
  const users: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port':
        port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port expects a port number');
        break;
      case '--data':
        data = value();
        break;
      case '--images':
      case '--image': {
        const [k, v] = pair(value(), flag);
        images[k] = v;
        break;
      }
      case '--singularity':
        singularity = value();
        break;
      case '--user': {
        const [k, v] = pair(value(), flag);
        users[k] = v;
        break;
      }
      case '--ttl':
        ttl = Number(value());
        if (!Number.isFinite(ttl) || ttl <= 0) usage('--ttl expects a number of seconds');
        break;
      case '-h':
      case '--help':
        usage('Muse ws test server');
        break;
      default:
        usage(`unknown argument "${flag}"`);
    }
  }
  if (!data) usage('--data DIR is required');
  const userList = Object.keys(users).length > 0 ? users : { alice: 'secret' };
  const server = await startMuseServer({
    dataDir: data,
    port,
    users: userList,
    tokenTtlSeconds: ttl ?? 24 * 3600,
    images,
    singularityCommand: singularity,
  });
  process.stdout.write(`MUSE_WS_URL=${server.url}\nMUSE_WS_TOKEN=${server.issueToken(Object.keys(userList)[0])}\nready\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`muse test server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
