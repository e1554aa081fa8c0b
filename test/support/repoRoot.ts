import * as fs from 'fs';
import * as path from 'path';

/**
 * The checkout's root: the nearest folder up from this file whose package.json is ours. Works
 * from the sources (tsx) and from the compiled tests under out/.
 */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'muse-runner') return dir;
      } catch {
        // not ours: keep going up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the muse-runner checkout above ${__dirname}`);
    dir = parent;
  }
}
