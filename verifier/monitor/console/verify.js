// Checks in the browser that an entry is in an infratrail log, trusting only the
// log's key and the witnesses' keys: the "verify here" button of the monitor's
// web console. Nothing the monitor says is used: the checkpoint, tiles and entry
// come from the log's tlog-tiles endpoint, and every check is SHA-256 or Ed25519
// in WebCrypto. An ES module with no dependencies and no build step.
//
// Specifications: C2SP signed-note, tlog-checkpoint, tlog-cosignature,
// tlog-tiles, tlog-proof, and RFC 9162 §2.1 for the Merkle tree; where they
// leave a choice, this file makes docs/formats.md's (core/ is the C++ twin).
// Only Ed25519 keys: type 0x01 (logs) and 0x04 (witness cosignatures).
//
// Indices and tree sizes are Numbers, always safe integers (< 2^53); a bigger
// one in a checkpoint or receipt is refused, saying so. Bytes are Uint8Arrays;
// notes and receipts may be strings or their UTF-8 bytes. Whatever hashes or
// verifies is async and rejects with an Error saying what was wrong, except
// the two whole checks, verifyEntryInLog and verifyReceipt, which resolve to
// {verified: false, reason} instead.

const HASH_SIZE = 32;
const TILE_WIDTH = 256; // tile height 8
const MAX_NOTE_BYTES = 1 << 20;
const MAX_SIGNATURES = 100;
const MAX_PROOF_HASHES = 64;
const MAX_RECEIPT_BYTES = MAX_NOTE_BYTES + 64 * 1024;
const ED25519 = 0x01;
const COSIGNATURE = 0x04;
const RECEIPT_HEADER = "c2sp.org/tlog-proof@v1";
// '+' and what Go's unicode.IsSpace calls a space: not allowed in key names.
const NOT_IN_KEY_NAME = /[+\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

const utf8 = new TextEncoder();
const fail = (why) => {
  throw new Error(why);
};
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const checkHash = (h, what) =>
  (h instanceof Uint8Array && h.length === HASH_SIZE) || fail(`${what}: not a ${HASH_SIZE}-byte hash`);
const validKeyName = (name) => name !== "" && !NOT_IN_KEY_NAME.test(name);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

// Looked up on use: a page outside a secure context has no crypto.subtle.
function subtle() {
  return globalThis.crypto?.subtle ?? fail("WebCrypto is not available (the page needs https or localhost)");
}

/** Standard padded base64 of `bytes`. */
export function base64Encode(bytes) {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** Strict base64: standard alphabet, padded, canonical (zero padding bits). Throws naming `what`. */
export function base64Decode(text, what = "base64") {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    fail(`${what}: not padded standard base64`);
  }
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (base64Encode(bytes) !== text) fail(`${what}: not canonical base64 (non-zero padding bits)`);
  return bytes;
}

// Text from a string or UTF-8 bytes, at most `limit` bytes, that round-trips
// exactly: no invalid UTF-8, no lone surrogates.
function decodeText(input, what, limit) {
  const decoder = (fatal) => new TextDecoder("utf-8", { fatal, ignoreBOM: true });
  let text = input;
  let bytes = input;
  if (typeof input === "string") {
    bytes = utf8.encode(input);
    if (decoder(false).decode(bytes) !== input) fail(`${what}: not valid Unicode text`);
  } else if (input instanceof Uint8Array) {
    try {
      text = decoder(true).decode(input);
    } catch {
      fail(`${what}: invalid UTF-8`);
    }
  } else {
    fail(`${what}: want a string or a Uint8Array`);
  }
  if (bytes.length > limit) fail(`${what}: ${bytes.length} bytes > limit ${limit}`);
  return text;
}

// A non-negative safe integer, from a Number or a BigInt.
function toCount(x, what) {
  const n = typeof x === "bigint" && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  if (Number.isSafeInteger(n) && n >= 0) return n;
  fail(`${what}: ${typeof x === "string" ? `"${x}" (a string)` : x} is not an integer in [0, 2^53)`);
}

// ASCII decimal without leading zeros, below 2^53.
function parseDecimal(text, what) {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text)) fail(`${what}: "${text}" is not a decimal without leading zeros`);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : fail(`${what}: ${text} is beyond 2^53-1, which this verifier cannot handle`);
}

