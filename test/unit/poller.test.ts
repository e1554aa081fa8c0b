import * as assert from 'assert';
import type { Run, RunState } from '../../src/core/model';
import { Poller, activeByProfile } from '../../src/core/poller';
import type { PollerClock } from '../../src/core/poller';

/** A clock whose time moves only when the test says so. */
class FakeClock implements PollerClock {
  t = 0;
  private seq = 0;
  timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

let n = 0;
function run(profile: string, state: RunState = 'waiting', extra: Partial<Run> = {}): Run {
  n++;
  return {
    id: `id${n}`, profile, backend: 'local', software: 'sw_example', key: `key${n}`,
    request: { cmd: 'python /add.py 4 5', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state, raw: {}, createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z', ...extra,
  };
}

/** A fake backend world: runs by id; refresh records calls and can be told to change or fail. */
function world(initial: Run[]) {
  const runs = new Map(initial.map((r) => [r.id, r]));
  const calls: { profile: string; ids: string[]; at: number }[] = [];
  let failFor = new Set<string>();
  let pending: (() => void) | undefined;
  let hold = false;
  let nextChange: ((r: Run) => Partial<Run>) | undefined;
  return {
    runs,
    calls,
    list: () => [...runs.values()],
    failProfile(p: string, on = true) {
      failFor = new Set(failFor);
      if (on) failFor.add(p);
      else failFor.delete(p);
    },
    holdNext() {
      hold = true;
    },
    release() {
      pending?.();
      pending = undefined;
    },
    changeNext(f: (r: Run) => Partial<Run>) {
      nextChange = f;
    },
    clock: new FakeClock(),
    async refresh(profile: string, rs: Run[], clockNow: number): Promise<Run[]> {
      calls.push({ profile, ids: rs.map((r) => r.id), at: clockNow });
      if (hold) {
        hold = false;
        await new Promise<void>((r) => (pending = r));
      }
      if (failFor.has(profile)) throw new Error(`server of ${profile} is down`);
      const f = nextChange;
      nextChange = undefined;
      return rs.map((r) => {
        if (!f) return runs.get(r.id)!;
        const u = { ...runs.get(r.id)!, ...f(r) };
        runs.set(r.id, u);
        return u;
      });
    },
  };
}

function makePoller(w: ReturnType<typeof world>, extra: { errors?: string[] } = {}) {
  return new Poller({
    runs: w.list,
    refresh: (p, rs) => w.refresh(p, rs, w.clock.now()),
    clock: w.clock,
    onError: (p, e) => extra.errors?.push(`${p}: ${(e as Error).message}`),
  });
}

describe('poller', () => {
  it('polls each profile once per cycle with all of its active runs in one call', async () => {
    const w = world([run('a'), run('a'), run('b'), run('a', 'ok'), run('c', 'submitting', { key: undefined })]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(0);
    assert.deepStrictEqual(
      w.calls.map((c) => [c.profile, c.ids.length]).sort(),
      [['a', 2], ['b', 1]],
      'ended runs and runs without a key are not asked about',
    );
    p.dispose();
  });

  it('backs off while nothing changes, 5 s growing by 1.5 up to 60 s', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(0);
    await w.clock.advance(400_000);
    const gaps = w.calls.slice(1).map((c, i) => c.at - w.calls[i].at);
    assert.deepStrictEqual(gaps.slice(0, 4), [5_000, 7_500, 11_250, 16_875]);
    assert.ok(gaps.every((g) => g <= 60_000), `gaps ${gaps}`);
    assert.strictEqual(gaps[gaps.length - 1], 60_000);
    p.dispose();
  });

  it('resets to the base interval when a state changes', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(0);
    await w.clock.advance(5_000 + 7_500);
    assert.strictEqual(p.intervalOf('a'), 11_250);
    w.changeNext(() => ({ raw: { slurmState: 'RUNNING' } }));
    await w.clock.advance(11_250);
    assert.strictEqual(p.intervalOf('a'), 5_000);
    p.dispose();
  });

  it('resets the backoff of a profile when a new run appears in it', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(60_000);
    assert.ok(p.intervalOf('a')! > 5_000);
    const before = w.calls.length;
    const r = run('a');
    w.runs.set(r.id, r);
    p.wake();
    assert.strictEqual(p.intervalOf('a'), 5_000);
    await w.clock.advance(5_000);
    assert.ok(w.calls.length > before, 'asked within the base interval');
    assert.ok(w.calls[before].ids.includes(r.id));
    assert.ok(w.calls[before].at <= 65_000);
    p.dispose();
  });

  it('stops when no run is active, and starts again when one is', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    w.changeNext(() => ({ state: 'ok' }));
    await w.clock.advance(0);
    assert.strictEqual(p.running, false, 'no timer left once every run ended');
    assert.strictEqual(w.clock.timers.size, 0);
    await w.clock.advance(600_000);
    assert.strictEqual(w.calls.length, 1);
    const r = run('b');
    w.runs.set(r.id, r);
    p.wake();
    await w.clock.advance(0);
    assert.strictEqual(w.calls.length, 2);
    assert.strictEqual(w.calls[1].profile, 'b');
    p.dispose();
  });

