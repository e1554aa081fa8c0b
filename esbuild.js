// Bundles the extension and the CLI. Types are checked separately (`npm run typecheck`).
// The extension is two bundles: dist/extension.js, read at activation (wiring, views, commands),
// and dist/core.js (backends with ssh2, undici and form-data; zip; file walk), required on first
// use by loadCore() (src/extension/coreBundle.ts). The bench (`npm run bench vscode`) measured
// one bundle against two: the second bundle keeps well over 10 ms off activation.
const path = require('path');
const esbuild = require('esbuild');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
/** `--one-bundle`: the layout the vscode bench compares with (the core imported statically into dist/extension.js, no dist/core.js). */
const oneBundle = process.argv.includes('--one-bundle');
/** `--outdir=DIR` builds elsewhere than dist/ (the vscode bench bundles a production copy without touching dist/). */
const outdir = (process.argv.find((a) => a.startsWith('--outdir=')) ?? '--outdir=dist').slice('--outdir='.length);

/** ssh2's optional native parts are loaded in try/catch: leave them out, it falls back to pure JS. */
const external = ['vscode', 'cpu-features', '*.node'];

/**
 * In dist/extension.js, loadCore()'s `require('./coreEntry')` becomes `require('./core.js')`: the
 * second bundle beside it, instead of the core inlined. (Compiled or run by tsx, as in the unit
 * tests, the same require loads the entry module itself.)
 */
const coreAsSecondBundle = {
  name: 'core-as-second-bundle',
  setup(build) {
    const loader = path.join('src', 'extension', 'coreBundle.ts');
    build.onResolve({ filter: /^\.\/coreEntry$/ }, (args) => (args.importer.endsWith(loader) ? { path: './core.js', external: true } : undefined));
  },
};

/** For `--one-bundle`: loadCore() returns the core imported statically, evaluated when the extension loads. */
const coreImportedStatically = {
  name: 'core-imported-statically',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]extension[\\/]coreBundle\.ts$/ }, () => ({
      loader: 'ts',
      resolveDir: path.join(__dirname, 'src', 'extension'),
      contents: "import * as core from './coreEntry';\nexport type Core = typeof core;\nexport function loadCore(): Core { return core; }\n",
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  external,
  logLevel: 'warning',
};

/** The builds, by output file name (dist/<name>); the unit test of the bundles builds these too. */
function builds(dir = outdir, o = common) {
  return {
    'extension.js': { ...o, entryPoints: ['src/extension/extension.ts'], outfile: `${dir}/extension.js`, plugins: [coreAsSecondBundle] },
    'core.js': { ...o, entryPoints: ['src/extension/coreEntry.ts'], outfile: `${dir}/core.js` },
    'cli.js': { ...o, entryPoints: ['src/cli/main.ts'], outfile: `${dir}/cli.js`, banner: { js: '#!/usr/bin/env node' } },
    // The per-user agent, started detached by the CLI and the extension (src/core/agent/agentStart.ts).
    'agent.js': { ...o, entryPoints: ['src/agent/agentMain.ts'], outfile: `${dir}/agent.js` },
  };
}

async function main() {
  const b = builds();
  const all = oneBundle ? [{ ...b['extension.js'], plugins: [coreImportedStatically] }, b['cli.js'], b['agent.js']] : Object.values(b);
  if (watch) {
    const contexts = await Promise.all(all.map((b) => esbuild.context(b)));
    await Promise.all(contexts.map((c) => c.watch()));
    console.log('[esbuild] watching');
    return;
  }
  const results = await Promise.all(all.map((b) => esbuild.build({ ...b, metafile: true })));
  for (const r of results) {
    for (const [file, info] of Object.entries(r.metafile.outputs)) {
      if (file.endsWith('.js')) console.log(`[esbuild] ${file} ${(info.bytes / 1024).toFixed(0)} KiB`);
    }
  }
}

module.exports = { builds, common };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
