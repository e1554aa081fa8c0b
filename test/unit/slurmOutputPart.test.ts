/**
 * `output` (stdout/stderr, array tasks joined) and `results` of a `stdout.txt` run, against an
 * in-process ssh2 SFTP server: the download goes to `<dest>.part`, renamed once complete. A
 * local write failure, a folder that cannot be made, the server closing mid-file and a cancel
 * mid-file must each fail with the right code, leave no `.part`, and leave an older `<dest>`
 * as it was (never half of the new one), with no stray error and no remote handle left open.
 */
import * as assert from 'assert';
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import * as path from 'path';
import { utils } from 'ssh2';
import type { Connection, SFTPWrapper } from 'ssh2';
import type { RunRef } from '../../src/core/backend';
import { SlurmBackend } from '../../src/core/backends/slurm/slurmBackend';
import { isMuseError } from '../../src/core/errors';
import { normalizeRequest } from '../../src/core/model';
import { fakeSlurmBackend, startFakeSshServer } from '../support/fakeSshServer';
import type { FakeSshServer } from '../support/fakeSshServer';
import { until } from '../support/until';

const { STATUS_CODE } = utils.sftp;
const RUN_DIR = '/runs/k1';
const OLD = 'an older download, to be kept whole\n';

/** Distinct bytes per file (a task's data shows up where it belongs). */
function fileData(tag: string, bytes: number): Buffer {
  const line = Buffer.from(`${tag} ${'x'.repeat(60)}\n`);
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / line.length) }, () => line)).subarray(0, bytes);
}

/** How the fake cluster misbehaves while a file is read (offset at or past `at`). */
type Fault = { file: string; at: number; kind: 'close' | 'stall' } | undefined;

