// Whether a process or a process group exists (src/core/processAlive.ts): signal 0, EPERM alive.
// Every state is waited for by its event (a child's exit, a line it prints), never by a sleep.
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import { processAlive, processGroupAlive } from '../../src/core/processAlive';

/** The pid of a child that has ended and was reaped (spawnSync waits for it). */
function reapedPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(r.stdout.toString());
  assert.ok(Number.isInteger(pid) && pid > 0, `no pid from the child: ${r.stderr.toString()}`);
  return pid;
}

/** Resolves once `child` has exited and Node has reaped it. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The first line `child` prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    child.once('close', () => reject(new Error(`the child ended before printing a line (${JSON.stringify(text)})`)));
  });
}

/** A node process that lives until its stdin ends. */
const UNTIL_STDIN_ENDS = "process.stdin.resume(); process.stdin.on('end', () => process.exit(0));";

describe('process liveness (core/processAlive.ts)', () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    for (const c of started.splice(0)) {
      // Ending stdin ends every process here, a group's member too (it shares its leader's stdin).
      c.stdin?.end();
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  });

  it('finds this process alive', () => {
    assert.strictEqual(processAlive(process.pid), true);
  });

  it('finds PID 1 alive (another user\'s process when not root: EPERM counts as alive)', () => {
    assert.strictEqual(processAlive(1), true);
  });

  it('finds a child alive while it runs, and dead once it exited and was reaped', async () => {
    const child = spawn(process.execPath, ['-e', UNTIL_STDIN_ENDS], { stdio: ['pipe', 'ignore', 'ignore'] });
    started.push(child);
    const pid = child.pid!;
    assert.strictEqual(processAlive(pid), true, 'a running child');
    child.stdin!.end();
    await exited(child);
    assert.strictEqual(processAlive(pid), false, 'an exited, reaped child');
    assert.strictEqual(processAlive(reapedPid()), false, 'a child spawnSync reaped');
  });

  it('says no for numbers that name no single process (they would address groups)', () => {
    for (const n of [0, -1, -process.pid, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.strictEqual(processAlive(n), false, String(n));
    for (const n of [0, 1, -1, 2.5, Number.NaN]) assert.strictEqual(processGroupAlive(n), false, String(n));
  });

  it('finds a group alive while a member lives, after its leader has gone', async () => {
    // The leader starts a second process in its group (sharing its stdin, the test's pipe: the
    // member lives until the test ends it), prints the member's pid and exits.
    const leaderScript = [
      "const { spawn } = require('child_process');",
      `const member = spawn(process.execPath, ['-e', ${JSON.stringify(UNTIL_STDIN_ENDS)}], { stdio: ['inherit', 'ignore', 'ignore'] });`,
      'process.stdout.write(member.pid + "\\n", () => process.exit(0));',
    ].join('\n');
    const leader = spawn(process.execPath, ['-e', leaderScript], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
    started.push(leader);
    const pgid = leader.pid!;
    const member = Number(await firstLine(leader));
    await exited(leader);
    assert.strictEqual(processAlive(pgid), false, 'the leader exited and was reaped');
    assert.strictEqual(processAlive(member), true, 'its member lives on');
    assert.strictEqual(processGroupAlive(pgid), true, 'the group lives while its member does');
  });

  it('finds a group dead once its only process exited and was reaped', async () => {
    const leader = spawn(process.execPath, ['-e', UNTIL_STDIN_ENDS], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    started.push(leader);
    const pgid = leader.pid!;
    assert.strictEqual(processGroupAlive(pgid), true, 'a detached child leads its own group');
    leader.stdin!.end();
    await exited(leader);
    assert.strictEqual(processGroupAlive(pgid), false);
  });
});