  it('polls less while the window is not focused, and at once on focus when overdue', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(0); // first poll, next gap 5 s
    p.setFocused(false);
    await w.clock.advance(12_000);
    assert.strictEqual(w.calls.length, 1, 'unfocused: 5 s x 3 = 15 s, not yet');
    p.setFocused(true);
    await w.clock.advance(0);
    assert.strictEqual(w.calls.length, 2, 'overdue on focus: polled at once');
    assert.strictEqual(w.calls[1].at, 12_000);
    p.dispose();
  });

  it('never polls one profile twice at once', async () => {
    const w = world([run('a'), run('b')]);
    const p = makePoller(w);
    w.holdNext();
    p.wake();
    await w.clock.advance(0);
    const held = w.calls.find((c) => c.profile === 'a') ? 'a' : 'b';
    await w.clock.advance(120_000);
    // A user's Refresh while the slow poll is in flight: not a second call at once, but one
    // after it (the poll in flight may be a background one that could not ask for a sign-in).
    const refreshed = p.refreshNow();
    await w.clock.advance(0);
    assert.strictEqual(w.calls.filter((c) => c.profile === held).length, 1, 'the slow profile is asked once');
    assert.ok(w.calls.filter((c) => c.profile !== held).length > 3, 'the other profile goes on');
    w.release();
    await refreshed;
    assert.strictEqual(w.calls.filter((c) => c.profile === held).length, 2, "the user's Refresh polls the slow profile again once its call ended");
    await w.clock.advance(0);
    await w.clock.advance(60_000);
    assert.ok(w.calls.filter((c) => c.profile === held).length >= 2, 'polling resumes once the slow call ends');
    p.dispose();
  });

  it('counts errors and backs off the failing profile without stopping the others', async () => {
    const w = world([run('a'), run('b')]);
    const errors: string[] = [];
    const p = makePoller(w, { errors });
    w.failProfile('a');
    p.wake();
    await w.clock.advance(0);
    await w.clock.advance(30_000);
    assert.ok(p.errorsOf('a') >= 2);
    assert.strictEqual(p.errorsOf('b'), 0);
    assert.deepStrictEqual([...new Set(errors)], ['a: server of a is down']);
    const aCalls = w.calls.filter((c) => c.profile === 'a').map((c) => c.at);
    assert.deepStrictEqual(aCalls.slice(0, 3), [0, 10_000, 30_000], 'errors double the interval');
    assert.ok(w.calls.filter((c) => c.profile === 'b').length >= 3);
    w.failProfile('a', false);
    await w.clock.advance(60_000);
    assert.strictEqual(p.errorsOf('a'), 0, 'the count resets once the server answers');
    p.dispose();
  });

  it('refreshNow polls every active profile at once and resolves when done', async () => {
    const w = world([run('a'), run('b')]);
    const p = makePoller(w);
    await p.refreshNow();
    assert.deepStrictEqual(w.calls.map((c) => c.profile).sort(), ['a', 'b']);
    p.dispose();
  });

  it('leaves no timer after dispose', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.wake();
    await w.clock.advance(0);
    p.dispose();
    assert.strictEqual(w.clock.timers.size, 0);
    await w.clock.advance(100_000);
    assert.strictEqual(w.calls.length, 1);
  });

  it('groups only active runs with a key', () => {
    const g = activeByProfile([run('x', 'unknown'), run('x', 'failed'), run('y', 'waiting')]);
    assert.deepStrictEqual([...g.keys()].sort(), ['x', 'y']);
    assert.strictEqual(g.get('x')!.length, 1);
  });

  it('does not poll while disabled (another window holds the poll lease), and polls when enabled again', async () => {
    const w = world([run('a')]);
    const p = makePoller(w);
    p.setEnabled(false);
    p.wake();
    await w.clock.advance(120_000);
    assert.strictEqual(w.calls.length, 0, 'no poll while another window polls');
    assert.strictEqual(p.running, false);
    p.setEnabled(true);
    await w.clock.advance(0);
    assert.strictEqual(w.calls.length, 1, 'polled at once when the lease came');
    await p.refreshNow();
    p.setEnabled(false);
    await p.refreshNow();
    assert.strictEqual(w.calls.length, 3, 'a user Refresh polls even without the lease');
    p.dispose();
  });
});
