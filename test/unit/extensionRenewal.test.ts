// The token budget of a gesture (src/extension/renewal.ts): one renewal, one retry, never a loop.
import * as assert from 'assert';
import { MuseError } from '../../src/core/errors';
import { Renewal } from '../../src/extension/renewal';
import type { TokenKeeper } from '../../src/extension/renewal';

/** A keeper whose token is usable or not, and whose renewals succeed or not, counting them. */
function keeper(o: { usable?: boolean; renews?: boolean }): TokenKeeper & { renewals: boolean[] } {
  const renewals: boolean[] = [];
  return {
    renewals,
    usable: async () => o.usable ?? true,
    renew: async (interactive) => {
      renewals.push(interactive);
      return o.renews ?? true;
    },
    notSignedIn: () => new MuseError('auth', 'Sign in to p first.'),
  };
}

const refused = (): MuseError => new MuseError('auth', 'The Muse API refused your token (sign in again) (HTTP 401): bad signature');

/** An operation that fails with `errors` in turn, then succeeds; counts its calls. */
function op(...errors: Error[]): (() => Promise<string>) & { calls: number } {
  const f = Object.assign(
    async () => {
      const e = errors[f.calls++];
      if (e) throw e;
      return 'done';
    },
    { calls: 0 },
  );
  return f;
}

describe('extension: renewal of a refused token', () => {
  it('runs the operation once when it succeeds, without renewing', async () => {
    const k = keeper({});
    const f = op();
    assert.strictEqual(await new Renewal(k, true).run(f), 'done');
    assert.strictEqual(f.calls, 1);
    assert.deepStrictEqual(k.renewals, []);
  });

  it('renews once after a refusal (asking only in a user gesture), then retries once', async () => {
    for (const interactive of [true, false]) {
      const k = keeper({});
      const f = op(refused());
      let retried = 0;
      assert.strictEqual(await new Renewal(k, interactive).run(f, () => void retried++), 'done');
      assert.strictEqual(f.calls, 2);
      assert.deepStrictEqual(k.renewals, [interactive]);
      assert.strictEqual(retried, 1);
    }
  });

  it('a second refusal is thrown as it is: no second renewal, no loop', async () => {
    const k = keeper({});
    const second = refused();
    const f = op(refused(), second, refused());
    await assert.rejects(new Renewal(k, true).run(f), (e) => e === second);
    assert.strictEqual(f.calls, 2);
    assert.strictEqual(k.renewals.length, 1);
  });

  it('a renewal that fails (dismissed, no password) throws the refusal, without retrying', async () => {
    const k = keeper({ renews: false });
    const first = refused();
    const f = op(first);
    await assert.rejects(new Renewal(k, true).run(f, () => assert.fail('no retry without a new token')), (e) => e === first);
    assert.strictEqual(f.calls, 1);
    assert.strictEqual(k.renewals.length, 1);
  });

  it('other errors are not renewals: a network error is thrown at once', async () => {
    const k = keeper({});
    const f = op(new MuseError('network', 'The request may have reached the server.'));
    await assert.rejects(new Renewal(k, true).run(f), /may have reached/);
    assert.strictEqual(f.calls, 1);
    assert.deepStrictEqual(k.renewals, []);
  });

  it('one budget per gesture: after a renewal before the upload, a refusal is not renewed again', async () => {
    const k = keeper({ usable: false });
    const g = new Renewal(k, true);
    await g.ensureToken();
    const f = op(refused());
    await assert.rejects(g.run(f), /refused your token/);
    assert.strictEqual(k.renewals.length, 1);
    // And an earlier refusal spends it for the later operations of the same gesture.
    const k2 = keeper({});
    const g2 = new Renewal(k2, true);
    assert.strictEqual(await g2.run(op(refused())), 'done');
    await assert.rejects(g2.run(op(refused())), /refused your token/);
    assert.strictEqual(k2.renewals.length, 1);
  });

  it('ensureToken: a usable token is kept; none to be had is a clear sign-in error', async () => {
    const ok = keeper({ usable: true });
    await new Renewal(ok, true).ensureToken();
    assert.deepStrictEqual(ok.renewals, []);
    const none = keeper({ usable: false, renews: false });
    await assert.rejects(new Renewal(none, false).ensureToken(), /Sign in to p first/);
    assert.deepStrictEqual(none.renewals, [false]);
  });

  it('without a keeper (no token involved) only runs the operation', async () => {
    const g = new Renewal(undefined, true);
    await g.ensureToken();
    const auth = new MuseError('auth', 'SSH authentication failed');
    await assert.rejects(g.run(op(auth)), (e) => e === auth);
  });
});