async function sha256(...parts) {
  return new Uint8Array(await subtle().digest("SHA-256", concat(...parts)));
}

/** RFC 9162 leaf hash of an entry: SHA-256(0x00 || entry). */
export function leafHash(entryBytes) {
  return sha256(Uint8Array.of(0), entryBytes);
}

const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

// ---- Keys and signed notes (C2SP signed-note, tlog-cosignature) ----

async function computeKeyId(name, type, publicKey) {
  return (await sha256(utf8.encode(name), Uint8Array.of(0x0a, type), publicKey)).subarray(0, 4);
}

/**
 * Parses a verifier key `<name>+<8 hex key ID>+<base64(type || public key)>` of
 * an Ed25519 key, type 0x01 (signed-note) or 0x04 (tlog-cosignature), checking
 * its key ID = SHA-256(name || 0x0A || type || public key)[:4].
 * @returns {Promise<{name: string, keyId: Uint8Array, type: number, publicKey: Uint8Array, vkey: string}>}
 */
export async function parseVerifierKey(vkey) {
  const what = `verifier key "${vkey}"`;
  const m = typeof vkey === "string" ? /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey) : null;
  if (!m) fail(`${what}: want <name>+<key id>+<base64 key>`);
  const [, name, id, b64] = m;
  if (!validKeyName(name)) fail(`${what}: invalid key name`);
  if (!/^[0-9a-fA-F]{8}$/.test(id)) fail(`${what}: key ID is not 8 hex digits`);
  const key = base64Decode(b64, `${what}: key`);
  const type = key[0];
  if (type !== ED25519 && type !== COSIGNATURE) {
    fail(`${what}: signature type ${type === undefined ? "missing" : `0x${hex([type])}`}, not 0x01 or 0x04`);
  }
  const publicKey = key.subarray(1);
  if (publicKey.length !== 32) fail(`${what}: Ed25519 key is not 32 bytes`);
  const keyId = await computeKeyId(name, type, publicKey);
  if (hex(keyId) !== id.toLowerCase()) fail(`${what}: key ID ${id} is not the key's (${hex(keyId)})`);
  return { name, keyId, type, publicKey, vkey };
}

/** The 0x04 (cosignature) key of a witness published as a 0x01 key: key ID recomputed. */
export async function asCosignatureKey(key) {
  if (key.type === COSIGNATURE) return key;
  const keyId = await computeKeyId(key.name, COSIGNATURE, key.publicKey);
  const vkey = `${key.name}+${hex(keyId)}+${base64Encode(concat([COSIGNATURE], key.publicKey))}`;
  return { ...key, keyId, type: COSIGNATURE, vkey };
}

const toKey = async (k) => (typeof k === "string" ? parseVerifierKey(k) : k);

// Verifies one signature (the bytes after the key ID) over a note text;
// returns a cosignature's timestamp, or null.
async function verifySignature(key, text, sig) {
  const id = `${key.name}+${hex(key.keyId)}`;
  let message = utf8.encode(text);
  let time = null;
  if (key.type === COSIGNATURE) {
    if (sig.length !== 8 + 64) fail(`malformed note: cosignature by ${id} is ${sig.length} bytes, want 72`);
    time = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
    if (time >= 2n ** 63n) fail(`malformed note: cosignature by ${id} has a timestamp beyond 2^63-1`);
    message = utf8.encode(`cosignature/v1\ntime ${time}\n${text}`);
    sig = sig.subarray(8);
  } else if (sig.length !== 64) {
    fail(`malformed note: signature by ${id} is ${sig.length} bytes, want 64`);
  }
  let cryptoKey;
  try {
    cryptoKey = await subtle().importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    fail(`key ${id}: WebCrypto cannot use it as an Ed25519 key (${e.name}: ${e.message})`);
  }
  if (!(await subtle().verify({ name: "Ed25519" }, cryptoKey, sig, message))) {
    fail(`signature does not verify: key ${id}`);
  }
  return time === null ? null : Number(time);
}

