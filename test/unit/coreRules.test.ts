import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { replaceAtomically, writeFileAtomic, writeFileAtomicSync } from '../../src/core/atomicFile';
import { mapLimit } from '../../src/core/concurrency';
import { isJwtExpired, jwtTimes } from '../../src/core/jwt';

const jwt = (claims: object): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('core rules: JWT reading', () => {
  it('reads a JWT exp claim (number or string) and ignores tokens it cannot read', () => {
    const now = Date.now();
    assert.strictEqual(isJwtExpired(jwt({ exp: Math.floor(now / 1000) - 60 }), now), true);
    assert.strictEqual(isJwtExpired(jwt({ exp: String(Math.floor(now / 1000) - 60) }), now), true);
    assert.strictEqual(isJwtExpired(jwt({ exp: Math.floor(now / 1000) + 600 }), now), false);
    assert.strictEqual(isJwtExpired(jwt({ user: 'alice' }), now), false);
    assert.strictEqual(isJwtExpired('not-a-jwt', now), false);
    assert.strictEqual(isJwtExpired('a.%%%.c', now), false);
  });

  it('reads the issue time from iat, or orig_iat as djangorestframework-jwt writes it', () => {
    assert.deepStrictEqual(jwtTimes(jwt({ exp: 200, iat: 100 })), { exp: 200, iat: 100 });
    assert.deepStrictEqual(jwtTimes(jwt({ exp: 200, orig_iat: 50 })), { exp: 200, iat: 50 });
    assert.deepStrictEqual(jwtTimes(jwt({ exp: 'soon' })), {});
    assert.deepStrictEqual(jwtTimes('garbage'), {});
  });
});

describe('core rules: bounded concurrency', () => {
  it('never runs more than the limit at once and keeps the order of the items', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    assert.deepStrictEqual(out, [50, 10, 40, 20, 30, 0, 60]);
    assert.strictEqual(most, 3);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapLimit([1, 2, 3, 4, 5], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('two');
        return n;
      }),
      /two/,
    );
    assert.deepStrictEqual(started, [1, 2]);
  });
});

describe('core rules: atomic writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-atomic-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a new file with its mode, in a folder it makes, leaving no temporary file', async () => {
    const f = path.join(dir, 'sub', 'token');
    await writeFileAtomic(f, 'secret', { mode: 0o600, durable: true });
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'secret');
    assert.strictEqual(fs.statSync(f).mode & 0o777, 0o600);
    writeFileAtomicSync(f, 'again', 0o600);
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'again');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(f)), ['token']);
  });

  it('keeps the old file whole when the write fails before the rename', async () => {
    const f = path.join(dir, 'runs.json');
    fs.writeFileSync(f, 'old');
    await assert.rejects(
      writeFileAtomic(f, 'new', {
        beforeRename: () => {
          throw new Error('crash');
        },
      }),
      (e: Error) => /Cannot write .*runs\.json: crash/.test(e.message),
    );
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'old');
    assert.deepStrictEqual(fs.readdirSync(dir), ['runs.json']);
  });

  it('replaceAtomically renames what produce made, and removes it when produce fails', async () => {
    const f = path.join(dir, 'out.zip');
    fs.writeFileSync(f, 'old');
    await assert.rejects(
      replaceAtomically(f, async (tmp) => {
        fs.writeFileSync(tmp, 'half');
        throw new Error('dropped');
      }),
      /Cannot write .*out\.zip: dropped/,
    );
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'old');
    assert.deepStrictEqual(fs.readdirSync(dir), ['out.zip']);
    const n = await replaceAtomically(f, async (tmp) => {
      fs.writeFileSync(tmp, 'whole');
      return 5;
    });
    assert.strictEqual(n, 5);
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'whole');
  });

  it('replaceAtomically with optional leaves the destination alone when produce made nothing, and still places what it made', async () => {
    const f = path.join(dir, 'results.txt');
    fs.writeFileSync(f, 'old');
    const r = await replaceAtomically(f, async () => 'stdout only', undefined, { optional: true });
    assert.strictEqual(r, 'stdout only');
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'old');
    await assert.rejects(replaceAtomically(f, async () => 'nothing'), /Cannot write .*results\.txt/, 'without optional, a missing file is an error');
    await replaceAtomically(f, async (tmp) => fs.writeFileSync(tmp, 'new'), path.join(dir, '.results.txt.part'), { optional: true });
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'new');
    assert.deepStrictEqual(fs.readdirSync(dir), ['results.txt']);
  });
});
