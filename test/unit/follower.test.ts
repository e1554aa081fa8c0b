import * as assert from 'assert';
import type { Backend, FollowAnswer, FollowRead } from '../../src/core/backend';
import { MuseError } from '../../src/core/errors';
import { Follower } from '../../src/core/follow/follower';
import type { FollowEvent } from '../../src/core/follow/follower';
import type { Run } from '../../src/core/model';
import { until } from '../support/until';

/** A backend whose output files live in memory; counts its follow batches; can drop a batch. */
class MemoryBackend {
  readonly kind = 'ssh' as const;
  files = new Map<string, Buffer>();
  ended = new Set<string>();
  batches: number[] = [];
  dropNext = false;
  async follow(reads: FollowRead[]): Promise<FollowAnswer[]> {
    this.batches.push(reads.length);
    if (this.dropNext) {
      this.dropNext = false;
      throw new MuseError('network', 'The SSH connection dropped.');
    }
    return reads.map((r) => {
      const ended = this.ended.has(r.run.id);
      const data = this.files.get(`${r.run.id}/${r.stream}`);
      if (!data) return { parts: [], offsets: r.offsets, missing: true, ended };
      const had = r.offsets.f ?? 0;
      const from = data.length < had ? 0 : had;
      return { parts: [{ file: 'f', from, data: data.subarray(from), restarted: from < had }], offsets: { f: data.length }, missing: false, ended };
    });
  }
  append(id: string, text: string): void {
    const k = `${id}/stdout`;
    this.files.set(k, Buffer.concat([this.files.get(k) ?? Buffer.alloc(0), Buffer.from(text)]));
  }
}

const run = (id: string): Run =>
  ({ id, key: id, profile: 'p', backend: 'ssh', software: 's', state: 'waiting', raw: {}, createdAt: '', updatedAt: '', location: `/r/${id}`, request: { cmd: '', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] } }) as Run;

describe('core: the follower', () => {
  it('reads every followed stream of one backend in one batch per cycle, each byte once, and stops after the end', async () => {
    const b = new MemoryBackend();
    const f = new Follower({ backendOf: () => b as unknown as Backend });
    const seen = new Map<string, string>();
    const events: FollowEvent[] = [];
    for (const id of ['a', 'b', 'c']) f.add(run(id), 'stdout', (e) => (events.push(e), seen.set(id, (seen.get(id) ?? '') + e.text)));
    await f.cycle();
    assert.ok(events.every((e) => e.missing), 'no file yet is "no output yet"');
    b.append('a', 'line 1\n');
    b.append('b', 'x');
    await f.cycle();
    b.append('a', 'line 2\n');
    b.dropNext = true;
    await f.cycle();
    assert.ok(events.some((e) => e.error), 'the dropped batch is reported');
    b.append('a', 'line 3\n');
    b.ended.add('a');
    await f.cycle();
    assert.strictEqual(seen.get('a'), 'line 1\nline 2\nline 3\n', 'after the drop: no gap, no duplicate');
    assert.strictEqual(f.size, 2, 'the ended run is no longer followed');
    assert.deepStrictEqual(b.batches, [3, 3, 3, 3]);
    f.dispose();
  });

  it('starts again with a marker line when the file shrank', async () => {
    const b = new MemoryBackend();
    const f = new Follower({ backendOf: () => b as unknown as Backend });
    let text = '';
    f.add(run('a'), 'stdout', (e) => (text += e.text));
    b.append('a', 'old old old\n');
    await f.cycle();
    b.files.set('a/stdout', Buffer.from('new\n'));
    await f.cycle();
    assert.match(text, /^old old old\n\[f was truncated or rewritten: shown again from its start\]\nnew\n$/);
    f.dispose();
  });
  it('reads each stream at its own pace: a slow one stays unread while a fast one is read, until asked', async () => {
    const b = new MemoryBackend();
    const f = new Follower({ backendOf: () => b as unknown as Backend });
    const reads = new Map<string, number>();
    const texts = new Map<string, string>();
    const handles = ['fast', 'slow'].map((id) =>
      f.add(run(id), 'stdout', (e) => {
        reads.set(id, (reads.get(id) ?? 0) + 1);
        texts.set(id, (texts.get(id) ?? '') + e.text);
      }),
    );
    b.append('fast', 'f\n');
    b.append('slow', 's1\n');
    f.start((h) => (h.run.id === 'fast' ? 20 : 3_600_000));
    await until('the fast stream read 5 times', () => (reads.get('fast') ?? 0) >= 5);
    assert.strictEqual(reads.get('slow'), 1, 'the slow stream is read once (its first read), not at the fast pace');
    assert.ok(b.batches.slice(1).every((n) => n === 1), `later batches hold the fast stream only: ${b.batches.join(',')}`);
    b.append('slow', 's2\n');
    f.readSoon([handles[1]!]);
    await until('the slow stream read when asked', () => texts.get('slow') === 's1\ns2\n');
    f.dispose();
  });

  it('makes a big read into text a slice at a time, the event loop turning between slices', async () => {
    const b = new MemoryBackend();
    const f = new Follower({ backendOf: () => b as unknown as Backend });
    let text = '';
    f.add(run('a'), 'stdout', (e) => (text += e.text));
    const line = `${'y'.repeat(99)}\n`;
    b.append('a', line.repeat(50_000)); // 5 MB
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    try {
      await f.cycle();
    } finally {
      clearInterval(timer);
    }
    assert.strictEqual(text.length, 5_000_000);
    assert.ok(turns >= 3, `the event loop turned ${turns} times while 5 MB were made into text`);
    f.dispose();
  });
});
