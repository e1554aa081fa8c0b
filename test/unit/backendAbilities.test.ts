import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { can, cannot } from '../../src/core/backend';
import { createBackend } from '../../src/core/backends/factory';
import { isMuseError } from '../../src/core/errors';

describe('core: what a backend can do, declared by its optional methods', () => {
  let root: string;
  before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-abilities-'))));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('the web API cannot cancel nor tail; the local runner can cancel, tail and list its software', async () => {
    const ws = createBackend({ name: 'w', kind: 'ws', url: 'http://127.0.0.1:9/api/' }, { getToken: async () => undefined });
    const local = createBackend({ name: 'l', kind: 'local', root }, { getToken: async () => undefined });
    try {
      assert.deepStrictEqual(
        (['cancel', 'tail', 'download', 'listSoftware', 'runSync', 'output'] as const).map((a) => [a, can(ws, a), can(local, a)]),
        [['cancel', false, true], ['tail', false, true], ['download', true, true], ['listSoftware', true, true], ['runSync', true, false], ['output', true, true]],
      );
    } finally {
      await ws.dispose?.();
      await local.dispose?.();
    }
  });

  it('says "cannot" one way, with the profile and what to do instead', () => {
    const e = cannot('ws', 'cancel', { profile: 'muse' });
    assert.ok(isMuseError(e, 'unsupported'));
    assert.strictEqual(e.message, 'The Muse web API (profile "muse") cannot cancel a run: it goes on until it ends.');
    assert.strictEqual(cannot('ssh', 'download', { hint: 'Use "muse results KEY".' }).message, 'Slurm over SSH cannot fetch results by a download key: it keeps no results for later. Use "muse results KEY".');
  });
});
