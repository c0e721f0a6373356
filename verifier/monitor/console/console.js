// The auditor's console (docs/console.md). Every value shown came from the
// monitor's JSON API and, before that, often from a log: it is only ever set
// as text (textContent, attributes), never parsed as markup.
import {parseReceipt, verifyEntryInLog, verifyReceipt, inclusionFromTiles, openCheckpoint}
  from './verify.js';

const SEVERITIES = ['CRITICAL', 'ALERT', 'WARNING', 'NOTICE'];
const KINDS = ['PROVISION', 'DEPROVISION', 'ACCESS', 'DEPLOY', 'CONFIG_CHANGE', 'KEY_CREATE',
  'KEY_ROTATE', 'KEY_RECOVERY', 'BREAK_GLASS', 'KEY_DESTROY'];
const REFRESH_MS = 10000;

// el('td', {class: 'x'}, 'text', child, ...): strings become text nodes.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const url = q.toString() ? `${path}?${q}` : path;
  const r = await fetch(url, {cache: 'no-store'});
  const body = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

const app = () => document.getElementById('app');
const params = () => new URLSearchParams(location.search);
const logParam = () => params().get('log') || undefined;
function link(path, extra = {}) {
  const q = new URLSearchParams();
  const log = logParam();
  if (log) q.set('log', log);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== '') q.set(k, v);
  return q.toString() ? `${path}?${q}` : path;
}
function show(...nodes) { app().replaceChildren(...nodes); }
function fail(err) { show(el('p', {class: 'error', id: 'error'}, String(err.message || err))); }
function when(t) { return t ? t.replace('T', ' ').replace(/(\.\d+)?(Z|\+00:00)$/, ' UTC') : '—'; }

// ---- status ----------------------------------------------------------------

