import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configPath, loadConfig, readToken, saveConfig, selectProfile, tokenPath, writeToken, deleteToken } from '../../src/core/config';
import { isMuseError } from '../../src/core/errors';

describe('CLI config and tokens', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muse-cfg-'));
    env = { MUSE_CONFIG_DIR: path.join(dir, 'cfg'), MUSE_DATA_DIR: path.join(dir, 'data') };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function writeCfg(v: unknown): void {
    fs.mkdirSync(path.dirname(configPath(env)), { recursive: true });
    fs.writeFileSync(configPath(env), typeof v === 'string' ? v : JSON.stringify(v));
  }

  it('has the local profile, rooted in the data folder, when there is no config', () => {
    const cfg = loadConfig(env);
    assert.deepStrictEqual(cfg.profiles.map((p) => p.name), ['local']);
    const p = selectProfile(cfg, undefined, env);
    assert.strictEqual(p.kind, 'local');
    assert.strictEqual(p.kind === 'local' && p.root, path.join(dir, 'data', 'local-runs'));
  });

  it('reads profiles and the default, and saves them back', () => {
    writeCfg({ profiles: [{ name: 'muse', kind: 'ws', url: 'http://127.0.0.1:8000/api/' }], defaultProfile: 'muse' });
    const cfg = loadConfig(env);
    assert.deepStrictEqual(cfg.profiles.map((p) => p.name), ['muse', 'local']);
    assert.strictEqual(selectProfile(cfg, undefined, env).name, 'muse');
    assert.strictEqual(selectProfile(cfg, 'local', env).name, 'local');
    assert.strictEqual(selectProfile(cfg, undefined, { ...env, MUSE_PROFILE: 'local' }).name, 'local');
    saveConfig({ ...cfg, profiles: [...cfg.profiles, { name: 'hpc', kind: 'ssh', host: 'muse.example' }] }, env);
    assert.deepStrictEqual(loadConfig(env).profiles.map((p) => p.name), ['muse', 'hpc', 'local']);
    assert.strictEqual(fs.statSync(configPath(env)).mode & 0o777, 0o600);
  });

  const bad: [string, unknown, RegExp][] = [
    ['bad JSON', '{"profiles": [', /config\.json is not valid JSON/],
    ['not an object', '[]', /must hold an object/],
    ['profiles not a list', { profiles: {} }, /"profiles" must be a list/],
    ['unknown kind', { profiles: [{ name: 'x', kind: 'ftp' }] }, /profiles\[0\] \("x"\) "kind" must be "ws", "ssh" or "local"/],
    ['ws without url', { profiles: [{ name: 'x', kind: 'ws' }] }, /needs a "url"/],
    ['ssh without host', { profiles: [{ name: 'x', kind: 'ssh' }] }, /needs a "host"/],
    ['bad name', { profiles: [{ name: '../x', kind: 'local' }] }, /needs a "name"/],
    ['duplicate', { profiles: [{ name: 'a', kind: 'local' }, { name: 'a', kind: 'local' }] }, /two profiles are named "a"/],
    ['unknown default', { profiles: [], defaultProfile: 'nope' }, /"defaultProfile" is "nope", but no profile/],
    ['bad returnedType', { profiles: [{ name: 'a', kind: 'local', returnedType: 'pdf' }] }, /"returnedType" must be one of/],
  ];
  for (const [what, content, msg] of bad) {
    it(`names the file and the problem for a malformed config: ${what}`, () => {
      writeCfg(content);
      assert.throws(() => loadConfig(env), (e: unknown) => isMuseError(e, 'usage') && msg.test(e.message) && e.message.includes(configPath(env)));
    });
  }

  it('says which profiles exist when asked for an unknown one', () => {
    assert.throws(() => selectProfile(loadConfig(env), 'nope', env), (e: unknown) => isMuseError(e, 'usage') && /No profile named "nope" \(known: local\)/.test(e.message));
  });

  it('stores tokens 0600 in a 0700 folder, prefers MUSE_JWT, and deletes them', () => {
    assert.strictEqual(readToken('muse', env), undefined);
    const f = writeToken('muse', 'abc.def.ghi', env);
    assert.strictEqual(f, tokenPath('muse', env));
    assert.strictEqual(fs.statSync(f).mode & 0o777, 0o600);
    assert.strictEqual(fs.statSync(path.dirname(f)).mode & 0o777, 0o700);
    assert.strictEqual(readToken('muse', env), 'abc.def.ghi');
    assert.strictEqual(readToken('muse', { ...env, MUSE_JWT: 'from.env' }), 'from.env');
    assert.strictEqual(deleteToken('muse', env), true);
    assert.strictEqual(readToken('muse', env), undefined);
  });

  it('refuses a token file others can read, saying how to fix it', () => {
    const f = writeToken('muse', 'abc.def.ghi', env);
    fs.chmodSync(f, 0o644);
    assert.throws(() => readToken('muse', env), (e: unknown) => isMuseError(e, 'usage') && e.message.includes(`chmod 600 ${f}`) && !e.message.includes('abc.def'));
  });

  it('refuses profile names that would leave the tokens folder', () => {
    assert.throws(() => tokenPath('../evil', env), (e: unknown) => isMuseError(e, 'usage'));
  });
});
