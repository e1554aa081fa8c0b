/**
 * Reading what a local output file gained since an offset: the local runner's side of
 * following output (a file that shrank restarts from 0; a missing one is "no output yet").
 */
import * as fsp from 'fs/promises';
import type { FollowOffsets, FollowPart } from '../../backend';
import { MuseError, errorMessage } from '../../errors';

/**
 * The bytes `file` (named `name` in the offsets) gained since `offsets[name]`: at most
 * `maxBytes` (the last ones, the rest counted as skipped).
 */
export async function readFollowed(file: string, name: string, offsets: FollowOffsets, maxBytes = Number.MAX_SAFE_INTEGER): Promise<{ parts: FollowPart[]; offsets: FollowOffsets; missing: boolean }> {
  const out = { ...offsets };
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { parts: [], offsets: out, missing: true };
    throw new MuseError('io', `Cannot read ${file}: ${errorMessage(e)}`, { cause: e });
  }
  try {
    const { size } = await fh.stat();
    const had = offsets[name] ?? 0;
    const restarted = size < had;
    const start = restarted ? 0 : had;
    const skipped = Math.max(0, size - start - Math.max(1, maxBytes));
    const from = start + skipped;
    const len = size - from;
    out[name] = start;
    if (len <= 0) return { parts: [], offsets: out, missing: false };
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, from + got);
      if (bytesRead <= 0) break;
      got += bytesRead;
    }
    const part: FollowPart = { file: name, from, data: buf.subarray(0, got) };
    if (restarted) part.restarted = true;
    if (skipped) part.skipped = skipped;
    out[name] = from + got;
    return { parts: [part], offsets: out, missing: false };
  } finally {
    await fh.close();
  }
}