function chart(buckets) {
  const NS = 'http://www.w3.org/2000/svg';
  const w = 480, h = 80, bw = w / Math.max(buckets.length, 1);
  const max = Math.max(1, ...buckets.map((b) => SEVERITIES.reduce((s, k) => s + b[k.toLowerCase()], 0)));
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${w} ${h + 2}`);
  svg.setAttribute('width', w);
  svg.setAttribute('height', h + 2);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'findings per hour over the last 24 hours');
  const base = document.createElementNS(NS, 'line');
  for (const [k, v] of Object.entries({x1: 0, y1: h + 1, x2: w, y2: h + 1})) base.setAttribute(k, v);
  svg.append(base);
  buckets.forEach((b, i) => {
    let y = h;
    for (const sev of SEVERITIES) {
      const n = b[sev.toLowerCase()];
      if (!n) continue;
      const bh = Math.max(1, (n / max) * h);
      y -= bh;
      const r = document.createElementNS(NS, 'rect');
      for (const [k, v] of Object.entries({x: i * bw + 1, y, width: bw - 2, height: bh})) r.setAttribute(k, v);
      r.setAttribute('class', sev);
      const title = document.createElementNS(NS, 'title');
      title.textContent = `${when(b.start)}: ${n} ${sev}`;
      r.append(title);
      svg.append(r);
    }
  });
  return svg;
}

function logCard(log) {
  const f = log.findings_last_24h || {};
  const dl = el('dl', {class: 'grid'});
  const add = (k, v, id) => dl.append(el('div', {}, el('dt', {}, k), el('dd', {id}, v)));
  add('Verified size', log.verified_size.toLocaleString('en'), 'verified-size');
  add('Log size', log.log_size.toLocaleString('en'), 'log-size');
  add('Behind by', log.lag.toLocaleString('en'));
  add('Last round', `${when(log.last_round)} — ${log.last_outcome || 'not yet'}`, 'last-round');
  add('Last success', when(log.last_success));
  add('Operational errors', `${log.operational_errors}${log.last_operational ? ` (last: ${log.last_operational})` : ''}`);
  add('Witnesses', log.witness_keys.length
    ? `${log.cosigned_by.length} cosigned (${log.cosigned_by.join(', ') || 'none'}), quorum ${log.witness_threshold} of ${log.witness_keys.length}`
    : 'none configured');
  add('Findings, last 24 h', SEVERITIES.map((s) => `${f[s.toLowerCase()] || 0} ${s}`).join(' · '));
  const card = el('section', {class: 'card log', 'data-log': log.id},
    el('h2', {}, log.origin), el('p', {class: 'muted mono'}, log.log_url), dl);
  if (log.findings_by_hour) card.append(chart(log.findings_by_hour));
  card.append(el('p', {},
    el('a', {href: `/findings?log=${log.id}`}, 'Findings'), ' · ',
    el('a', {href: `/events?log=${log.id}`}, 'Events')));
  if (log.trusted_checkpoint) {
    const details = el('details', {}, el('summary', {}, 'Trusted checkpoint'), el('pre', {}, log.trusted_checkpoint));
    card.append(details);
  }
  return card;
}

async function statusPage() {
  const render = async () => {
    const {logs, now} = await api('/api/v1/logs');
    show(el('h1', {}, 'Status'),
      el('p', {class: 'muted'}, `As of ${when(now)}; refreshes every ${REFRESH_MS / 1000} s.`),
      ...(logs.length ? logs.map(logCard) : [el('p', {}, 'No log verified yet.')]));
  };
  await render();
  setInterval(() => render().catch(fail), REFRESH_MS);
}

// ---- findings and events ---------------------------------------------------

// A GET form over the page's own URL: the filters are in the address bar.
function filterForm(fields) {
  const form = el('form', {class: 'filters', method: 'get'});
  const p = params();
  if (p.get('log')) form.append(el('input', {type: 'hidden', name: 'log', value: p.get('log')}));
  for (const [name, label, options] of fields) {
    let input;
    if (options) {
      input = el('select', {name}, el('option', {value: ''}, 'any'),
        ...options.map((o) => el('option', {value: o}, o)));
      input.value = p.get(name) || '';
    } else {
      input = el('input', {name, type: name === 'from' || name === 'to' ? 'datetime-local' : 'text'});
      input.value = p.get(name) || '';
    }
    form.append(el('label', {}, label, input));
  }
  form.append(el('button', {type: 'submit', id: 'search'}, 'Search'));
  return form;
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows));
}

function moreLink(path, nextBefore) {
  if (nextBefore === null || nextBefore === undefined) return null;
  const q = params();
  q.set('before', nextBefore);
  return el('p', {}, el('a', {href: `${path}?${q}`, id: 'more'}, 'Older…'));
}

async function findingsPage() {
  const p = params();
  const query = Object.fromEntries(['log', 'severity', 'rule', 'kind', 'resource', 'actor', 'from',
    'to', 'before'].map((k) => [k, p.get(k) || undefined]));
  const {findings, next_before} = await api('/api/v1/findings', query);
  const rows = findings.map((f) => el('tr', {class: 'finding'},
    el('td', {}, when(f.time)),
    el('td', {class: `sev sev-${f.severity}`}, f.severity),
    el('td', {}, f.rule, f.requirement ? ` (${f.requirement})` : ''),
    el('td', {}, f.kind), el('td', {class: 'mono'}, f.resource), el('td', {}, f.actor),
    el('td', {}, f.message, ...(f.evidence_files || []).map((name) => [' ',
      el('a', {href: link(`/api/v1/findings/${f.seq}/evidence/${encodeURIComponent(name)}`)}, name)])),
    el('td', {}, f.index === null ? '' : el('a', {href: link(`/events/${f.index}`)}, `#${f.index}`))));
  show(el('h1', {}, 'Findings'),
    filterForm([['severity', 'Severity', SEVERITIES], ['rule', 'Rule'], ['kind', 'Kind', KINDS],
      ['resource', 'Resource'], ['actor', 'Actor'], ['from', 'From (UTC)'], ['to', 'To (UTC)']]),
    findings.length ? table(['Time', 'Severity', 'Rule', 'Kind', 'Resource', 'Actor', 'Message', 'Event'], rows)
      : el('p', {id: 'empty'}, 'No findings match.'),
    moreLink('/findings', next_before));
}

