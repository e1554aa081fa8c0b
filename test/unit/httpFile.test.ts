/**
 * The web API GET's helpers that need no server: `basicAuth` (the GET itself is tested against
 * loopback servers in test/integration/httpFile.test.ts).
 */
import * as assert from 'assert';
import { basicAuth } from '../../src/core/transfer/httpFile';

describe('httpFile: basicAuth (unit)', () => {
  it('basicAuth decodes the percent-encoded user and password of a URL', () => {
    const u = new URL('http://x/');
    u.username = 'al ice';
    u.password = 'p@ss:w/rd é';
    assert.strictEqual(basicAuth(u), `Basic ${Buffer.from('al ice:p@ss:w/rd é').toString('base64')}`);
  });
});
