// Runs the in-host tests in code-server: opens the workbench in headless Chromium with a payload
// naming our extension (extensionDevelopmentPath) and the mocha runner (extensionTestsPath),
// forwards the extension host's console to stdout, and exits with the runner's exit code.
//
//   node out/test/vscode/runner/drive.js --server http://127.0.0.1:PORT --folder WORKSPACE \
//     --extension PROJECT --tests PROJECT/out/test/vscode/runner/index.js --profile DIR \
//     [--timeout SECONDS] [--log FILE]
import * as fs from 'fs';
import * as path from 'path';
import { format, parseArgs } from 'util';
import { developmentPayload, launchBrowser, workbenchUrl } from './browser';
import { START_MARKER } from './protocol';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    folder: { type: 'string' },
    extension: { type: 'string' },
    tests: { type: 'string' },
    profile: { type: 'string' },
    timeout: { type: 'string', default: '240' },
    log: { type: 'string' },
  },
});

function required(name: keyof typeof opts): string {
  const v = opts[name];
  if (typeof v !== 'string' || !v) {
    console.error(`drive: --${name} is required`);
    process.exit(2);
  }
  return v;
}

/** Formats the arguments of a workbench log call the way console.log would (`%s`, `%d`...). */
function show(args: unknown): string {
  return format(...(Array.isArray(args) ? args : [args]));
}

async function main(): Promise<number> {
  const server = required('server');
  const folder = path.resolve(required('folder'));
  const extension = path.resolve(required('extension'));
  const tests = path.resolve(required('tests'));
  const profile = path.resolve(required('profile'));
  const deadlineMs = Number(opts.timeout) * 1000;
  const logFile = opts.log ? path.resolve(opts.log) : undefined;
  const browserLog = (line: string): void => {
    if (logFile) fs.appendFileSync(logFile, line + '\n');
  };

  const context = await launchBrowser(profile);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    let settle!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (settle = resolve));

    // The two hooks VS Code's web workbench calls when it runs extension tests. The log carries
    // the workbench's own chatter too: only what follows the runner's first line goes to stdout.
    let started = false;
    const early: string[] = [];
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const line = show(args);
      browserLog(`[automation.${type}] ${line}`);
      if (!started && line.startsWith(START_MARKER)) started = true;
      if (!started) early.push(line);
      else if (type === 'error') process.stderr.write(line + '\n');
      else process.stdout.write(line + '\n');
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => settle(code));

    page.on('console', (m) => browserLog(`[console.${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => browserLog(`[pageerror] ${e.message}`));
    page.on('crash', () => {
      console.error('drive: the workbench page crashed');
      settle(1);
    });

    const url = workbenchUrl(server, folder, developmentPayload(server, extension, tests));
    browserLog(`[drive] opening ${url}`);
    await page.goto(url);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(-1), deadlineMs);
    });
    const code = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (!started) {
      // The runner never started (extension host failed, bad path...): show why.
      console.error('drive: the in-host runner did not start; the workbench said:');
      for (const line of early.slice(-40)) console.error('  ' + line);
    }
    if (code === -1) {
      const shot = path.join(path.dirname(profile), 'drive-timeout.png');
      await page.screenshot({ path: shot }).catch(() => undefined);
      console.error(`drive: the in-host tests did not finish within ${opts.timeout} s (screenshot: ${shot})`);
      return 124;
    }
    return code;
  } finally {
    await context.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('drive:', err);
    process.exit(1);
  },
);