// Splits a note into its text and signature lines, checking only the format.
function parseNote(input) {
  const msg = decodeText(input, "malformed note", MAX_NOTE_BYTES);
  const bad = (why) => fail(`malformed note: ${why}`);
  const control = msg.search(/[\u0000-\u0009\u000b-\u001f]/);
  if (control >= 0) bad(`control character 0x${hex([msg.charCodeAt(control)])}`);
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) bad("no blank line before the signatures");
  const block = msg.slice(split + 2);
  if (!block) bad("no signatures");
  if (!block.endsWith("\n")) bad("the last signature line does not end in a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) bad(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    const m = /^\u2014 ([^ ]+) (.*)$/.exec(line) ?? bad(`signature line ${i + 1}: want "\u2014 <name> <base64>"`);
    if (!validKeyName(m[1])) bad(`signature line ${i + 1}: invalid key name`);
    let raw;
    try {
      raw = base64Decode(m[2], "signature");
    } catch (e) {
      bad(`signature line ${i + 1}: ${e.message}`);
    }
    if (raw.length < 5) bad(`signature line ${i + 1}: signature too short`);
    return { line, name: m[1], keyId: hex(raw.subarray(0, 4)), sig: raw.subarray(4) };
  });
  return { text: msg.slice(0, split + 1), signatures };
}

// Verifies the signatures of known keys; lists the others as unverified.
async function verifyNote(input, keys) {
  const { text, signatures } = parseNote(input);
  const lines = new Set();
  const verified = [];
  const unverified = [];
  for (const s of signatures) {
    if (lines.has(s.line)) continue; // identical repeats count once
    lines.add(s.line);
    const id = `${s.name}+${s.keyId}`;
    const matches = keys.filter((k) => k.name === s.name && hex(k.keyId) === s.keyId);
    if (matches.length > 1) fail(`ambiguous key ${id}: given twice`);
    if (matches.length === 0) {
      unverified.push({ name: s.name, keyId: s.keyId });
    } else if (verified.some((v) => v.name === s.name && v.keyId === s.keyId)) {
      fail(`malformed note: two different signatures from key ${id}`);
    } else {
      const time = await verifySignature(matches[0], text, s.sig);
      verified.push({ name: s.name, keyId: s.keyId, type: matches[0].type, time });
    }
  }
  return { text, verified, unverified };
}

/**
 * Opens a signed note with `keys` (vkey strings or parseVerifierKey results).
 * Signatures from other keys are listed as unverified, never checked; every
 * signature from a given key must verify, and at least one must be there.
 * `time` is a cosignature's timestamp in seconds (null for type 0x01).
 * @returns {Promise<{text: string, verified: {name, keyId, type, time}[], unverified: {name, keyId}[]}>}
 */
export async function openNote(noteText, keys) {
  const note = await verifyNote(noteText, await Promise.all(keys.map(toKey)));
  return note.verified.length > 0 ? note : fail("no signature by a known key");
}

// ---- Checkpoints (C2SP tlog-checkpoint) ----

function parseCheckpoint(text) {
  const lines = text.slice(0, -1).split("\n"); // a note text ends in a newline
  if (lines.length < 3) fail(`malformed checkpoint: ${lines.length} lines, want at least 3`);
  const [origin, size, root, ...extensions] = lines;
  if (!origin) fail("malformed checkpoint: empty origin line");
  const rootHash = base64Decode(root, "malformed checkpoint: root hash");
  checkHash(rootHash, "malformed checkpoint: root hash");
  if (extensions.includes("")) fail("malformed checkpoint: empty extension line");
  return { origin, size: parseDecimal(size, "malformed checkpoint: tree size"), rootHash, extensions };
}

