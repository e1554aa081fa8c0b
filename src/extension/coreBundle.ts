/** What the core bundle exports (typed from its entry). */
export type Core = typeof import('./coreEntry');

let core: Core | undefined;

/**
 * The heavy half of the extension, loaded on first use. In dist/extension.js this require is
 * `require('./core.js')`, the second bundle (esbuild.js says why); compiled or run by tsx, it
 * loads the entry module itself.
 */
export function loadCore(): Core {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  core ??= require('./coreEntry') as Core;
  return core;
}
