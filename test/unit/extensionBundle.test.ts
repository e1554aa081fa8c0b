// The extension ships as two bundles: dist/extension.js (wiring, views, commands) and
// dist/core.js (backends, zip, file walk), loaded on first use. Built here into a temp folder
// with the project's esbuild settings, so the test does not depend on (or touch) dist/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build } from 'esbuild';
import { MuseError, isMuseError } from '../../src/core/errors';
import type { Run } from '../../src/core/model';
import { RunStore } from '../../src/core/store';
import { RunStoreCore } from '../../src/core/storeCore';
import type { Core } from '../../src/extension/coreBundle';
import { repoRoot } from '../support/repoRoot';

const ROOT = repoRoot();
const options = {
  bundle: true,
  platform: 'node' as const,
  target: 'node20',
  format: 'cjs' as const,
  external: ['vscode', 'cpu-features', '*.node'],
  logLevel: 'silent' as const,
  metafile: true,
  absWorkingDir: ROOT,
};

describe('extension bundles', function () {
  this.timeout(60_000);
  let tmp: string;
  let mainInputs: string[];
  let core: Core;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-bundle-'));
    const main = await build({ ...options, entryPoints: ['src/extension/extension.ts'], outfile: path.join(tmp, 'extension.js') });
    mainInputs = Object.keys(main.metafile?.inputs ?? {});
    await build({ ...options, entryPoints: ['src/extension/coreEntry.ts'], outfile: path.join(tmp, 'core.js') });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    core = require(path.join(tmp, 'core.js')) as Core;
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('keeps the heavy libraries out of the bundle read at activation', () => {
    // proper-lockfile (with graceful-fs, retry, signal-exit: ~37 KiB) only locks the run store for
    // a write: the extension takes it from the core bundle, and store.ts (which requires it) stays out.
    const heavy = mainInputs.filter((f) => /node_modules\/(ssh2|undici|form-data|yauzl|yazl|picomatch|ignore|mime-db|proper-lockfile|graceful-fs|retry|signal-exit)\//.test(f));
    assert.deepStrictEqual(heavy, []);
    for (const f of ['src/core/backends/factory.ts', 'src/core/transfer/zip.ts', 'src/core/fileSelection.ts', 'src/core/store.ts']) {
      assert.ok(!mainInputs.includes(f), `${f} is in dist/extension.js`);
    }
  });

  it('the core bundle offers what the extension loads from it', () => {
    for (const name of ['createBackend', 'WsClient', 'extractZip', 'listZip', 'openZipEntry', 'selectFiles', 'summarizeSelection', 'lockFile'] as const) {
      assert.strictEqual(typeof core[name], 'function', name);
    }
  });

  it("a store locking with the core bundle's proper-lockfile (as the extension's does) writes, and a CLI store reads it", async () => {
    const file = path.join(tmp, 'store', 'runs.json');
    const store = new RunStoreCore(file, { lock: () => core.lockFile });
    await store.load();
    const run: Run = {
      id: 'r1', profile: 'p', backend: 'local', software: 's', state: 'waiting', raw: {}, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z',
      request: { cmd: 'c', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    };
    await store.add(run);
    await store.update('r1', { state: 'ok' });
    assert.ok(!fs.existsSync(`${file}.lock`), 'the lock was not released');
    const cli = new RunStore(file);
    await cli.load();
    assert.strictEqual(cli.get('r1')?.state, 'ok');
  });

  it('errors thrown in the core bundle are MuseErrors to the extension (and back)', async () => {
    const missing = path.join(tmp, 'no-such.zip');
    const err = await core.listZip(missing).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, 'listZip of a missing file did not fail');
    assert.ok(isMuseError(err), `not a MuseError to this copy of errors.ts: ${String(err)}`);
    assert.ok(err instanceof MuseError);
    assert.strictEqual(isMuseError(new Error('plain')), false);
    assert.strictEqual(isMuseError({ code: 'auth', message: 'x' }), false);
  });
});