/**
 * Opens a checkpoint: requires a valid signature by the log's Ed25519 (0x01)
 * key, the origin to be the key's name, a well-formed body, and at least
 * `threshold` witness cosignatures that verify. Witness keys are 0x04 keys, or
 * 0x01 keys taken as their 0x04 key. `cosignatures` lists every signature line
 * not by the log's name: verified, or not checked (key not given).
 * @returns {Promise<{origin: string, size: number, rootHash: Uint8Array, extensions: string[], text: string,
 *   cosignatures: {name: string, keyId: string, time: number|null, verified: boolean}[]}>}
 */
export async function openCheckpoint(noteText, logVkey, witnessVkeys = [], { threshold = 0 } = {}) {
  const logKey = await toKey(logVkey);
  if (logKey.type !== ED25519) fail(`log key ${logKey.name}: not an Ed25519 (type 0x01) key`);
  const witnesses = await Promise.all(witnessVkeys.map(async (w) => asCosignatureKey(await toKey(w))));
  const note = await verifyNote(noteText, [logKey, ...witnesses]);
  const isLog = (s) => s.name === logKey.name && s.keyId === hex(logKey.keyId);
  if (!note.verified.some(isLog)) fail(`no signature by ${logKey.name}`);
  const cosigned = note.verified.filter((s) => !isLog(s));
  if (cosigned.length < threshold) {
    fail(`${cosigned.length} witness cosignatures verify, the policy needs ${threshold}`);
  }
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== logKey.name) fail(`checkpoint origin "${cp.origin}" is not the log key's name`);
  if (cp.size === 0 && !equalBytes(cp.rootHash, await sha256())) fail("checkpoint: size 0 with a non-empty root");
  const cosignatures = [
    ...cosigned.map(({ name, keyId, time }) => ({ name, keyId, time, verified: true })),
    ...note.unverified
      .filter((s) => s.name !== logKey.name) // the log's own signatures of other types
      .map(({ name, keyId }) => ({ name, keyId, time: null, verified: false })),
  ];
  return { ...cp, text: note.text, cosignatures };
}

// ---- Inclusion proofs (RFC 9162 §2.1.3) ----

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): resolves true, or rejects
 * with why (index out of range, wrong proof length, hashes not leading to `root`).
 */
export async function verifyInclusion(index, size, leafHash, proof, root) {
  index = toCount(index, "inclusion: index");
  size = toCount(size, "inclusion: tree size");
  if (index >= size) fail(`inclusion: index ${index} >= tree size ${size}`);
  checkHash(leafHash, "inclusion: leaf hash");
  checkHash(root, "inclusion: root hash");
  proof.forEach((h, i) => checkHash(h, `inclusion: proof hash ${i}`));
  let want = 0; // a hash for each level where the leaf's path has a sibling
  for (let fn = index, sn = size - 1; sn > 0; fn = Math.floor(fn / 2), sn = Math.floor(sn / 2)) {
    if (fn % 2 === 1 || fn < sn) want++;
  }
  if (proof.length !== want) fail(`inclusion: ${proof.length} proof hashes, want ${want} (${index} in ${size})`);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      r = await nodeHash(r, p);
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  if (sn !== 0 || !equalBytes(r, root)) fail("inclusion proof does not lead to the root hash");
  return true;
}

// ---- Tiles (C2SP tlog-tiles) ----

function tileSuffix(n, width) {
  let path = String(toCount(n, "tile index") % 1000).padStart(3, "0");
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) {
    path = `x${String(n % 1000).padStart(3, "0")}/${path}`;
  }
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) fail(`tile width ${width}: not 1 to 256`);
  return width < TILE_WIDTH ? `${path}.p/${width}` : path;
}

