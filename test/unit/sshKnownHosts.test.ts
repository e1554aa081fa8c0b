import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  appendKnownHost,
  checkKnownHosts,
  checkKnownHostsFiles,
  fingerprintSha256,
  keyTypeOfBlob,
  knownHostsName,
  verifyHostKey,
} from '../../src/core/backends/slurm/knownHosts';
import { isMuseError } from '../../src/core/errors';

/** A real key pair from ssh-keygen: the blob (as a server sends it) and its public line. */
function makeKey(dir: string, name: string): { blob: Buffer; line: string; fp: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const pub = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString().split(/\s+/)[1];
  return { blob: Buffer.from(pub[1], 'base64'), line: `${pub[0]} ${pub[1]}`, fp };
}

describe('known_hosts', () => {
  let dir: string;
  let a: ReturnType<typeof makeKey>;
  let b: ReturnType<typeof makeKey>;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'muse-kh-'));
    a = makeKey(dir, 'a');
    b = makeKey(dir, 'b');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('computes the fingerprint ssh-keygen prints, and the key type', () => {
    assert.strictEqual(fingerprintSha256(a.blob), a.fp);
    assert.strictEqual(keyTypeOfBlob(a.blob), 'ssh-ed25519');
  });

  it('names non-22 ports [host]:port', () => {
    assert.strictEqual(knownHostsName('h', 22), 'h');
    assert.strictEqual(knownHostsName('h', 2222), '[h]:2222');
  });

  it('matches plain entries, lists, wildcards, and refuses negated ones', () => {
    assert.deepStrictEqual(checkKnownHosts(`# c\nother ${b.line}\nfoo,[cluster.example]:2222 ${a.line}\n`, ['[cluster.example]:2222'], a.blob), { status: 'match', line: 3 });
    assert.strictEqual(checkKnownHosts(`*.example ${a.line}\n`, ['login.example'], a.blob).status, 'match');
    assert.strictEqual(checkKnownHosts(`*.example,!login.example ${a.line}\n`, ['login.example'], a.blob).status, 'unknown');
    assert.strictEqual(checkKnownHosts(`cluster ${a.line}\n`, ['[cluster]:2222'], a.blob).status, 'unknown');
    assert.strictEqual(checkKnownHosts('', ['x'], a.blob).status, 'unknown');
  });

  it('matches hashed entries made by ssh-keygen -H', () => {
    const file = path.join(dir, 'hashed');
    writeFileSync(file, `[cluster.example]:2222 ${a.line}\nplain.example ${a.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith('|1|'), 'ssh-keygen hashed the file');
    assert.deepStrictEqual(checkKnownHosts(text, ['[cluster.example]:2222'], a.blob), { status: 'match', line: 1 });
    assert.strictEqual(checkKnownHosts(text, ['plain.example'], a.blob).status, 'match');
    assert.strictEqual(checkKnownHosts(text, ['cluster.example'], a.blob).status, 'unknown');
    const m = checkKnownHosts(text, ['[cluster.example]:2222'], b.blob);
    assert.deepStrictEqual(m, { status: 'mismatch', line: 1, recordedFingerprint: a.fp });
  });

  it('reports a mismatch with the recorded line and fingerprint, and a match wins over a stale line', () => {
    assert.deepStrictEqual(checkKnownHosts(`h ${a.line}\n`, ['h'], b.blob), { status: 'mismatch', line: 1, recordedFingerprint: a.fp });
    assert.strictEqual(checkKnownHosts(`h ${a.line}\nh ${b.line}\n`, ['h'], b.blob).status, 'match');
  });

  it('honours @revoked, and reports a @cert-authority line for the host when no plain key matches', () => {
    assert.deepStrictEqual(checkKnownHosts(`@revoked * ${a.line}\nh ${a.line}\n`, ['h'], a.blob), { status: 'revoked', line: 1 });
    assert.deepStrictEqual(checkKnownHosts(`@cert-authority *.example ${b.line}\n`, ['h.example'], a.blob), { status: 'certAuthority', line: 1 });
    assert.strictEqual(checkKnownHosts(`@cert-authority other ${b.line}\n`, ['h'], a.blob).status, 'unknown');
    assert.strictEqual(checkKnownHosts(`@cert-authority h ${b.line}\nh ${a.line}\n`, ['h'], a.blob).status, 'match', 'a plain key still counts');
  });

  it('appends an accepted key in a form OpenSSH reads, creating the file 0600', async () => {
    const file = path.join(dir, 'sub', 'known_hosts');
    await appendKnownHost(file, '[127.0.0.1]:2222', a.blob);
    assert.strictEqual(statSync(file).mode & 0o777, 0o600);
    assert.strictEqual(checkKnownHosts(readFileSync(file, 'utf8'), ['[127.0.0.1]:2222'], a.blob).status, 'match');
    // ssh-keygen -F finds it: the line is in OpenSSH's format.
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file]).toString();
    assert.match(found, /ssh-ed25519/);
  });

  describe('several files, as OpenSSH reads them', () => {
    /** Writes the files and returns their paths. */
    function files(texts: Record<string, string>): Record<string, string> {
      const sub = mkdtempSync(path.join(dir, 'files-'));
      return Object.fromEntries(Object.entries(texts).map(([n, t]) => {
        const f = path.join(sub, n);
        writeFileSync(f, t);
        return [n, f];
      }));
    }
    const never = async () => assert.fail('must not ask');

    it('finds a key in the second user file or in a global file', async () => {
      const f = files({ user1: `other ${b.line}\n`, user2: `[h]:2222 ${a.line}\n`, global: `g ${b.line}\n` });
      const got = checkKnownHostsFiles([{ file: f.user1, text: `other ${b.line}\n` }, { file: f.user2, text: `[h]:2222 ${a.line}\n` }], ['[h]:2222'], a.blob);
      assert.deepStrictEqual(got, { status: 'match', line: 1, file: f.user2 });
      await verifyHostKey(a.blob, { names: ['[h]:2222'], files: { knownHostsFile: f.user1, userKnownHostsFiles: [f.user1, f.user2] }, askUnknown: never });
      await verifyHostKey(b.blob, { names: ['g'], files: { knownHostsFile: f.user1, userKnownHostsFiles: [f.user1], globalKnownHostsFiles: [f.global] }, askUnknown: never });
    });

    it('refuses a key revoked in any file, even when another file lists it', async () => {
      const f = files({ user: `h ${a.line}\n`, global: `# site\n@revoked * ${a.line}\n` });
      await assert.rejects(
        verifyHostKey(a.blob, { names: ['h'], files: { knownHostsFile: f.user, globalKnownHostsFiles: [f.global] }, askUnknown: never }),
        (e: unknown) => isMuseError(e, 'refused') && e.message.includes('@revoked') && e.message.includes(`${f.global} line 2`),
      );
    });

    it('says that host certificates are not supported when only a @cert-authority line covers the host', async () => {
      const f = files({ user: `# empty\n`, global: `@cert-authority *.example ${b.line}\n` });
      await assert.rejects(
        verifyHostKey(a.blob, { names: ['login.example'], files: { knownHostsFile: f.user, globalKnownHostsFiles: [f.global] }, askUnknown: never }),
        (e: unknown) =>
          isMuseError(e, 'refused') &&
          /@cert-authority/.test(e.message) &&
          /certificates are not supported/.test(e.message) &&
          e.message.includes(`${f.global} line 1`) &&
          e.message.includes(`Add the host's plain key to ${f.user}`) &&
          e.message.includes(a.fp),
      );
    });

    it('passes over a global file it cannot read, and says so for a user file', async () => {
      const f = files({ user: `h ${a.line}\n` });
      const folder = path.dirname(f.user); // a folder: reading it fails (EISDIR), as an unreadable file would
      await verifyHostKey(a.blob, { names: ['h'], files: { knownHostsFile: f.user, globalKnownHostsFiles: [folder] }, askUnknown: never });
      await assert.rejects(
        verifyHostKey(a.blob, { names: ['h'], files: { knownHostsFile: folder }, askUnknown: never }),
        (e: unknown) => isMuseError(e, 'io') && e.message.includes(`Cannot read the known hosts file ${folder}`),
      );
    });

    it('names the file of a changed key in the mismatch message', async () => {
      const f = files({ user1: '', user2: `h ${a.line}\n` });
      await assert.rejects(
        verifyHostKey(b.blob, { names: ['h'], files: { knownHostsFile: f.user1, userKnownHostsFiles: [f.user1, f.user2] }, askUnknown: never }),
        (e: unknown) => isMuseError(e, 'refused') && /HOST KEY MISMATCH/.test(e.message) && e.message.includes(`-f ${f.user2}`),
      );
    });

    it('records an accepted new key in the first user file only; a declined one nowhere', async () => {
      const f = files({ user1: `other ${b.line}\n`, user2: '', global: '' });
      const kh = { knownHostsFile: f.user1, userKnownHostsFiles: [f.user1, f.user2], globalKnownHostsFiles: [f.global] };
      await assert.rejects(verifyHostKey(a.blob, { names: ['[h]:2222'], files: kh, askUnknown: async () => false }), (e: unknown) => isMuseError(e, 'refused') && e.message.includes(f.user2));
      assert.strictEqual(readFileSync(f.user1, 'utf8'), `other ${b.line}\n`);
      let asked: string[] = [];
      await verifyHostKey(a.blob, { names: ['[h]:2222', 'alias'], files: kh, askUnknown: async (type, fp) => ((asked = [type, fp]), true) });
      assert.deepStrictEqual(asked, ['ssh-ed25519', a.fp]);
      assert.strictEqual(readFileSync(f.user1, 'utf8'), `other ${b.line}\n[h]:2222 ${a.line}\n`);
      assert.strictEqual(readFileSync(f.user2, 'utf8'), '');
      assert.strictEqual(readFileSync(f.global, 'utf8'), '');
      await verifyHostKey(a.blob, { names: ['[h]:2222'], files: kh, askUnknown: never });
    });
  });
});
