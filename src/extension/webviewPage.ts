/**
 * The frame of every Muse webview page (Run Summary, sweep results): a strict Content Security
 * Policy that lets in nothing but the page's own nonce'd style and script (no remote resource,
 * no inline attribute), and every text escaped. No vscode import.
 */

/** Escapes text for HTML element content and attribute values. */
export function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface WebviewPage {
  /** Fresh for each page. */
  nonce: string;
  /** The webview's own source (`webview.cspSource`), allowed for nothing but what the page holds. */
  cspSource: string;
  /** Plain text (escaped here). */
  title: string;
  /** The page's CSS and script, trusted (ours). */
  style: string;
  script: string;
  /** `data-*` attributes of the body, values escaped here. */
  bodyData: Record<string, string>;
  /** The body's HTML, already escaped by the caller. */
  body: string;
  /** Allows images from the webview's own source. */
  images?: boolean;
}

/** The whole page around `body`. */
export function webviewPage(p: WebviewPage): string {
  const csp = [`default-src 'none'`, `style-src ${p.cspSource} 'nonce-${p.nonce}'`, `script-src 'nonce-${p.nonce}'`, ...(p.images ? [`img-src ${p.cspSource}`] : [])].join('; ');
  const data = Object.entries(p.bodyData)
    .map(([k, v]) => ` data-${k}="${htmlEscape(v)}"`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${htmlEscape(p.title)}</title>
<style nonce="${p.nonce}">${p.style}</style>
</head>
<body${data}>
${p.body}
<script nonce="${p.nonce}">${p.script}</script>
</body>
</html>`;
}