/** Path of hash tile `n` at `level`: `tile/<L>/<N>[.p/<W>]`, with N written x001/x234/067. */
export const tilePath = (level, n, width = TILE_WIDTH) => `tile/${level}/${tileSuffix(n, width)}`;

/** Path of entry bundle `n`: `tile/entries/<N>[.p/<W>]`. */
export const entryBundlePath = (n, width = TILE_WIDTH) => `tile/entries/${tileSuffix(n, width)}`;

/** Width of tile `n` at `level` in a tree of `size`: 256 if full, 0 if there is none. */
export function tileWidth(level, n, size) {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  const full = Math.floor(hashes / TILE_WIDTH);
  return n < full ? TILE_WIDTH : n === full ? hashes % TILE_WIDTH : 0;
}

/** Splits an entry bundle into its entries (each a big-endian uint16 length, then the bytes). */
export function parseEntryBundle(bytes) {
  const entries = [];
  for (let off = 0; off < bytes.length; ) {
    if (off + 2 > bytes.length) fail(`entry bundle: truncated length at byte ${off}`);
    const n = (bytes[off] << 8) | bytes[off + 1];
    if (off + 2 + n > bytes.length) fail(`entry bundle: entry ${entries.length} runs past the end`);
    entries.push(bytes.subarray(off + 2, off + 2 + n));
    off += 2 + n;
  }
  return entries;
}

async function fetchOne(fetchBytes, path) {
  const data = await fetchBytes(path);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data instanceof Uint8Array ? data : fail(`${path}: fetchBytes did not return bytes`);
}

// A tile or bundle `width` wide as [bytes, width read]: a partial one is read
// from the full one if it is gone (a static mirror may drop it once the full
// one exists, tlog-tiles "Partial Tiles").
async function fetchWidth(fetchBytes, pathOf, width) {
  try {
    return [await fetchOne(fetchBytes, pathOf(width)), width];
  } catch (e) {
    if (width === TILE_WIDTH) throw e;
    return [await fetchOne(fetchBytes, pathOf(TILE_WIDTH)).catch(() => Promise.reject(e)), TILE_WIDTH];
  }
}

const hashAt = (tile, i) => tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);

async function fetchHashTile(fetchBytes, level, n, width) {
  const [data, read] = await fetchWidth(fetchBytes, (w) => tilePath(level, n, w), width);
  const want = read * HASH_SIZE;
  if (data.length !== want) fail(`${tilePath(level, n, read)}: ${data.length} bytes, want ${want}`);
  return data.subarray(0, width * HASH_SIZE);
}

async function fetchBundle(fetchBytes, n, width) {
  const [data, read] = await fetchWidth(fetchBytes, (w) => entryBundlePath(n, w), width);
  const entries = parseEntryBundle(data);
  if (entries.length !== read) fail(`${entryBundlePath(n, read)}: ${entries.length} entries, want ${read}`);
  return entries.slice(0, width);
}

// The ranges [begin, end) of the nodes whose hashes make up the RFC 9162
// inclusion proof of `index` in [begin, end), from the leaf's sibling up.
function planInclusion(index, begin, end) {
  if (end - begin === 1) return [];
  let k = 1;
  while (k * 2 < end - begin) k *= 2;
  return index < begin + k
    ? [...planInclusion(index, begin, begin + k), [begin + k, end]]
    : [...planInclusion(index, begin + k, end), [begin, begin + k]];
}

/**
 * Computes the inclusion proof of entry `index` in the tree of `size` from the
 * log's hash tiles, reading each tile it needs once (in parallel) through
 * `fetchBytes(path)` → Promise<Uint8Array>, and the entry from its bundle,
 * checked against its leaf hash in the level-0 tile. Nothing is checked
 * against a root here: pass the proof to verifyInclusion.
 * @returns {Promise<{entry: Uint8Array, leafHash: Uint8Array, proof: Uint8Array[]}>}
 */