async function eventsPage() {
  const p = params();
  const query = Object.fromEntries(['log', 'provider', 'type', 'resource_id', 'actor', 'kind', 'from',
    'to', 'before'].map((k) => [k, p.get(k) || undefined]));
  const {events, next_before, verified_size} = await api('/api/v1/events', query);
  const rows = events.map((e) => el('tr', {class: 'event'},
    el('td', {}, el('a', {href: link(`/events/${e.index}`)}, `#${e.index}`)),
    el('td', {}, when(e.occurred_at)), el('td', {}, e.kind || '(not an InfraEvent)'),
    el('td', {class: 'mono'}, e.parsed ? `${e.provider}/${e.type}/${e.resource_id}` : ''),
    el('td', {}, e.actor || '')));
  show(el('h1', {}, 'Events'),
    el('p', {class: 'muted'}, `Searching the ${verified_size.toLocaleString('en')} verified entries.`),
    filterForm([['provider', 'Provider'], ['type', 'Type'], ['resource_id', 'Resource id'],
      ['actor', 'Actor'], ['kind', 'Kind', KINDS], ['from', 'From (UTC)'], ['to', 'To (UTC)']]),
    events.length ? table(['Entry', 'Occurred', 'Kind', 'Resource', 'Actor'], rows)
      : el('p', {id: 'empty'}, 'No events match.'),
    moreLink('/events', next_before));
}

// Rows for every field of an event's proto3 JSON, nested names dotted.
function fieldRows(obj, prefix = '') {
  const rows = [];
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (k === 'signatures' && !prefix) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rows.push(...fieldRows(v, name));
    else rows.push(el('tr', {}, el('th', {}, name), el('td', {class: `field field-${name}`}, typeof v === 'string' ? v : JSON.stringify(v))));
  }
  return rows;
}

async function selectedLog() {
  const {logs} = await api('/api/v1/logs');
  const id = logParam();
  const log = id ? logs.find((l) => l.id === id) : logs.length === 1 ? logs[0] : undefined;
  if (!log) throw new Error(id ? `no log with id ${id}` : 'choose a log (?log=ID)');
  return log;
}

async function eventPage(index) {
  const [log, e] = await Promise.all([selectedLog(), api(`/api/v1/events/${index}`, {log: logParam()})]);
  const sigs = (e.event && e.event.signatures) || [];
  const result = el('p', {id: 'verify-result', class: 'result'});
  const proof = el('div', {id: 'proof'});
  const button = el('button', {id: 'verify', type: 'button'}, 'Verify here');
  const unable = cannotVerify(log);
  if (unable) {
    button.disabled = true;
    result.textContent = unable;
  }
  button.addEventListener('click', async () => {
    result.className = 'result';
    result.textContent = 'verifying…';
    const r = await verifyEntryInLog({baseUrl: log.tiles_url, index: Number(index),
      logVkey: log.log_key, witnessVkeys: log.witness_keys, threshold: log.witness_threshold});
    showVerification(result, proof, r, e.leaf_hash);
  });
  show(el('h1', {}, `Entry #${index}`),
    el('section', {class: 'card'}, el('h2', {}, 'Event'),
      e.event ? table(['Field', 'Value'], fieldRows(e.event))
        : el('p', {}, `Not an InfraEvent (${e.entry_bytes} bytes).`)),
    el('section', {class: 'card'}, el('h2', {}, 'Emitter signatures'),
      sigs.length ? table(['Key name', 'Key id', 'Signature'], sigs.map((s) => el('tr', {},
        el('td', {}, s.key_name), el('td', {class: 'mono'}, s.key_id), el('td', {class: 'mono'}, s.signature))))
        : el('p', {class: 'muted'}, 'None.')),
    el('section', {class: 'card'}, el('h2', {}, 'Inclusion proof'),
      el('p', {}, 'Leaf hash ', el('code', {id: 'leaf-hash'}, e.leaf_hash)),
      el('p', {class: 'muted'}, 'Your browser fetches the log\'s checkpoint and tiles itself and checks the log\'s signature and this entry\'s inclusion proof with WebCrypto: nothing here is taken from the monitor but the log key.'),
      button, result, proof));
}

