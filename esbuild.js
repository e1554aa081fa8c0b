// Bundles the extension and the CLI. Types are checked separately (`npm run typecheck`).
const esbuild = require('esbuild');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
/** `--outdir=DIR` builds elsewhere than dist/ (the vscode bench bundles a production copy without touching dist/). */
const outdir = (process.argv.find((a) => a.startsWith('--outdir=')) ?? '--outdir=dist').slice('--outdir='.length);

/** ssh2's optional native parts are loaded in try/catch: leave them out, it falls back to pure JS. */
const external = ['vscode', 'cpu-features', '*.node'];

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

const builds = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: `${outdir}/extension.js` },
  // The extension's heavy half (backends, zip, file walk), required on first use: activation stays light.
  { ...common, entryPoints: ['src/extension/coreEntry.ts'], outfile: `${outdir}/core.js` },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: `${outdir}/cli.js`, banner: { js: '#!/usr/bin/env node' } },
];

async function main() {
  if (watch) {
    const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
    await Promise.all(contexts.map((c) => c.watch()));
    console.log('[esbuild] watching');
    return;
  }
  const results = await Promise.all(builds.map((b) => esbuild.build({ ...b, metafile: true })));
  for (const r of results) {
    for (const [file, info] of Object.entries(r.metafile.outputs)) {
      if (file.endsWith('.js')) console.log(`[esbuild] ${file} ${(info.bytes / 1024).toFixed(0)} KiB`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