export async function inclusionFromTiles(fetchBytes, index, size) {
  index = toCount(index, "index");
  size = toCount(size, "tree size");
  if (index >= size) fail(`index ${index} >= tree size ${size}`);
  const tiles = new Map();
  const tile = (level, n) => {
    const key = `${level}/${n}`;
    if (!tiles.has(key)) tiles.set(key, fetchHashTile(fetchBytes, level, n, tileWidth(level, n, size)));
    return tiles.get(key);
  };
  // The node of height h over leaves [j·2^h, (j+1)·2^h): 2^(h mod 8) hashes of
  // a tile at level ⌊h/8⌋, hashed up.
  const perfectHash = async (h, j) => {
    const count = 2 ** (h % 8);
    const data = await tile(Math.floor(h / 8), Math.floor((j * count) / TILE_WIDTH));
    const first = (j * count) % TILE_WIDTH;
    let hashes = Array.from({ length: count }, (_, i) => hashAt(data, first + i));
    while (hashes.length > 1) {
      const lefts = hashes.filter((_, i) => i % 2 === 0);
      hashes = await Promise.all(lefts.map((left, i) => nodeHash(left, hashes[2 * i + 1])));
    }
    return hashes[0];
  };
  // The hash of [begin, end): its perfect subtrees from the left, folded from the right.
  const rangeHash = async (begin, end) => {
    const parts = [];
    for (let h = 52; begin < end; h--) {
      if (2 ** h > end - begin) continue;
      parts.push(perfectHash(h, begin / 2 ** h));
      begin += 2 ** h;
    }
    const hashes = await Promise.all(parts);
    let r = hashes.pop();
    while (hashes.length > 0) r = await nodeHash(hashes.pop(), r);
    return r;
  };
  const n = Math.floor(index / TILE_WIDTH);
  const i = index % TILE_WIDTH;
  const [entries, leafTile, proof] = await Promise.all([
    fetchBundle(fetchBytes, n, tileWidth(0, n, size)),
    tile(0, n),
    Promise.all(planInclusion(index, 0, size).map(([b, e]) => rangeHash(b, e))),
  ]);
  const hash = await leafHash(entries[i]);
  if (!equalBytes(hash, hashAt(leafTile, i))) {
    fail(`entry ${index} does not hash to its leaf hash in ${tilePath(0, n, tileWidth(0, n, size))}`);
  }
  return { entry: entries[i], leafHash: hash, proof };
}

// ---- Receipts (C2SP tlog-proof) ----

/**
 * Parses a tlog-proof receipt strictly: the header, an optional `extra
 * <base64>` (never authenticated), `index <n>` without leading zeros, at most
 * 64 canonical base64 32-byte hashes, a blank line, and a well-formed note,
 * not yet verified. Throws naming the line.
 * @returns {{extra: Uint8Array|null, index: number, proof: Uint8Array[], checkpoint: string}}
 */
export function parseReceipt(text) {
  text = decodeText(text, "tlog-proof", MAX_RECEIPT_BYTES);
  const end = text.indexOf("\n\n");
  const lines = text.slice(0, end < 0 ? text.lastIndexOf("\n") : end).split("\n");
  let at = 0; // the current line, 0-based
  const check = (f) => {
    try {
      return f();
    } catch (e) {
      fail(`tlog-proof line ${at + 1}: ${e.message}`);
    }
  };
  check(() => lines[0] === RECEIPT_HEADER || fail(`want "${RECEIPT_HEADER}"`));
  at++;
  let extra = null;
  if (lines[at]?.startsWith("extra ")) {
    extra = check(() => base64Decode(lines[at].slice(6), "extra"));
    at++;
  }
  const index = check(() => {
    if (lines[at] === undefined) fail("missing index line");
    if (!lines[at].startsWith("index ")) fail('want "index <n>"');
    return parseDecimal(lines[at].slice(6), "index");
  });
  const proof = [];
  for (at++; at < lines.length; at++) {
    const h = check(() => {
      if (proof.length === MAX_PROOF_HASHES) fail(`more than ${MAX_PROOF_HASHES} proof hashes`);
      return base64Decode(lines[at], "inclusion proof hash");
    });
    check(() => checkHash(h, "inclusion proof hash"));
    proof.push(h);
  }
  check(() => end >= 0 || fail("missing blank line before the checkpoint"));
  const checkpoint = text.slice(end + 2);
  check(() => parseNote(checkpoint));
  return { extra, index, proof, checkpoint };
}

