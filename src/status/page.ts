import { createHash } from 'node:crypto';

/**
 * GET /: one page, no external assets and no framework. Its script reads /status.json every 10 s
 * and builds the tables with textContent only: repository names and error text come from
 * clients and upstreams, and must never become markup.
 */

const STYLE = `
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; --bar: #0969da; --up: #bf8700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { display: flex; align-items: baseline; gap: 12px; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: var(--muted); margin-left: auto; }
main { padding: 16px 24px; display: grid; gap: 16px; max-width: 1280px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px; }
.card, section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.card h2, section h2 { font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; margin: 0 0 6px; }
.big { font-size: 26px; font-weight: 600; white-space: nowrap; }
.big small { font-size: 14px; font-weight: 400; color: var(--muted); }
.sub { color: var(--muted); }
.bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: 8px 0 4px; display: flex; }
.bar span { display: block; height: 100%; background: var(--bar); }
.bar span.up { background: var(--up); }
.legend { display: flex; gap: 0 12px; flex-wrap: wrap; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; background: var(--bar); }
.legend i.up { background: var(--up); }
.tag { color: var(--muted); font-size: 12px; }
#reason { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.err { color: var(--bad); word-break: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.ok { background: var(--ok); } .degraded { background: var(--warn); } .failing, .down { background: var(--bad); }
.level-warn { color: var(--warn); font-weight: 600; } .level-error { color: var(--bad); font-weight: 600; } .level-info { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function bytes(n) {
  if (n == null) return '–';
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}
function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}
function duration(seconds) {
  if (seconds == null) return '';
  return seconds % 3600 === 0 ? (seconds / 3600) + ' h' : seconds % 60 === 0 ? (seconds / 60) + ' min' : seconds + ' s';
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function badge(text, cls) { return el('span', text, 'badge ' + cls); }
function table(id, headers, rows, empty) {
  const t = $(id);
  t.replaceChildren();
  const head = el('tr');
  for (const h of headers) head.append(el('th', h.replace(/^#/, ''), h.startsWith('#') ? 'num' : ''));
  t.append(head);
  if (rows.length === 0) {
    const tr = el('tr'); const td = el('td', empty, 'empty'); td.colSpan = headers.length; tr.append(td); t.append(tr);
  }
  for (const cells of rows) {
    const tr = el('tr');
    cells.forEach((c, i) => {
      const td = c instanceof Node ? el('td') : el('td', c);
      if (c instanceof Node) td.append(c);
      if (headers[i].startsWith('#')) td.className = 'num';
      tr.append(td);
    });
    t.append(tr);
  }
  return t;
}
function bar(id, parts) {
  const b = $(id);
  b.replaceChildren();
  for (const [share, cls] of parts) { const s = el('span', null, cls); s.style.width = (Math.min(1, Math.max(0, share)) * 100).toFixed(1) + '%'; b.append(s); }
}
function sum(o) { return Object.values(o).reduce((a, b) => a + b, 0); }
const CACHED = ['hit', 'stale', 'revalidated', 'coalesced'];

function render(s) {
  $('version').textContent = 'v' + s.version;
  const st = $('state'); st.replaceChildren(badge(s.readiness.status, s.readiness.status));
  const failed = s.readiness.checks.filter((c) => !c.ok).map((c) => c.name);
  $('reason').textContent = failed.length ? 'failing: ' + failed.join(', ') : '';
  $('generated').textContent = 'updated ' + new Date(s.generatedAt).toLocaleTimeString() + ' · up since ' + new Date(s.startedAt).toLocaleString();

  const t = s.traffic;
  const all = sum(t.requests.manifest) + sum(t.requests.blob);
  const cached = CACHED.reduce((n, r) => n + (t.requests.manifest[r] || 0) + (t.requests.blob[r] || 0), 0);
  $('hit-ratio').textContent = t.hitRatio == null ? '–' : (t.hitRatio * 100).toFixed(1) + ' %';
  bar('hit-bar', all === 0 ? [] : [[cached / all, '']]);
  $('hit-detail').textContent = cached + ' of ' + all + ' manifest and blob requests from cache';

  const served = t.servedBytes.cache + t.servedBytes.upstream;
  $('bytes-cache').textContent = bytes(t.servedBytes.cache);
  bar('bytes-bar', served === 0 ? [] : [[t.servedBytes.cache / served, ''], [t.servedBytes.upstream / served, 'up']]);
  $('bytes-served-cache').textContent = bytes(t.servedBytes.cache) + ' from cache';
  $('bytes-served-upstream').textContent = bytes(t.servedBytes.upstream) + ' streamed from upstream';
  $('bytes-detail').textContent = bytes(t.upstreamBytes) + ' fetched upstream';

  const g = s.storage;
  $('storage-used').textContent = bytes(g.usedBytes);
  $('storage-max').textContent = g.maxBytes != null ? ' of ' + bytes(g.maxBytes) + ' (' + (100 * g.usedBytes / g.maxBytes).toFixed(1) + ' %)' : ' no maxSize';
  bar('storage-bar', g.maxBytes ? [[g.usedBytes / g.maxBytes, '']] : []);
  $('storage-detail').textContent = g.objects + ' objects · ' + (g.freeBytes != null ? bytes(g.freeBytes) + ' free of ' + bytes(g.totalBytes) + ' on disk' : 'no disk limit (object store)');
  $('storage-target').textContent = g.target;

  const saved = s.upstreams.reduce((n, u) => n + u.lastHour.pullsSaved, 0);
  const made = s.upstreams.reduce((n, u) => n + u.lastHour.pullsMade, 0);
  $('pulls-saved').textContent = String(saved);
  bar('pulls-bar', saved + made === 0 ? [] : [[saved / (saved + made), ''], [made / (saved + made), 'up']]);
  $('pulls-detail').textContent = 'manifest GETs answered from cache; ' + made + ' sent upstream';
  for (const e of document.querySelectorAll('.window')) e.textContent = 'last ' + t.minutes + ' min';

  table('upstreams', ['Upstream', 'URL', 'Reachable', '#Rate limit left', 'Window', '#Pulls saved', '#Pulls made', '#429s', 'Error'], s.upstreams.map((u) => [
    u.default ? (() => { const n = el('span', u.name); n.append(el('span', ' default', 'tag')); return n; })() : u.name, u.url,
    badge(u.reachable ? 'yes' : 'no', u.reachable ? 'ok' : 'down'),
    u.rateLimit && u.rateLimit.remaining != null ? u.rateLimit.remaining + (u.rateLimit.limit != null ? ' / ' + u.rateLimit.limit : '') : 'not sent',
    u.rateLimit ? duration(u.rateLimit.windowSeconds) : '',
    u.lastHour.pullsSaved, u.lastHour.pullsMade, u.lastHour.rateLimited,
    u.error ? el('span', u.error, 'err') : '',
  ]), 'no upstreams');

  table('checks', ['Check', 'Target', 'State', '#ms', 'Error'], s.readiness.checks.map((c) => [
    c.name, c.target, badge(c.ok ? 'ok' : 'failing', c.ok ? 'ok' : 'failing'), c.ms, c.error ? el('span', c.error, 'err') : '',
  ]), 'no checks');

  const c = s.cache;
  const perUpstream = Object.entries(c.upstreams).filter(([, u]) => u.repositories > 0).map(([name, u]) => name + ': ' + u.repositories + ' (' + bytes(u.bytes) + ')').join(' · ');
  $('cache-summary').textContent = c.error ? 'cannot list: ' + c.error : c.repositories + ' repositories' + (perUpstream ? ' — ' + perUpstream : '') + (c.listed.length < c.repositories ? ' — the ' + c.listed.length + ' most recent shown' : '');
  table('repositories', ['Upstream', 'Repository', 'Tags', '#Manifests', '#Size', '#Last pulled'], c.listed.map((r) => [
    r.upstream, r.name, r.tags.join(', '), r.manifests, bytes(r.bytes), ago(r.lastPulled),
  ]), 'nothing cached yet');

  table('errors', ['#Last seen', '#Count', 'Level', 'What'], s.errors.map((e) => {
    const f = e.fields;
    const what = f.path ? [f.method, f.path, f.status, f.error, f.errorMessage].filter(Boolean).join(' ') : [e.message, f.err || f.error || ''].filter(Boolean).join(': ');
    return [ago(e.lastSeen), e.count, el('span', e.level, 'level-' + e.level), el('code', what)];
  }), 'no errors in the last hour');
  $('problem').textContent = '';
}

async function refresh() {
  try {
    const res = await fetch('status.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('GET status.json: ' + res.status);
    render(await res.json());
    document.body.dataset.loaded = 'true';
  } catch (err) {
    $('problem').textContent = String(err.message || err);
  }
}
refresh();
setInterval(refresh, 10000);
`;

