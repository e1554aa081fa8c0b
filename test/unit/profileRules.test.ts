import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configPath, loadConfig } from '../../src/core/config';
import { isMuseError } from '../../src/core/errors';
import { readProfiles } from '../../src/extension/profileSettings';

/** Profiles the CLI refused and the extension took before the rules were one. */
const STRICTER: [string, Record<string, unknown>, RegExp][] = [
  ['a name with a space', { name: 'my cluster', kind: 'local' }, /needs a "name" of letters, digits/],
  ['a port out of range', { name: 'hpc', kind: 'ssh', host: 'muse', port: 70000 }, /"port" must be a port number/],
  ['a port given as text', { name: 'hpc', kind: 'ssh', host: 'muse', port: '22' }, /"port" must be a port number/],
  ['a negative timeout', { name: 'w', kind: 'ws', url: 'http://h/api/', timeoutMs: -1 }, /"timeoutMs" must be a positive number/],
  ['a user that is not text', { name: 'hpc', kind: 'ssh', host: 'muse', user: 7 }, /"user" must be a string/],
  ['images that are not paths', { name: 'l', kind: 'local', images: { sw: 1 } }, /"images" must be an object of strings/],
];

describe('core: profile rules, one set for the CLI and the extension', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-rules-'));
    env = { MUSE_CONFIG_DIR: dir, MUSE_DATA_DIR: path.join(dir, 'data') };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [what, profile, msg] of STRICTER) {
    it(`${what}: the CLI refuses the config and the extension skips the entry, with one message`, () => {
      fs.writeFileSync(configPath(env), JSON.stringify({ profiles: [profile] }));
      let cliMessage = '';
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => isMuseError(e, 'usage') && msg.test(e.message) && (cliMessage = e.message) !== '',
      );
      const read = readProfiles([profile]);
      assert.deepStrictEqual(read.profiles.map((p) => p.name), ['local']);
      assert.strictEqual(read.problems.length, 1);
      assert.match(read.problems[0], msg);
      // The same sentence, only where the list lives differs.
      assert.strictEqual(read.problems[0].replace(/^muse\.profiles/, ''), cliMessage.replace(`${configPath(env)}: profiles`, ''));
    });
  }

  it('a name used twice: the first entry stays in the extension, the CLI refuses', () => {
    const list = [{ name: 'a', kind: 'local' }, { name: 'a', kind: 'local', root: '/x' }];
    fs.writeFileSync(configPath(env), JSON.stringify({ profiles: list }));
    assert.throws(() => loadConfig(env), /profiles\[1\] \("a"\): two profiles are named "a"/);
    const read = readProfiles(list);
    assert.deepStrictEqual(read.profiles, [{ name: 'a', kind: 'local' }, { name: 'local', kind: 'local' }]);
    assert.deepStrictEqual(read.problems, ['muse.profiles[1] ("a"): two profiles are named "a".']);
  });
});
