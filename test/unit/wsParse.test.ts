import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  bodyExcerpt,
  classifyResultBody,
  parseDownloadKey,
  parseErrorBody,
  parseObtainedToken,
  parseRunKey,
  parseSoftwareList,
  parseStateReport,
} from '../../src/core/backends/ws/wsParse';
import { repoRoot } from '../support/repoRoot';

const FIX = path.join(repoRoot(), 'test', 'fixtures', 'ws');
const fixture = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(FIX, name), 'utf8'));

/** Builds a state answer, overriding parts of the report of example A. */
function stateAnswer(o: { cr?: unknown; latestCr?: unknown; latestState?: unknown; jobId?: unknown; process?: unknown; msg?: unknown } = {}): unknown {
  const proc: Record<string, unknown> = { jobname: '114-ws-sw_example', job_id: 2459394, latest_cr: 'ENDED_OK', latest_state: 'COMPLETED' };
  if ('latestCr' in o) proc.latest_cr = o.latestCr;
  if ('latestState' in o) proc.latest_state = o.latestState;
  if ('jobId' in o) proc.job_id = o.jobId;
  return {
    info: { report: { request: {}, rsrc: { identity: 'muse' }, process: 'process' in o ? o.process : proc, name: 'sw_example', cr: 'cr' in o ? o.cr : 'OK' } },
    msg: 'msg' in o ? o.msg : 'End of job.',
  };
}

const EXAMPLES = [
  ['A', '58ae6cea-df31-4059-9466-b817c337985d', '2459394', '114-ws-sw_example'],
  ['B', 'fc3b822f-c62f-40fe-93be-417b1bcc38e9', '2460887', '115-ws-sw_example'],
  ['C', 'f3d078e0-7496-4f02-b9c4-2da924a24955', '2460934', '116-ws-sw_example'],
  ['D', 'd0a61955-bd83-4656-9444-6568af141b7a', '2461147', '117-ws-sw_example'],
  ['E', '0cfb698a-3a86-414f-8d5c-959dc4164f2e', '2461256', '118-ws-sw_example'],
  ['F', 'de8a34be-dd3f-4f4e-9ea7-5ab820a26b00', '2461373', '119-ws-sw_example'],
] as const;

describe('wsParse: the seed page examples', () => {
  for (const [ex, key, jobId, jobName] of EXAMPLES) {
    it(`example ${ex}: the run key comes out of the submit answer, and the state is ok with its raw facts`, () => {
      assert.strictEqual(parseRunKey(fixture(`example${ex}.submit.json`)), key);
      const st = parseStateReport(fixture(`example${ex}.state.json`));
      assert.strictEqual(st.state, 'ok');
      assert.deepStrictEqual(
        { ...st.raw, message: undefined },
        { cr: 'OK', latestCr: 'ENDED_OK', slurmState: 'COMPLETED', jobId, jobName, message: undefined },
      );
      assert.match(st.raw.message ?? '', /End of job/);
      assert.deepStrictEqual(st.report, fixture(`example${ex}.state.json`));
    });
  }

  it('examples A, E and F give their stdout', () => {
    assert.deepStrictEqual(pick(classifyResultBody(fixture('exampleA.results.json'))), { kind: 'stdout', text: '9.0' });
    assert.deepStrictEqual(pick(classifyResultBody(fixture('exampleE.results.json'))), { kind: 'stdout', text: '70.0' });
    assert.deepStrictEqual(pick(classifyResultBody(fixture('exampleF.results.json'))), { kind: 'stdout', text: '70.0' });
  });

  it('example D gives its download key and URL', () => {
    const c = classifyResultBody(fixture('exampleD.results.json'));
    assert.strictEqual(c.kind, 'downloadKey');
    if (c.kind !== 'downloadKey') return;
    assert.strictEqual(c.key, '20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024');
    assert.strictEqual(c.url, 'http://147.100.179.250/api/download/?key=20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024');
  });

  it('reads the software list', () => {
    assert.deepStrictEqual(parseSoftwareList(fixture('softwareList.json')), [
      { name: 'sw_example', description: 'Example software: adds numbers', shortName: 'example', urls: { doc: 'http://example.org/doc' }, keywords: ['example', 'test'] },
      { name: 'bare' },
    ]);
  });

  it('reads an error body with its more and type', () => {
    assert.deepStrictEqual(parseErrorBody(fixture('errorBody.json')), { error: 'No run found for this key', more: ['key=deadbeef'], type: 'NotFound' });
    assert.strictEqual(classifyResultBody(fixture('errorBody.json')).kind, 'error');
  });
});