const BODY = `<header><h1>pullthrough</h1><span id="version" class="sub"></span><span id="state"></span><span id="reason"></span><span id="problem" class="err"></span><span id="generated" class="meta"></span></header>
<main>
<div class="cards">
  <div class="card"><h2>Hit ratio · <span class="window"></span></h2><div id="hit-ratio" class="big">–</div><div id="hit-bar" class="bar"></div><div id="hit-detail" class="sub"></div></div>
  <div class="card"><h2>Served from cache · <span class="window"></span></h2><div id="bytes-cache" class="big">–</div><div id="bytes-bar" class="bar"></div>
    <div class="legend"><span><i></i><span id="bytes-served-cache"></span></span><span><i class="up"></i><span id="bytes-served-upstream"></span></span></div><div id="bytes-detail" class="sub"></div></div>
  <div class="card"><h2>Storage</h2><div class="big"><span id="storage-used">–</span><small id="storage-max"></small></div><div id="storage-bar" class="bar"></div><div id="storage-detail" class="sub"></div><div id="storage-target" class="sub"></div></div>
  <div class="card"><h2>Pulls saved · <span class="window"></span></h2><div id="pulls-saved" class="big">–</div><div id="pulls-bar" class="bar"></div><div id="pulls-detail" class="sub"></div></div>
</div>
<section><h2>Upstreams</h2><table id="upstreams"></table></section>
<section><h2>Readiness checks (/readyz)</h2><table id="checks"></table></section>
<section><h2>Cached</h2><div id="cache-summary" class="sub"></div><table id="repositories"></table></section>
<section><h2>Recent errors</h2><table id="errors"></table></section>
</main>`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pullthrough status</title><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

/** Only the page's own inline style and script, and fetches back to this server. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src ${sha256(STYLE)}; script-src ${sha256(SCRIPT)}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
