import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './repoRoot';

/** The singularity stand-in (bash over bubblewrap) that runs the test images. */
export const SINGULARITY_STAND_IN = path.join(repoRoot(), 'test', 'fixtures', 'singularity', 'singularity');

/**
 * The shared sw_example image in .cache/images (holding /add.py), built by
 * test/integration/setup.sh when it is not there yet. Returns its path.
 */
export function swExampleImage(): string {
  const root = repoRoot();
  const image = path.join(root, '.cache', 'images', 'sw_example');
  if (!fs.existsSync(path.join(image, 'add.py'))) {
    try {
      execFileSync('bash', [path.join(root, 'test', 'integration', 'setup.sh')], { cwd: root, stdio: 'pipe' });
    } catch (e) {
      const stderr = String((e as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(`test/integration/setup.sh failed: the sw_example image is needed.${stderr ? `\n${stderr}` : ''}`, { cause: e });
    }
  }
  return image;
}
