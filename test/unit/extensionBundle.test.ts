// The extension ships as two bundles: dist/extension.js (wiring, views, commands) and
// dist/core.js (backends, zip, file walk), required on first use (the vscode bench measured what
// that saves at activation). Built here into a temp folder with the project's own esbuild
// settings (esbuild.js), so the test does not depend on (or touch) dist/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build, type BuildOptions } from 'esbuild';
import { MuseError, isMuseError } from '../../src/core/errors';
import type { Core } from '../../src/extension/coreBundle';
import { repoRoot } from '../support/repoRoot';

const ROOT = repoRoot();

interface EsbuildConfig {
  builds(dir: string, common: BuildOptions): Record<'extension.js' | 'core.js' | 'cli.js', BuildOptions>;
  common: BuildOptions;
}

describe('extension bundles', function () {
  this.timeout(60_000);
  let tmp: string;
  let mainInputs: string[];
  let mainText: string;
  let core: Core;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-bundle-'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const config = require(path.join(ROOT, 'esbuild.js')) as EsbuildConfig;
    const builds = config.builds(tmp, { ...config.common, logLevel: 'silent', absWorkingDir: ROOT });
    const main = await build({ ...builds['extension.js'], metafile: true });
    mainInputs = Object.keys(main.metafile?.inputs ?? {});
    mainText = fs.readFileSync(path.join(tmp, 'extension.js'), 'utf8');
    await build(builds['core.js']);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    core = require(path.join(tmp, 'core.js')) as Core;
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('keeps the heavy libraries out of the bundle read at activation', () => {
    const heavy = mainInputs.filter((f) => /node_modules\/(ssh2|undici|form-data|yauzl|yazl|picomatch|ignore|mime-db)\//.test(f));
    assert.deepStrictEqual(heavy, []);
    for (const f of ['src/core/backends/factory.ts', 'src/core/transfer/zip.ts', 'src/core/fileSelection.ts', 'src/extension/coreEntry.ts']) {
      assert.ok(!mainInputs.includes(f), `${f} is in dist/extension.js`);
    }
  });

  it('loads the core bundle beside it, by a plain require, on first use', () => {
    assert.strictEqual(mainText.match(/require\("\.\/core\.js"\)/g)?.length, 1, 'dist/extension.js does not require ./core.js once');
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