function showVerification(result, proof, r, expectedLeaf) {
  if (r.verified && expectedLeaf && r.leafHash !== expectedLeaf) {
    r = {verified: false, reason: `the log serves leaf ${r.leafHash}, the monitor indexed ${expectedLeaf}`};
  }
  result.className = `result ${r.verified ? 'ok' : 'bad'}`;
  result.textContent = r.verified
    ? `verified: entry ${r.index} is in ${r.origin} at size ${r.size}`
      + (r.cosignatures && r.cosignatures.length ? `, cosigned by ${r.cosignatures.filter((c) => c.verified).map((c) => c.name).join(', ')}` : '')
    : `failed: ${r.reason}`;
  if (proof && r.verified && r.proof) {
    proof.replaceChildren(el('ol', {class: 'mono'}, r.proof.map((h) => el('li', {}, h))));
  }
}

// Why this browser cannot check proofs against `log`, or ''.
function cannotVerify(log) {
  if (!log.tiles_url) return 'This log is followed over gRPC: the browser has no tiles to read.';
  if (!window.isSecureContext || !globalThis.crypto || !crypto.subtle) {
    return 'This browser offers WebCrypto only to https:// and localhost pages: open the console over one of those to verify here.';
  }
  return '';
}

// ---- receipts ----------------------------------------------------------------

async function checkReceipt(text) {
  const result = document.getElementById('receipt-result');
  result.className = 'result';
  result.textContent = 'verifying…';
  try {
    const receipt = parseReceipt(text);
    const log = await selectedLog();
    const unable = cannotVerify(log);
    if (unable) throw new Error(unable);
    const base = log.tiles_url;
    const fetchBytes = async (path) => {
      const r = await fetch(new URL(path, base), {cache: 'no-store'});
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    };
    // The entry's leaf hash, from the log's tiles under its latest checkpoint.
    const latest = await openCheckpoint(await fetchBytes('checkpoint'), log.log_key,
      log.witness_keys, {threshold: log.witness_threshold});
    if (receipt.index >= latest.size) throw new Error(`entry ${receipt.index} is beyond the log's size ${latest.size}`);
    const {leafHash} = await inclusionFromTiles(fetchBytes, receipt.index, latest.size);
    const r = await verifyReceipt(text, log.log_key, leafHash, log.witness_keys,
      {threshold: log.witness_threshold});
    showVerification(result, null, r);
  } catch (err) {
    showVerification(result, null, {verified: false, reason: String(err.message || err)});
  }
}

function receipts() {
  const input = document.getElementById('receipt-file');
  const read = (file) => file && file.text().then(checkReceipt);
  input.addEventListener('change', () => read(input.files[0]));
  document.addEventListener('dragover', (ev) => { ev.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    document.body.classList.remove('dragging');
    read(ev.dataTransfer.files[0]);
  });
}

// ---- routing -----------------------------------------------------------------

function main() {
  const path = location.pathname;
  const m = path.match(/^\/events\/(\d+)$/);
  const nav = path === '/' ? 'nav-status' : path.startsWith('/findings') ? 'nav-findings' : 'nav-events';
  document.getElementById(nav).classList.add('active');
  receipts();
  const page = path === '/' ? statusPage() : path === '/findings' ? findingsPage()
    : path === '/events' ? eventsPage() : m ? eventPage(m[1]) : Promise.reject(new Error('no such page'));
  page.then(() => document.body.setAttribute('data-ready', '1'))
    .catch((err) => { fail(err); document.body.setAttribute('data-ready', '1'); });
}

main();
