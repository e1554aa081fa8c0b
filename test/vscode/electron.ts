// The in-host tests in a VS Code installed on this machine, through @vscode/test-electron, for
// developers who have one (its download of VS Code cannot work on the CI machines, so run.sh
// uses code-server there). Same runner, same tests as the code-server route.
//
//   VSCODE_EXECUTABLE=/usr/share/code/code bash test/vscode/run.sh
//   VSCODE_EXECUTABLE=... node out/test/vscode/electron.js      (after `npm run compile-tests`)
import * as fs from 'fs';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import { RESULT_ENV } from './runner/protocol';

/** The project folder: this file runs from out/test/vscode/. */
const ROOT = path.resolve(__dirname, '..', '..', '..');

async function main(): Promise<number> {
  const executable = process.env.VSCODE_EXECUTABLE;
  if (!executable) {
    console.error('electron: set VSCODE_EXECUTABLE to the path of your VS Code binary');
    return 2;
  }
  // Its own profile and extensions folder: the developer's VS Code settings and extensions stay out.
  const runDir = process.env.MUSE_VSCODE_RUN_DIR || path.join(ROOT, '.cache', 'vscode-run', 'electron');
  let workspace = process.env.MUSE_VSCODE_WORKSPACE;
  if (!workspace) {
    workspace = path.join(runDir, 'ws-inhost');
    fs.rmSync(workspace, { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, 'test', 'vscode', 'workspace'), workspace, { recursive: true });
  }
  const userDataDir = path.join(runDir, 'electron-udd');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'update.mode': 'none' }),
  );

  const extensionTestsEnv: Record<string, string> = {};
  for (const name of [RESULT_ENV, 'MUSE_DATA_DIR', 'MUSE_CONFIG_DIR', 'MUSE_VSCODE_RUN_DIR', 'MUSE_VSCODE_GREP']) {
    const v = process.env[name];
    if (v) extensionTestsEnv[name] = v;
  }
  return runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: path.join(ROOT, 'out', 'test', 'vscode', 'runner', 'index.js'),
    extensionTestsEnv,
    launchArgs: [
      workspace,
      '--disable-extensions', // other extensions: ours, under development, still loads
      '--disable-workspace-trust',
      `--user-data-dir=${userDataDir}`,
      `--extensions-dir=${path.join(runDir, 'electron-exts')}`,
    ],
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // runTests rejects with the exit code (or an error) when the tests fail.
    console.error('electron: in-host tests failed:', err);
    process.exit(1);
  },
);
