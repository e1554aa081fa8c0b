import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMuseError } from '../../src/core/errors';
import type { Run } from '../../src/core/model';
import { rerunRequest } from '../../src/core/rerunRequest';

describe('core: rerun request', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-rerun-'));
    fs.mkdirSync(path.join(root, 'data'));
    fs.writeFileSync(path.join(root, 'add.py'), 'print(1)');
    fs.writeFileSync(path.join(root, 'data', 'in.txt'), '1 2');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const run: Pick<Run, 'software' | 'request'> = {
    software: 'sw_example',
    request: {
      cmd: 'python add.py', cmdOption: '--bind /a:/b', files: ['add.py', 'data/in.txt'], filesOrder: ['data/in.txt', 'add.py'],
      returnedType: 'run.zip', toDownload: true, sbatchList: ['time=1'], moduleList: ['python/3'],
    },
  };

  it('finds the files again under the folder and carries every field over', async () => {
    const req = await rerunRequest(run, root);
    assert.deepStrictEqual(req, {
      software: 'sw_example', cmd: 'python add.py', cmdOption: '--bind /a:/b',
      files: [{ path: path.join(root, 'add.py'), name: 'add.py' }, { path: path.join(root, 'data', 'in.txt'), name: 'data/in.txt' }],
      filesOrder: ['data/in.txt', 'add.py'], returnedType: 'run.zip', toDownload: true, sbatchList: ['time=1'], moduleList: ['python/3'],
    });
  });

  it('names every missing file (a folder is not a file), and all of them without a folder', async () => {
    fs.rmSync(path.join(root, 'data', 'in.txt'));
    fs.mkdirSync(path.join(root, 'data', 'in.txt'));
    await assert.rejects(rerunRequest(run, root), (e: unknown) => isMuseError(e, 'notFound') && /Cannot rerun: data\/in\.txt not found/.test(e.message));
    await assert.rejects(rerunRequest(run, undefined), (e: unknown) => isMuseError(e, 'notFound') && /add\.py, data\/in\.txt not found/.test(e.message));
  });
});
