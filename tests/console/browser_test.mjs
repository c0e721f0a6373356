// The console in headless Chromium, driven over the W3C WebDriver protocol
// (ChromeDriver, plain HTTP: no npm packages). Run by run_browser_test.sh,
// which starts the server and the monitor and sets:
//   CONSOLE_URL     the monitor's --http-addr, as http://HOST:PORT
//   RECEIPT         a .tlog-proof receipt of entry XSS_INDEX
//   XSS_INDEX       the entry whose justification is markup
//   SCREENSHOT_DIR  where the pages' screenshots are written
//   WORK_DIR        a scratch directory
import {spawn} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:net';
import {inflateSync} from 'node:zlib';
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';

const {CONSOLE_URL, RECEIPT, XSS_INDEX, SCREENSHOT_DIR, WORK_DIR} = process.env;
const DEADLINE_MS = 60000;

let driver;
let base;
let session;

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function wd(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(j.value)}`);
  return j.value;
}
const s = (path) => `/session/${session}${path}`;

// Polls `check` (async, returns a value or undefined) until it gives a value.
async function until(what, check) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const run = (script, ...args) => wd('POST', s('/execute/sync'), {script, args});

async function open(path) {
  await wd('POST', s('/url'), {url: `${CONSOLE_URL}${path}`});
  await until(`${path} to render`, () => run('return document.body.getAttribute("data-ready") === "1";'));
  const error = await run('const e = document.getElementById("error"); return e ? e.textContent : null;');
  assert.equal(error, null, `${path} shows an error: ${error}`);
}

const text = (css) => run('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', css);
const texts = (css) => run('return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);', css);

async function screenshot(name) {
  const png = Buffer.from(await wd('GET', s('/screenshot')), 'base64');
  writeFileSync(`${SCREENSHOT_DIR}/${name}.png`, png);
  return png;
}

// Decodes an 8-bit RGB(A) non-interlaced PNG (what Chromium writes) into
// {width, height, channels, pixels}.
function decodePng(png) {
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  let pos = 8, width, height, channels;
  const idat = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.subarray(pos + 4, pos + 8).toString();
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = {2: 3, 6: 4}[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'interlace');
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = v & 0xff;
    }
  }
  return {width, height, channels, pixels};
}

// A page is not blank: many colours, and a good share of pixels differ
// from the most common (background) one.
function assertNotBlank(name, png) {
  const {width, height, channels, pixels} = decodePng(png);
  const counts = new Map();
  for (let i = 0; i < width * height; i++) {
    const key = pixels.readUIntBE(i * channels, 3);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const background = Math.max(...counts.values());
  assert.ok(counts.size >= 16, `${name}.png has ${counts.size} colours`);
  assert.ok((width * height - background) / (width * height) > 0.02,
    `${name}.png is ${(100 * background / (width * height)).toFixed(1)}% one colour`);
}

before(async () => {
  const port = await freePort();
  driver = spawn('chromedriver', [`--port=${port}`], {stdio: 'ignore'});
  base = `http://127.0.0.1:${port}`;
  await until('chromedriver', async () => (await wd('GET', '/status')).ready);
  const caps = await wd('POST', '/session', {capabilities: {alwaysMatch: {
    browserName: 'chrome',
    'goog:chromeOptions': {
      binary: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        '--window-size=1280,1000', `--user-data-dir=${WORK_DIR}/chromium-profile`],
    },
  }}});
  session = caps.sessionId;
});

after(async () => {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  if (driver) driver.kill();
});

test('the status page shows the log verified', async () => {
  await open('/');
  assert.equal(await text('#verified-size'), '10,000');
  assert.match(await text('#last-round'), /verified/);
  assertNotBlank('status', await screenshot('status'));
});

test('a search by resource finds that resource\'s events only', async () => {
  await open('/events?resource_id=vm-7');
  const rows = await texts('tr.event td.mono');
  assert.equal(rows.length, 20);  // 10,000 / 500 resources
  for (const r of rows) assert.equal(r, 'aws/vm/vm-7');
  assertNotBlank('events', await screenshot('events'));
});

test('the findings page lists the policy\'s findings', async () => {
  await open('/findings?severity=ALERT');
  const rules = await texts('tr.finding td:nth-child(3)');
  assert.ok(rules.length > 0);
  for (const r of rules) assert.match(r, /^access-needs-ticket/);
  assertNotBlank('findings', await screenshot('findings'));
});

test('an event carrying markup renders it as text and runs nothing', async () => {
  await open(`/events/${XSS_INDEX}`);
  const payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
  assert.equal(await text('td.field-justification'), payload);
  assert.equal(await run('return window.__xss === undefined;'), true);
  assert.equal(await run('return document.querySelectorAll("main img, main script").length;'), 0);
  assertNotBlank('event', await screenshot('event'));
});

test('"Verify here" checks the entry against the log in the browser', async () => {
  await open(`/events/${XSS_INDEX}`);
  await wd('POST', s(`/element/${Object.values(await wd('POST', s('/element'),
    {using: 'css selector', value: '#verify'}))[0]}/click`), {});
  const result = await until('the verification', async () => {
    const t = await text('#verify-result');
    return t && t !== 'verifying…' ? t : undefined;
  });
  assert.match(result, new RegExp(`^verified: entry ${XSS_INDEX} is in console\\.test\\.example at size`));
  assertNotBlank('event-verified', await screenshot('event-verified'));
});

async function dropReceipt(path) {
  const input = Object.values(await wd('POST', s('/element'), {using: 'css selector', value: '#receipt-file'}))[0];
  await run('document.getElementById("receipt-result").textContent = "";');
  await wd('POST', s(`/element/${input}/value`), {text: path});
  return until('the receipt\'s verification', async () => {
    const t = await text('#receipt-result');
    return t && t !== 'verifying…' ? t : undefined;
  });
}

test('a receipt verifies, and the same with one byte of its proof flipped fails', async () => {
  await open('/');
  assert.match(await dropReceipt(RECEIPT), /^verified/);
  // The first proof hash line (after "index N"): one base64 character
  // changed, so one byte of the hash differs.
  const lines = readFileSync(RECEIPT, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('index ')) + 1;
  assert.ok(lines[at].length === 44, 'the receipt has a proof hash');
  lines[at] = (lines[at][0] === 'A' ? 'B' : 'A') + lines[at].slice(1);
  const flipped = `${WORK_DIR}/flipped.tlog-proof`;
  writeFileSync(flipped, lines.join('\n'));
  assert.match(await dropReceipt(flipped), /^failed/);
  assertNotBlank('receipt-failed', await screenshot('receipt-failed'));
});