function pick(c: ReturnType<typeof classifyResultBody>): unknown {
  return c.kind === 'stdout' ? { kind: c.kind, text: c.text } : c;
}

describe('wsParse: state mapping', () => {
  const cases: [Parameters<typeof stateAnswer>[0], string][] = [
    [{ cr: 'WAIT', latestCr: 'IN_PROGRESS', latestState: 'PENDING' }, 'waiting'],
    [{ cr: 'WAIT', latestCr: 'IN_PROGRESS', latestState: 'RUNNING' }, 'waiting'],
    [{ cr: 'OK' }, 'ok'],
    [{ cr: 'ok' }, 'ok'],
    [{ cr: ' OK ' }, 'ok'],
    [{ cr: 'OK', latestCr: 'ENDED_NOK', latestState: 'COMPLETED' }, 'failed'],
    [{ cr: 'OK', latestCr: 'ENDED_OK', latestState: 'FAILED' }, 'failed'],
    [{ cr: 'OK', latestState: 'TIMEOUT' }, 'failed'],
    [{ cr: 'OK', latestState: 'OUT_OF_MEMORY' }, 'failed'],
    [{ cr: 'OK', latestState: 'NODE_FAIL' }, 'failed'],
    [{ cr: 'OK', latestState: 'CANCELLED by 1000' }, 'cancelled'],
    [{ cr: 'NOK', latestCr: 'ENDED_NOK', latestState: 'FAILED' }, 'failed'],
    [{ cr: 'NOK', latestCr: 'ENDED_NOK', latestState: 'CANCELLED' }, 'cancelled'],
    [{ cr: 'NOK', process: undefined }, 'failed'],
    [{ cr: 'MAYBE' }, 'unknown'],
    [{ cr: undefined }, 'unknown'],
    [{ cr: 42 }, 'unknown'],
    [{ cr: 'OK', latestCr: 'SOMETHING_NEW', latestState: 'REQUEUED' }, 'ok'],
  ];
  for (const [o, expected] of cases) {
    it(`${JSON.stringify(o)} -> ${expected}`, () => {
      assert.strictEqual(parseStateReport(stateAnswer(o)).state, expected);
    });
  }

  it('keeps a job id given as a string or a number as the same string', () => {
    assert.strictEqual(parseStateReport(stateAnswer({ jobId: '2459394' })).raw.jobId, '2459394');
    assert.strictEqual(parseStateReport(stateAnswer({ jobId: 2459394 })).raw.jobId, '2459394');
  });

  it('does not crash on answers without a report, and says unknown', () => {
    for (const body of [undefined, null, 'text', 42, [], {}, { info: null }, { info: { report: 'x' } }, { msg: 'hello' }]) {
      const st = parseStateReport(body);
      assert.strictEqual(st.state, 'unknown', JSON.stringify(body));
      assert.ok(st.raw.message, JSON.stringify(body));
    }
  });

  it('ignores a process that is not an object', () => {
    const st = parseStateReport(stateAnswer({ cr: 'WAIT', process: 'queued' }));
    assert.strictEqual(st.state, 'waiting');
    assert.strictEqual(st.raw.jobId, undefined);
  });
});