/**
 * Verifies a tlog-proof receipt for the entry whose leaf hash is `leafHash`:
 * its checkpoint (openCheckpoint), then its inclusion proof against that root.
 * @returns {Promise<{verified: true, origin: string, size: number, index: number, rootHash: string,
 *   cosignatures: object[], extra: Uint8Array|null} | {verified: false, reason: string}>}
 */
export async function verifyReceipt(text, logVkey, leafHash, witnessVkeys = [], { threshold = 0 } = {}) {
  try {
    const { extra, index, proof, checkpoint } = parseReceipt(text);
    const cp = await openCheckpoint(checkpoint, logVkey, witnessVkeys, { threshold });
    await verifyInclusion(index, cp.size, leafHash, proof, cp.rootHash);
    const { origin, size, cosignatures } = cp;
    return { verified: true, origin, size, index, rootHash: base64Encode(cp.rootHash), cosignatures, extra };
  } catch (e) {
    return { verified: false, reason: e.message };
  }
}

// fetchBytes over HTTP(S) below the log's tlog-tiles prefix.
function httpFetcher(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`, globalThis.location?.href);
  return async (path) => {
    const url = new URL(path, base);
    const cache = path === "checkpoint" ? "no-store" : "default";
    const response = await fetch(url, { cache }).catch((e) => {
      fail(`GET ${url}: ${e.message} (is the log down, or not allowing this page by CORS?)`);
    });
    if (!response.ok) fail(`GET ${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
}

/**
 * "Verify here": fetches the log's checkpoint and opens it with the log key and
 * witness keys (openCheckpoint), computes entry `index`'s inclusion proof from
 * the tiles, and verifies it against the checkpoint's root. Reads the log at
 * `baseUrl` (its tlog-tiles prefix) or through `fetchBytes(path)`.
 * @returns {Promise<{verified: true, origin: string, size: number, index: number, leafHash: string,
 *   rootHash: string, entry: Uint8Array, cosignatures: object[]} | {verified: false, reason: string}>}
 */
export async function verifyEntryInLog(options) {
  const { baseUrl, fetchBytes, index: wanted, logVkey, witnessVkeys = [], threshold = 0 } = options;
  try {
    const index = toCount(wanted, "index");
    const [logKey, witnesses] = await Promise.all([toKey(logVkey), Promise.all(witnessVkeys.map(toKey))]);
    const get = fetchBytes ?? httpFetcher(baseUrl);
    const cp = await openCheckpoint(await fetchOne(get, "checkpoint"), logKey, witnesses, { threshold });
    if (index >= cp.size) fail(`entry ${index} is not in the log's latest checkpoint (tree size ${cp.size})`);
    const { entry, leafHash, proof } = await inclusionFromTiles(get, index, cp.size);
    await verifyInclusion(index, cp.size, leafHash, proof, cp.rootHash);
    const { origin, size, cosignatures } = cp;
    const [leaf, root] = [base64Encode(leafHash), base64Encode(cp.rootHash)];
    return {
      verified: true, origin, size, index, leafHash: leaf, rootHash: root, entry, cosignatures,
      proof: proof.map(base64Encode),
    };
  } catch (e) {
    return { verified: false, reason: e.message };
  }
}
