// The extension ships as two bundles: dist/extension.js (wiring, views, commands) and
// dist/core.js (backends, zip, file walk), loaded on first use. Built here into a temp folder
// with the project's esbuild settings, so the test does not depend on (or touch) dist/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build } from 'esbuild';
import { MuseError, isMuseError } from '../../src/core/errors';
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
    const heavy = mainInputs.filter((f) => /node_modules\/(ssh2|undici|form-data|yauzl|yazl|picomatch|ignore|mime-db)\//.test(f));
    assert.deepStrictEqual(heavy, []);
    for (const f of ['src/core/backends/factory.ts', 'src/core/transfer/zip.ts', 'src/extension/fileSelection.ts']) {
      assert.ok(!mainInputs.includes(f), `${f} is in dist/extension.js`);
    }
  });

  it('the core bundle offers what the extension loads from it', () => {
    for (const name of ['createBackend', 'WsClient', 'extractZip', 'listZip', 'openZipEntry', 'selectFiles', 'summarizeSelection'] as const) {
      assert.strictEqual(typeof core[name], 'function', name);
    }
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
