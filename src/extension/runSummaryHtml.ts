/**
 * The Run Summary's page: the model drawn as HTML themed with VS Code's CSS variables (so it
 * looks native in light, dark and high contrast), under a strict Content Security Policy (no
 * remote resource; only our own nonce'd style and script). No vscode import.
 */
import type { RunSummaryModel, UsageBar } from './runSummaryModel';
import { htmlEscape, webviewPage } from './webviewPage';

/** What a button of the page asks the extension to do (posted as `{ command }`). */
export type SummaryAction = 'rerunWithChanges' | 'openResults' | 'openOutput';


function table(rows: ReadonlyArray<readonly [string, string]>, cls: string): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${htmlEscape(k)}</th><td>${htmlEscape(v)}</td></tr>`).join('');
  return `<table class="${cls}">${body}</table>`;
}

/** A bar's fill in per cent, 0..100 (a fraction over 1 is drawn full). */
function fillPercent(b: UsageBar): number {
  return Math.max(0, Math.min(100, Math.round((b.fraction ?? 0) * 100)));
}

function bar(b: UsageBar, i: number): string {
  const text = `<span class="figure">${htmlEscape(b.text)}</span>`;
  if (b.fraction === undefined) return `<div class="bar-row"><span class="bar-name">${b.name}</span><span class="bar none"></span>${text}</div>`;
  const pct = fillPercent(b);
  // Used all it asked, or more: the request was the limit that stopped it.
  const level = b.fraction >= 1 ? 'over' : b.fraction >= 0.9 ? 'high' : 'ok';
  return (
    `<div class="bar-row"><span class="bar-name">${b.name}</span>` +
    `<span class="bar" role="meter" aria-label="${b.name}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}">` +
    `<span class="fill ${level}" id="fill-${i}"></span></span>${text}</div>`
  );
}

/** The fills' widths, as rules of the page's own (nonce'd) style: the CSP refuses style attributes. */
function fillRules(bars: readonly UsageBar[]): string {
  return bars.map((b, i) => (b.fraction === undefined ? '' : `#fill-${i} { width: ${fillPercent(b)}%; }`)).join('\n');
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 20px 20px; max-width: 900px; }
h1 { font-size: 1.4em; font-weight: 600; margin: 16px 0 4px; }
h2 { font-size: 1.05em; font-weight: 600; margin: 20px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
.state { color: var(--vscode-descriptionForeground); margin-bottom: 12px; }
.state.failed { color: var(--vscode-errorForeground); }
table { border-collapse: collapse; }
th { text-align: left; font-weight: normal; color: var(--vscode-descriptionForeground); padding: 2px 16px 2px 0; vertical-align: top; white-space: nowrap; }
td { padding: 2px 0; font-family: var(--vscode-editor-font-family); word-break: break-all; }
.bar-row { display: flex; align-items: center; gap: 10px; margin: 6px 0; }
.bar-name { width: 60px; color: var(--vscode-descriptionForeground); }
.bar { position: relative; display: inline-block; width: 220px; height: 10px; border-radius: 2px; background: var(--vscode-input-background); border: 1px solid var(--vscode-contrastBorder, var(--vscode-input-border, transparent)); overflow: hidden; flex: none; }
.bar.none { background: transparent; border-style: dashed; border-color: var(--vscode-descriptionForeground); opacity: 0.5; }
.fill { display: block; height: 100%; background: var(--vscode-progressBar-background); }
.fill.high { background: var(--vscode-charts-yellow, var(--vscode-editorWarning-foreground)); }
.fill.over { background: var(--vscode-charts-red, var(--vscode-errorForeground)); }
.advice { margin: 6px 0; padding: 8px 10px; border-left: 3px solid var(--vscode-editorInfo-foreground, var(--vscode-focusBorder)); background: var(--vscode-textBlockQuote-background); }
.note { color: var(--vscode-descriptionForeground); font-style: italic; }
.tasks { font-family: var(--vscode-editor-font-family); margin: 4px 0; padding-left: 18px; }
.buttons { display: flex; gap: 8px; margin: 16px 0 4px; }
button { font-family: inherit; font-size: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; color: var(--vscode-button-foreground); background: var(--vscode-button-background); cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
`;

const SCRIPT = `
const vscode = acquireVsCodeApi();
// What VS Code keeps to bring the tab back after a reload: the run, nothing else.
vscode.setState({ runId: document.body.dataset.run });
for (const b of document.querySelectorAll('button[data-command]')) {
  b.addEventListener('click', () => vscode.postMessage({ command: b.dataset.command }));
}
`;

/**
 * The whole page. `nonce` must be fresh for each page; `cspSource` is the webview's own
 * source (`webview.cspSource`), allowed for nothing but what the page already holds.
 */
export function runSummaryHtml(m: RunSummaryModel, nonce: string, cspSource: string): string {
  const buttons = [
    `<button data-command="rerunWithChanges" title="Submit this request again, changed">Rerun with Changes...</button>`,
    m.canOpenResults ? `<button class="secondary" data-command="openResults">Open Results</button>` : '',
    m.state !== 'submitting' ? `<button class="secondary" data-command="openOutput">Open Output</button>` : '',
  ].join('');

  const usage: string[] = [];
  if (m.bars.length) usage.push(...m.bars.map((b, i) => bar(b, i)));
  if (m.taskLines.length) usage.push(`<ul class="tasks">${m.taskLines.map((t) => `<li>${htmlEscape(t)}</li>`).join('')}</ul>`);
  if (m.notProvided) usage.push(`<p class="note">${htmlEscape(m.notProvided)}</p>`);
  if (!usage.length) usage.push(`<p class="note">${m.ended ? 'No usage figures were recorded for this run.' : 'The figures come once the run has ended.'}</p>`);

  const advice = m.advice.length
    ? m.advice.map((a) => `<div class="advice" data-option="${htmlEscape(a.option)}">${htmlEscape(a.text)}</div>`).join('')
    : `<p class="note">${m.ended ? 'No advice: the request fitted what the run used, as far as the figures tell.' : 'Advice comes once the run has ended.'}</p>`;

  const timeline = m.timeline.length ? table(m.timeline.map((t) => [t.label, t.text] as const), 'timeline') : '<p class="note">No times known yet.</p>';

  return webviewPage({
    nonce,
    cspSource,
    images: true,
    title: m.title,
    style: `${STYLE}${fillRules(m.bars)}`,
    script: SCRIPT,
    bodyData: { run: m.runId },
    body: `<h1>${htmlEscape(m.title)}</h1>
<div class="state ${m.state}">${htmlEscape(m.stateText)}</div>
<div class="buttons">${buttons}</div>
<section id="asked"><h2>What was asked</h2>${table(m.asked, 'asked')}</section>
<section id="timeline"><h2>Timeline</h2>${timeline}</section>
<section id="usage"><h2>Usage</h2>${usage.join('')}</section>
<section id="exit"><h2>Exit</h2>${table(m.exit, 'exit')}</section>
<section id="advice"><h2>Advice</h2>${advice}</section>`,
  });
}
