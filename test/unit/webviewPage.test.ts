import * as assert from 'assert';
import { sweepResultsHtml } from '../../src/extension/sweepResultsHtml';
import { htmlEscape, webviewPage } from '../../src/extension/webviewPage';

describe('webview pages (one frame: strict CSP, escaped text)', () => {
  it('lets in only the nonce\'d style and script, images only when asked', () => {
    const page = webviewPage({ nonce: 'N0', cspSource: 'vscode-src', title: 'T <b>', style: 'p{}', script: 'go()', bodyData: { run: '"x"' }, body: '<p>hi</p>' });
    assert.match(page, /content="default-src 'none'; style-src vscode-src 'nonce-N0'; script-src 'nonce-N0'"/);
    assert.ok(page.includes('<title>T &lt;b&gt;</title>'));
    assert.ok(page.includes('<body data-run="&quot;x&quot;">'));
    assert.ok(page.includes('<style nonce="N0">p{}</style>') && page.includes('<script nonce="N0">go()</script>'));
    assert.match(webviewPage({ nonce: 'N', cspSource: 's', title: '', style: '', script: '', bodyData: {}, body: '', images: true }), /img-src s"/);
  });

  it('draws the sweep results table with every user text escaped', () => {
    const html = sweepResultsHtml(
      { params: ['a'], valueTitle: 'loss', rows: [{ runId: 'r1', index: 0, params: ['<img src=x onerror=alert(1)>'], state: 'ok', elapsedSeconds: 61, value: '0.5' }] },
      { sweepId: 's"1', title: 'Sweep <add.py>', extract: 'loss=(["0-9.]+)' },
      'N1',
      'src',
    );
    assert.ok(html.includes(htmlEscape('<img src=x onerror=alert(1)>')));
    assert.ok(!html.includes('<img'), 'no markup from the data');
    assert.ok(html.includes('data-sweep="s&quot;1"'));
    assert.ok(html.includes('<h1>Sweep &lt;add.py&gt;</h1>'));
    assert.ok(html.includes('value="loss=([&quot;0-9.]+)"'));
    assert.match(html, /<table id="results">.*<td[^>]*>0\.5<\/td><\/tr>/s);
  });
});
