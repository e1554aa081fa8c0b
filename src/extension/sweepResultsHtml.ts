/**
 * The sweep results page: the table drawn as HTML themed with VS Code's CSS variables, under a
 * strict Content Security Policy (only our nonce'd style and script), every text escaped. The
 * page sorts by a column on a click (numbers as numbers) and posts the user's gestures:
 * `{ command: 'extract', value }`, `{ command: 'refresh' }`, `{ command: 'saveCsv' }`. No vscode import.
 */
import { formatBytes } from '../core/format';
import { ABSENT } from '../core/sweep/sweepTable';
import type { SweepTable } from '../core/sweep/sweepTable';
import { formatDuration } from '../core/usage/usageText';
import { htmlEscape, webviewPage } from './webviewPage';

/** What the page shows beside the table. */
export interface SweepPageInfo {
  sweepId: string;
  title: string;
  /** The expression in the field (as typed, even when invalid). */
  extract: string;
  /** Why the expression was refused, when it was. */
  extractError?: string;
  /** A line about how the outputs were read ("read at 10:02:03"), or an error. */
  status?: string;
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 20px 20px; }
h1 { font-size: 1.3em; font-weight: 600; margin: 16px 0 8px; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 8px 0 12px; }
label { color: var(--vscode-descriptionForeground); }
input { font-family: var(--vscode-editor-font-family); font-size: inherit; min-width: 260px; padding: 3px 6px; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); border-radius: 2px; }
input:focus { outline: 1px solid var(--vscode-focusBorder); }
input.invalid { border-color: var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground)); }
button { font-family: inherit; font-size: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; color: var(--vscode-button-foreground); background: var(--vscode-button-background); cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
.error { color: var(--vscode-errorForeground); margin: 4px 0; }
.status { color: var(--vscode-descriptionForeground); margin: 4px 0 8px; }
table { border-collapse: collapse; }
th { text-align: left; font-weight: 600; padding: 4px 14px 4px 6px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); cursor: pointer; user-select: none; white-space: nowrap; }
th:hover { background: var(--vscode-list-hoverBackground); }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
td { padding: 3px 14px 3px 6px; font-family: var(--vscode-editor-font-family); white-space: pre; }
tr:nth-child(even) td { background: var(--vscode-list-inactiveSelectionBackground, transparent); }
td.absent { color: var(--vscode-descriptionForeground); }
td.state-failed { color: var(--vscode-errorForeground); }
td.state-cancelled, td.state-unknown { color: var(--vscode-editorWarning-foreground); }
`;

/** Sorting in the page: by the clicked column, numbers (and m:ss times) as numbers, "—" last. */
const SCRIPT = `
const vscode = acquireVsCodeApi();
const body = document.body;
const saved = vscode.getState() || {};
vscode.setState({ sweepId: body.dataset.sweep, sort: saved.sort });
const field = document.getElementById('extract');
const post = (command, value) => vscode.postMessage(value === undefined ? { command } : { command, value });
document.getElementById('apply').addEventListener('click', () => post('extract', field.value));
field.addEventListener('keydown', (e) => { if (e.key === 'Enter') post('extract', field.value); });
document.getElementById('refresh').addEventListener('click', () => post('refresh'));
document.getElementById('save').addEventListener('click', () => post('saveCsv'));
const key = (text) => {
  if (text === '${ABSENT}') return null;
  const t = /^(?:(\\d+)-)?(?:(\\d+):)?(\\d+):(\\d\\d)$/.exec(text);
  if (t) return ((+(t[1] || 0) * 24 + +(t[2] || 0)) * 60 + +t[3]) * 60 + +t[4];
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
};
const sortBy = (col, dir) => {
  const tbody = document.querySelector('tbody');
  const rows = [...tbody.rows];
  rows.sort((a, b) => {
    const x = key(a.cells[col].textContent), y = key(b.cells[col].textContent);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return dir === 'descending' ? -c : c;
  });
  for (const r of rows) tbody.appendChild(r);
  document.querySelectorAll('th').forEach((h, i) => (i === col ? h.setAttribute('aria-sort', dir) : h.removeAttribute('aria-sort')));
  vscode.setState({ sweepId: body.dataset.sweep, sort: { col, dir } });
};
document.querySelectorAll('th').forEach((h, i) => h.addEventListener('click', () => sortBy(i, h.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending')));
if (saved.sort && saved.sort.col < document.querySelectorAll('th').length) sortBy(saved.sort.col, saved.sort.dir);
`;

function cell(text: string, cls = ''): string {
  const c = [text === ABSENT ? 'absent' : '', cls].filter(Boolean).join(' ');
  return `<td${c ? ` class="${c}"` : ''}>${htmlEscape(text)}</td>`;
}

/** The whole page; `nonce` fresh for each page, `cspSource` the webview's own source. */
export function sweepResultsHtml(t: SweepTable, info: SweepPageInfo, nonce: string, cspSource: string): string {
  const head = ['task', ...t.params, 'state', 'elapsed', 'peak memory', t.valueTitle].map((h) => `<th scope="col">${htmlEscape(h)}</th>`).join('');
  const rows = t.rows
    .map((r) => {
      const value = `<td${r.value === ABSENT ? ' class="absent"' : ''}${r.note ? ` title="${htmlEscape(r.note)}"` : ''}>${htmlEscape(r.value)}</td>`;
      return `<tr data-run="${htmlEscape(r.runId)}">${cell(String(r.index))}${r.params.map((p) => cell(p)).join('')}${cell(r.state, `state-${r.state}`)}${cell(r.elapsedSeconds !== undefined ? formatDuration(r.elapsedSeconds) : ABSENT)}${cell(r.peakMemoryBytes !== undefined ? formatBytes(r.peakMemoryBytes) : ABSENT)}${value}</tr>`;
    })
    .join('');
  return webviewPage({
    nonce,
    cspSource,
    title: info.title,
    style: STYLE,
    script: SCRIPT,
    bodyData: { sweep: info.sweepId },
    body: `<h1>${htmlEscape(info.title)}</h1>
<div class="bar">
<label for="extract">Value from stdout (regular expression, first group):</label>
<input id="extract" type="text" spellcheck="false" placeholder="last line when empty, e.g. loss=([0-9.]+)" value="${htmlEscape(info.extract)}"${info.extractError ? ' class="invalid" aria-invalid="true"' : ''}>
<button id="apply">Apply</button>
<button id="refresh" class="secondary">Refresh</button>
<button id="save" class="secondary">Save as CSV...</button>
</div>
${info.extractError ? `<div class="error" role="alert">${htmlEscape(info.extractError)}</div>` : ''}
${info.status ? `<div class="status">${htmlEscape(info.status)}</div>` : ''}
<table id="results"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`,
  });
}