describe('Slurm output and stdout.txt results through .part (in-process ssh2 server)', function () {
  this.timeout(30_000);
  let dir: string;
  let fake: FakeSshServer;
  let tree: Map<string, Buffer>;
  let fault: Fault;
  /** Remote file handles open now (closed by the client when a read stream ends or is destroyed). */
  const openFiles = new Set<object>();

  function serveSftp(sftp: SFTPWrapper, client: Connection): void {
    const handles = new Map<string, { rel: string; dir: boolean; done?: boolean }>();
    let next = 0;
    const relOf = (p: string) => (p === RUN_DIR ? '' : p.startsWith(`${RUN_DIR}/`) ? p.slice(RUN_DIR.length + 1) : undefined);
    const attrsOf = (rel: string) =>
      tree.has(rel)
        ? { mode: 0o100644, uid: 0, gid: 0, size: tree.get(rel)!.length, atime: 1_700_000_000, mtime: 1_700_000_000 }
        : { mode: 0o040755, uid: 0, gid: 0, size: 4096, atime: 1_700_000_000, mtime: 1_700_000_000 };
    const newHandle = (h: { rel: string; dir: boolean }) => {
      const id = `${next++}`;
      handles.set(id, h);
      return Buffer.from(id);
    };
    sftp.on('STAT', (id, p) => {
      const rel = relOf(p);
      if (rel === undefined || (rel !== '' && !tree.has(rel))) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
      sftp.attrs(id, attrsOf(rel));
    });
    sftp.on('OPENDIR', (id, p) => {
      if (relOf(p) !== '') return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
      sftp.handle(id, newHandle({ rel: '', dir: true }));
    });
    sftp.on('READDIR', (id, handle) => {
      const h = handles.get(handle.toString());
      if (!h?.dir) return sftp.status(id, STATUS_CODE.FAILURE);
      if (h.done) return sftp.status(id, STATUS_CODE.EOF);
      h.done = true;
      sftp.name(id, [...tree.keys()].map((k) => ({ filename: k, longname: k, attrs: attrsOf(k) })));
    });
    sftp.on('OPEN', (id, p) => {
      const rel = relOf(p);
      if (rel === undefined || !tree.has(rel)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
      const h = newHandle({ rel, dir: false });
      openFiles.add(handles.get(h.toString())!);
      sftp.handle(id, h);
    });
    sftp.on('READ', (id, handle, offset, length) => {
      const h = handles.get(handle.toString());
      if (!h || h.dir) return sftp.status(id, STATUS_CODE.FAILURE);
      if (fault && fault.file === h.rel && offset >= fault.at) {
        if (fault.kind === 'close') client.end();
        return; // 'stall': never answered
      }
      const data = tree.get(h.rel)!;
      if (offset >= data.length) return sftp.status(id, STATUS_CODE.EOF);
      sftp.data(id, data.subarray(offset, offset + length));
    });
    sftp.on('CLOSE', (id, handle) => {
      const h = handles.get(handle.toString());
      handles.delete(handle.toString());
      if (h) openFiles.delete(h);
      sftp.status(id, STATUS_CODE.OK);
    });
    client.on('close', () => {
      // A connection gone closes its handles.
      for (const h of handles.values()) openFiles.delete(h);
    });
  }

  before(async () => {
    fake = await startFakeSshServer('muse-output-', (client: Connection) => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          const stream = acc();
          stream.on('error', () => undefined);
          if (/^sacct /.test(info.command)) {
            // The job ended: results may be fetched.
            stream.write(['1', 'muse-sw-k1', 'COMPLETED', '0:0', 'n1', '00:00:01', 'None', '2026-01-01T00:00:00', '2026-01-01T00:00:01'].join('\x1f') + '\n');
            stream.exit(0);
          } else {
            stream.exit(127);
          }
          stream.end();
        });
        session.on('sftp', (acc) => serveSftp(acc(), client));
      });
    });
    dir = fake.dir;
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fault = undefined;
    openFiles.clear();
    tree = new Map([
      ['__WS__stdout.txt', fileData('single', 600_000)],
      ['__WS__stderr.txt', Buffer.from('warning\n')],
      ['__WS__stdout_1.txt', fileData('task1', 300_000)],
      ['__WS__stdout_2.txt', fileData('task2', 700_000)],
      ['__WS__stdout_10.txt', fileData('task10', 200_000)],
      ['__MUSE__batch.sh', Buffer.from('#!/bin/bash\n')],
    ]);
  });

  const backend = (): SlurmBackend => fakeSlurmBackend(fake);

  const single: RunRef = { id: 'r1', key: 'k1', software: 'sw', request: normalizeRequest({ software: 'sw', cmd: 'x', returnedType: 'stdout.txt' }), raw: { jobId: '1' }, location: RUN_DIR };
  const array: RunRef = { ...single, id: 'r2', request: normalizeRequest({ software: 'sw', cmd: 'x', sbatchList: ['--array=1,2,10'] }) };
  const joined = () => Buffer.concat(['__WS__stdout_1.txt', '__WS__stdout_2.txt', '__WS__stdout_10.txt'].map((n) => tree.get(n)!));

  /** A destination holding an older download. */
  function oldDest(name: string): string {
    const dest = path.join(dir, name);
    writeFileSync(dest, OLD);
    return dest;
  }

  /** Disposes, then checks: no stray error, no remote handle left, the older file whole, no .part. */
  async function expectNothingLeft(b: SlurmBackend, dest: string): Promise<void> {
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.prependListener('uncaughtException', onStray);
    try {
      await until('the remote files to be closed', () => openFiles.size === 0);
      await b.dispose();
      await until('the connection to be closed', () => fake.clients.size === 0);
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.removeListener('uncaughtException', onStray);
    }
    assert.deepStrictEqual(stray.map(String), []);
    assert.strictEqual(readFileSync(dest, 'utf8'), OLD, 'the older file is kept whole');
    assert.throws(() => lstatSync(`${dest}.part`), 'no .part left');
  }

  it('array tasks joined in task order replace the older file; no .part left', async () => {
    const b = backend();
    const dest = oldDest('joined.txt');
    try {
      const r = await b.output(array, 'stdout', dest);
      assert.strictEqual(r.bytes, joined().length);
      assert.ok(readFileSync(dest).equals(joined()));
      assert.throws(() => lstatSync(`${dest}.part`));
    } finally {
      await b.dispose();
    }
  });

  it('disk full (the .part is /dev/full): an io error naming the file, the older file kept', async () => {
    const b = backend();
    const dest = oldDest('full.txt');
    symlinkSync('/dev/full', `${dest}.part`);
    await assert.rejects(b.output(array, 'stdout', dest), (e: unknown) => isMuseError(e, 'io') && /ENOSPC/.test((e as Error).message) && (e as Error).message.includes(dest));
    await expectNothingLeft(b, dest);
  });

  it('the .part cannot be created (its folder is missing): an io error, the older file kept', async () => {
    const b = backend();
    const dest = oldDest('nodir.txt');
    symlinkSync(path.join(dir, 'no', 'such', 'folder', 'f'), `${dest}.part`);
    await assert.rejects(b.output(single, 'stdout', dest), (e: unknown) => isMuseError(e, 'io') && /ENOENT/.test((e as Error).message) && (e as Error).message.includes(dest));
    await expectNothingLeft(b, dest);
  });

  it('the destination folder cannot be made (a file in the way): an io error, nothing written', async () => {
    const b = backend();
    const blocker = path.join(dir, 'blocker');
    writeFileSync(blocker, 'a file, not a folder');
    const dest = path.join(blocker, 'sub', 'err.txt');
    try {
      await assert.rejects(b.output(single, 'stderr', dest), (e: unknown) => isMuseError(e, 'io') && (e as Error).message.includes(dest));
    } finally {
      await b.dispose();
    }
    assert.strictEqual(readFileSync(blocker, 'utf8'), 'a file, not a folder');
  });

  it('results of a stdout.txt run, the server closing mid-file: a network error, the older file kept', async () => {
    fault = { file: '__WS__stdout.txt', at: 200_000, kind: 'close' };
    const b = backend();
    const dest = oldDest('cut.txt');
    await assert.rejects(b.results(single, dest), (e: unknown) => isMuseError(e, 'network'));
    await expectNothingLeft(b, dest);
  });

  it('array output, the server closing in the second task: a network error, the older file kept', async () => {
    fault = { file: '__WS__stdout_2.txt', at: 300_000, kind: 'close' };
    const b = backend();
    const dest = oldDest('cut-array.txt');
    await assert.rejects(b.output(array, 'stdout', dest), (e: unknown) => isMuseError(e, 'network'));
    await expectNothingLeft(b, dest);
  });

  it('cancelled mid-file (the server stalls): cancelled at once, no .part, the older file kept', async () => {
    fault = { file: '__WS__stdout_2.txt', at: 100_000, kind: 'stall' };
    const b = backend();
    const dest = oldDest('abort.txt');
    const ac = new AbortController();
    let seen = 0;
    const onProgress = (p: { done: number }) => {
      seen = p.done;
      // Past the first task: some of the new data is on its way to disk.
      if (p.done > 350_000) ac.abort();
    };
    await assert.rejects(b.output(array, 'stdout', dest, { signal: ac.signal, onProgress }), (e: unknown) => isMuseError(e, 'cancelled'));
    assert.ok(seen > 350_000, 'cancelled mid-file');
    // At once: nothing is left when the call has failed.
    assert.throws(() => lstatSync(`${dest}.part`), 'no .part left when the call fails');
    await expectNothingLeft(b, dest);
  });
});
