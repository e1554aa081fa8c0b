import * as fs from 'fs';
import * as path from 'path';

/** What `dist/core.js` exports (typed from its entry; the value is loaded at run time). */
export type Core = typeof import('./coreEntry');

let core: Core | undefined;
let loadMs: number | undefined;

/**
 * The heavy half of the extension, loaded on first use. Bundled, it is `core.js` beside
 * `extension.js`; from compiled or tsx-run sources (tests), the entry module itself.
 * A computed path, so esbuild leaves this `require` alone and does not inline the core.
 */
export function loadCore(): Core {
  if (!core) {
    const started = performance.now();
    const bundled = path.join(__dirname, 'core.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    core = require(fs.existsSync(bundled) ? bundled : path.join(__dirname, 'coreEntry')) as Core;
    loadMs = performance.now() - started;
  }
  return core;
}

/** How long loading the core took (undefined until it is loaded): for the bench. */
export function coreLoadMs(): number | undefined {
  return loadMs;
}
