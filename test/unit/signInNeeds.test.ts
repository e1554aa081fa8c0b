import * as assert from 'assert';
import { MuseError } from '../../src/core/errors';
import { needsSignIn, signInLook } from '../../src/extension/signInNeeds';

describe('Runs tree: a profile whose polls need a sign-in', () => {
  it('only a background call that needed a login that asks marks the profile', () => {
    assert.strictEqual(needsSignIn(new MuseError('auth', 'The cluster asks a code: sign in.', { needsSignIn: true } as never)), true);
    // A refused login, a down network or a plain error are not fixed by signing in here.
    assert.strictEqual(needsSignIn(new MuseError('auth', 'SSH login refused')), false);
    assert.strictEqual(needsSignIn(new MuseError('network', 'down', { needsSignIn: true } as never)), false);
    assert.strictEqual(needsSignIn(new Error('x')), false);
    assert.strictEqual(needsSignIn(undefined), false);
  });

  it('the node says "needs sign-in", with the reason and what to click in its tooltip', () => {
    const look = signInLook('hpc', 'The cluster asks "Verification code:".');
    assert.strictEqual(look.description, 'needs sign-in');
    assert.match(look.tooltip, /Verification code/);
    assert.match(look.tooltip, /"hpc".*Sign In/s);
  });
});