describe('wsParse: keys and tokens', () => {
  it('takes the key from the url first, else from the message', () => {
    assert.strictEqual(parseRunKey({ url: 'http://h/api/software/muse/state/sw/abc-123/' }), 'abc-123');
    assert.strictEqual(parseRunKey({ url: 'http://h/api/software/muse/state/sw/abc-123' }), 'abc-123');
    assert.strictEqual(parseRunKey({ msg: 'Keep the key value=0cfb698a-3a86-414f-8d5c-959dc4164f2e in order' }), '0cfb698a-3a86-414f-8d5c-959dc4164f2e');
    assert.strictEqual(parseRunKey({ msg: 'see 0cfb698a-3a86-414f-8d5c-959dc4164f2e' }), '0cfb698a-3a86-414f-8d5c-959dc4164f2e');
    assert.strictEqual(parseRunKey({ url: 'http://h/api/elsewhere/', msg: 'nothing here' }), undefined);
    assert.strictEqual(parseRunKey('0cfb698a-3a86-414f-8d5c-959dc4164f2e'), undefined);
  });

  it('takes a download key from the url or the message', () => {
    assert.strictEqual(parseDownloadKey({ url: 'http://h/api/download/?key=K1' }), 'K1');
    assert.strictEqual(parseDownloadKey({ url: 'http://h/api/download?key=K%202' }), 'K 2');
    assert.strictEqual(parseDownloadKey({ msg: 'at http://h/api/download/?key=20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024 ***' }), '20210119_130603_a20ce46e-849e-4674-ab2d-b3927a758024');
    assert.strictEqual(parseDownloadKey({ msg: 'no key' }), undefined);
  });

  it('accepts the token as token, access or jwt', () => {
    assert.strictEqual(parseObtainedToken({ token: 'a.b.c' }), 'a.b.c');
    assert.strictEqual(parseObtainedToken({ access: 'a.b.c', refresh: 'r' }), 'a.b.c');
    assert.strictEqual(parseObtainedToken({ jwt: 'a.b.c' }), 'a.b.c');
    assert.strictEqual(parseObtainedToken({ nothing: 1 }), undefined);
    assert.strictEqual(parseObtainedToken({ token: '' }), undefined);
  });
});

describe('wsParse: odd bodies', () => {
  it('an HTML error page is summed up by its title', () => {
    assert.strictEqual(bodyExcerpt(fs.readFileSync(path.join(FIX, 'htmlError.html'), 'utf8')), 'Server Error (500)');
    assert.strictEqual(bodyExcerpt(''), '(empty body)');
    assert.strictEqual(bodyExcerpt('<p>a</p>\n\n<p>b</p>'), 'a b');
    assert.ok(bodyExcerpt('x'.repeat(1000)).length <= 301);
  });

  it('classifies JSON that is no API answer as other, and error: null as no error', () => {
    assert.strictEqual(classifyResultBody({ hello: 'world' }).kind, 'other');
    assert.strictEqual(classifyResultBody([1, 2]).kind, 'other');
    assert.strictEqual(parseErrorBody({ error: null, info: {} }), undefined);
    assert.deepStrictEqual(parseErrorBody({ error: { code: 3 } }), { error: '{"code":3}' });
    assert.deepStrictEqual(parseErrorBody({ detail: 'Signature has expired.' }), { error: 'Signature has expired.' });
  });

  it('a state-like results answer is a report (not ready or failed), a stdout of null is empty text', () => {
    const c = classifyResultBody(stateAnswer({ cr: 'WAIT' }));
    assert.strictEqual(c.kind, 'report');
    assert.strictEqual(c.kind === 'report' && c.report.state, 'waiting');
    const s = classifyResultBody({ info: { stdout: null } });
    assert.deepStrictEqual(s.kind === 'stdout' && s.text, '');
  });

  it('reads a software list given as a map or with missing fields', () => {
    assert.deepStrictEqual(parseSoftwareList({ sw_a: { sw: { desc: 'A' } } }), [{ name: 'sw_a', description: 'A' }]);
    assert.deepStrictEqual(parseSoftwareList([{ name: 'x', info: { sw: { urls: { a: 1, b: 'u' }, keywords: ['k', 2] } } }, { info: {} }, 7]), [
      { name: 'x', urls: { b: 'u' }, keywords: ['k'] },
    ]);
    assert.strictEqual(parseSoftwareList('nope'), undefined);
  });
});
