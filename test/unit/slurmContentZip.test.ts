/**
 * `content` when the zip is made here from files read over SFTP (non-ASCII names, or no zip on
 * the cluster), against an in-process ssh2 server serving a run folder from memory. Its SFTP
 * answers file closes a little late, as a loaded cluster does: the zip must still be complete,
 * and closing the connection right after must leave no stray error behind. Also the zip made on
 * the cluster and streamed back, when the local file cannot be written: it must fail, not stall.
 */
import * as assert from 'assert';
import { lstatSync, readFileSync, symlinkSync } from 'fs';
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
import { zipEntries } from '../support/zipEntries';

const { STATUS_CODE } = utils.sftp;
const RUN_DIR = '/runs/k1';

/** The remote run folder: path relative to RUN_DIR -> content. */
type Tree = Map<string, Buffer>;

/** Serves `tree` read-only under RUN_DIR; CLOSE answered after `closeDelayMs`; READ of `failRead` fails. */
function serveSftp(sftp: SFTPWrapper, tree: Tree, opts: { closeDelayMs: number; failRead?: string }): void {
  const handles = new Map<string, { kind: 'file'; rel: string } | { kind: 'dir'; rel: string; done: boolean }>();
  let next = 0;
  const newHandle = (h: { kind: 'file'; rel: string } | { kind: 'dir'; rel: string; done: boolean }) => {
    const id = Buffer.from(String(next++));
    handles.set(id.toString(), h);
    return id;
  };
  const relOf = (p: string) => (p === RUN_DIR ? '' : p.startsWith(`${RUN_DIR}/`) ? p.slice(RUN_DIR.length + 1) : undefined);
  const isDir = (rel: string) => rel === '' || [...tree.keys()].some((k) => k.startsWith(`${rel}/`));
  const attrsOf = (rel: string) =>
    tree.has(rel)
      ? { mode: 0o100644, uid: 0, gid: 0, size: tree.get(rel)!.length, atime: 1_700_000_000, mtime: 1_700_000_000 }
      : { mode: 0o040755, uid: 0, gid: 0, size: 4096, atime: 1_700_000_000, mtime: 1_700_000_000 };
  sftp.on('REALPATH', (id, p) => sftp.name(id, [{ filename: p === '.' ? '/home/u' : p, longname: p, attrs: attrsOf('') }]));
  sftp.on('OPENDIR', (id, p) => {
    const rel = relOf(p);
    if (rel === undefined || !isDir(rel)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    sftp.handle(id, newHandle({ kind: 'dir', rel, done: false }));
  });
  sftp.on('READDIR', (id, handle) => {
    const h = handles.get(handle.toString());
    if (!h || h.kind !== 'dir') return sftp.status(id, STATUS_CODE.FAILURE);
    if (h.done) return sftp.status(id, STATUS_CODE.EOF);
    h.done = true;
    const prefix = h.rel ? `${h.rel}/` : '';
    const children = new Set<string>();
    for (const k of tree.keys()) if (k.startsWith(prefix)) children.add(k.slice(prefix.length).split('/')[0]);
    sftp.name(id, [...children].map((c) => ({ filename: c, longname: c, attrs: attrsOf(prefix + c) })));
  });
  sftp.on('OPEN', (id, p) => {
    const rel = relOf(p);
    if (rel === undefined || !tree.has(rel)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    sftp.handle(id, newHandle({ kind: 'file', rel }));
  });
  sftp.on('READ', (id, handle, offset, length) => {
    const h = handles.get(handle.toString());
    if (!h || h.kind !== 'file') return sftp.status(id, STATUS_CODE.FAILURE);
    if (h.rel === opts.failRead) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    const data = tree.get(h.rel)!;
    if (offset >= data.length) return sftp.status(id, STATUS_CODE.EOF);
    sftp.data(id, data.subarray(offset, offset + length));
  });
  sftp.on('CLOSE', (id, handle) => {
    setTimeout(() => {
      handles.delete(handle.toString());
      try {
        sftp.status(id, STATUS_CODE.OK);
      } catch {
        // the session is gone: nothing to answer
      }
    }, opts.closeDelayMs);
  });
}

describe('Slurm content zipped here over SFTP (in-process ssh2 server)', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: FakeSshServer;
  let tree: Tree;
  let failRead: string | undefined;
  const commands: string[] = [];
  /** How the fake cluster answers the remote zip step: "zip here" (95), or an endless zip stream. */
  let remoteZip: 'zipHere' | 'stream';
  /** The channels of remote zip streams: closed once the client closes them. */
  const zipChannels: { closed: boolean; bytes: number }[] = [];

  before(async () => {
    fake = await startFakeSshServer('muse-content-', (client: Connection) => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          commands.push(info.command);
          const stream = acc();
          if (remoteZip === 'stream' && info.command.includes('zip -q -r')) {
            // A zip bigger than any buffer on the way: it goes on while the client reads it.
            const ch = { closed: false, bytes: 0 };
            zipChannels.push(ch);
            const chunk = Buffer.alloc(64 * 1024, 0x5a);
            const pump = () => {
              while (!ch.closed) {
                ch.bytes += chunk.length;
                if (!stream.write(chunk)) return;
              }
            };
            stream.on('drain', pump);
            stream.on('close', () => (ch.closed = true));
            stream.resume(); // ssh2 says 'close' once the (empty) input is read to its end
            stream.on('error', () => undefined);
            pump();
            return;
          }
          // The remote zip step: "there are non-ASCII names, zip here" (95).
          stream.exit(info.command.includes('zip -q -r') ? 95 : 127);
          stream.end();
        });
        session.on('sftp', (acc) => serveSftp(acc(), tree, { closeDelayMs: 40, failRead }));
      });
    });
    dir = fake.dir;
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    failRead = undefined;
    remoteZip = 'zipHere';
    commands.length = 0;
    zipChannels.length = 0;
    tree = new Map([
      ['né 日本.txt', Buffer.from('nihon\n'.repeat(5000))],
      ['sub/ü.txt', Buffer.from('umlaut\n'.repeat(3000))],
      ['plain.txt', Buffer.from('plain\n')],
      ['__WS__stdout.txt', Buffer.from('3.0\n')],
      ['__WS__stderr.txt', Buffer.alloc(0)],
      ['__MUSE__batch.sh', Buffer.from('#!/bin/bash\necho\n')],
      // The backend's bookkeeping: not part of what users get.
      ['.muse-jobid', Buffer.from('1\n')],
      ['.muse-sbatch/x', Buffer.from('')],
      // The same names deeper down are the user's own files.
      ['sub/.muse-jobid', Buffer.from('mine\n')],
    ]);
  });

  const backend = (): SlurmBackend => fakeSlurmBackend(fake);

  const run: RunRef = { id: 'r1', key: 'k1', software: 'sw', request: normalizeRequest({ software: 'sw', cmd: 'x' }), raw: { jobId: '1' }, location: RUN_DIR };

  /** Collects uncaught exceptions until the server has seen every client leave, and a few turns more. */
  async function strayErrorsAfterClose(): Promise<string[]> {
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.prependListener('uncaughtException', onStray);
    try {
      await until('the connection to be closed', () => fake.clients.size === 0);
      // Requests still in flight fail when the client sees the close: give those callbacks their turn.
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      return stray.map(String);
    } finally {
      process.removeListener('uncaughtException', onStray);
    }
  }

  it('several contents at once, dispose at once: every zip complete, no stray error', async () => {
    const b = backend();
    const dests = [1, 2, 3].map((i) => path.join(dir, `c${i}.zip`));
    await Promise.all(dests.map((d) => b.content(run, d)));
    await b.dispose();
    assert.deepStrictEqual(await strayErrorsAfterClose(), []);
    for (const d of dests) {
      const got = await zipEntries(d);
      const expected = [...tree.keys()].filter((n) => n !== '.muse-jobid' && !n.startsWith('.muse-sbatch/'));
      assert.deepStrictEqual([...got.keys()].sort(), expected.sort());
      for (const name of expected) assert.ok(got.get(name)?.equals(tree.get(name)!), `${name} intact in ${d}`);
    }
  });

  it('a file that cannot be read fails the content with a clear error, writes no zip, leaves no stray error', async () => {
    failRead = 'sub/ü.txt';
    const b = backend();
    const dest = path.join(dir, 'failed.zip');
    await assert.rejects(b.content(run, dest), (e: unknown) => isMuseError(e) && /ü\.txt/.test((e as Error).message) && /Permission denied/.test((e as Error).message));
    await b.dispose();
    assert.deepStrictEqual(await strayErrorsAfterClose(), []);
    assert.throws(() => readFileSync(dest));
    assert.throws(() => readFileSync(`${dest}.part`));
  });

  describe('zip made on the cluster, streamed back, when the local file cannot be written', () => {
    /** Fails `content` into `dest` whose `.part` is a symlink to `target`; checks what is left. */
    async function expectIoFailure(dest: string, target: string, code: RegExp): Promise<void> {
      remoteZip = 'stream';
      symlinkSync(target, `${dest}.part`);
      const b = backend();
      try {
        await assert.rejects(b.content(run, dest), (e: unknown) => isMuseError(e, 'io') && code.test((e as Error).message) && (e as Error).message.includes(`${dest}.part`));
        // A remote zip started (or not, when the file failed first) is closed, not left stalled
        // with a full window.
        assert.ok(zipChannels.length <= 1, 'at most one remote zip');
        await until('the remote zip channel to be closed', () => zipChannels.every((c) => c.closed));
      } finally {
        await b.dispose();
      }
      assert.deepStrictEqual(await strayErrorsAfterClose(), []);
      assert.throws(() => readFileSync(dest), 'no zip written');
      assert.throws(() => lstatSync(`${dest}.part`), 'no .part left');
    }

    it('disk full (writes fail with ENOSPC): an io error, the channel closed, no .part left', async () => {
      await expectIoFailure(path.join(dir, 'full.zip'), '/dev/full', /ENOSPC/);
      assert.ok(zipChannels.length === 1 && zipChannels[0].bytes > 0, 'the zip had started streaming');
    });

    it('the file cannot be created (ENOENT through the link): an io error, the channel closed, no .part left', async () => {
      await expectIoFailure(path.join(dir, 'nodir.zip'), path.join(dir, 'no', 'such', 'folder', 'f'), /ENOENT/);
    });
  });

  it('zipped here, disk full: an io error, no .part left, no stray error', async () => {
    const dest = path.join(dir, 'full-here.zip');
    symlinkSync('/dev/full', `${dest}.part`);
    const b = backend();
    await assert.rejects(b.content(run, dest), (e: unknown) => isMuseError(e, 'io') && /ENOSPC/.test((e as Error).message));
    await b.dispose();
    assert.deepStrictEqual(await strayErrorsAfterClose(), []);
    assert.throws(() => readFileSync(dest));
    assert.throws(() => lstatSync(`${dest}.part`));
  });
});
