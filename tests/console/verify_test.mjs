// Known-answer tests of the web console's verifier
// (verifier/monitor/console/verify.js) against tests/testdata/: RFC 6962
// inclusion proofs and probes, C2SP signed notes and cosignatures, real
// checkpoints, tlog-tiles paths, the tessera testdata log and a sunlight
// mirror's tiles (proofs computed from their tiles and checked against their
// signed checkpoints), and tlog-proof receipts. Every accepted input is also
// shown rejected with one byte flipped, and malformed notes, checkpoints and
// receipts refused for the right reason.
//
//   node --test tests/console/verify_test.mjs
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import fs from "node:fs";
import test from "node:test";

import * as v from "../../verifier/monitor/console/verify.js";

// Node 18 (Debian 12's) has WebCrypto only as an import; Node 19+ and browsers
// have it as a global, which verify.js looks up when it first hashes.
globalThis.crypto ??= webcrypto;

const testdata = new URL("../testdata/", import.meta.url);
const load = (name) => JSON.parse(fs.readFileSync(new URL(name, testdata), "utf8"));
const rfc = load("rfc6962_vectors.json");
const notes = load("signed_note_vectors.json");
const cosigs = load("cosignature_vectors.json");
const real = load("real_checkpoints.json");
const tiles = load("tiles_vectors.json");

const utf8 = new TextEncoder();
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const hex = (b) => Buffer.from(b).toString("hex");
// A copy of `bytes` with the lowest bit of byte `i` flipped.
function flip(bytes, i = bytes.length >> 1) {
  const out = Uint8Array.from(bytes);
  out[i] ^= 1;
  return out;
}
// A note with one byte of its `k`-th signature (after the key ID) flipped.
function flipSignature(note, k = 0) {
  const lines = note.split("\n");
  const sigLines = lines.map((l, i) => (l.startsWith("\u2014 ") ? i : -1)).filter((i) => i >= 0);
  const at = sigLines[k];
  const space = lines[at].indexOf(" ", 2);
  const raw = Buffer.from(lines[at].slice(space + 1), "base64");
  lines[at] = lines[at].slice(0, space + 1) + Buffer.from(flip(raw, raw.length - 10)).toString("base64");
  return lines.join("\n");
}
// The position among the signature lines of the first one by key ID `keyId` (hex).
function signatureBy(note, keyId) {
  const sigs = note.split("\n").filter((l) => l.startsWith("\u2014 "));
  return sigs.findIndex((l) => Buffer.from(l.split(" ")[2], "base64").subarray(0, 4).toString("hex") === keyId);
}
const rejects = (promise, pattern, message) => assert.rejects(promise, pattern, message);

test("RFC 6962 leaf hashes", async () => {
  for (const [i, input] of rfc.leaf_inputs.entries()) {
    assert.equal(hex(await v.leafHash(unhex(input))), rfc.leaf_hashes[i]);
  }
});

test("RFC 6962 published inclusion proofs verify, and not with one byte flipped", async () => {
  for (const p of rfc.inclusion_proofs) {
    const [leaf, root, proof] = [unhex(p.leaf_hash), unhex(p.root), p.proof.map(unhex)];
    assert.equal(await v.verifyInclusion(p.leaf_index, p.tree_size, leaf, proof, root), true);
    await rejects(v.verifyInclusion(p.leaf_index, p.tree_size, flip(leaf), proof, root), /root hash/);
    await rejects(v.verifyInclusion(p.leaf_index, p.tree_size, leaf, proof, flip(root)), /root hash/);
    for (let k = 0; k < proof.length; k++) {
      const bad = proof.map((h, j) => (j === k ? flip(h, 0) : h));
      await rejects(v.verifyInclusion(p.leaf_index, p.tree_size, leaf, bad, root), /root hash/);
    }
    if (p.tree_size > 1) {
      await rejects(v.verifyInclusion(p.leaf_index, p.tree_size, leaf, proof.slice(1), root), /proof hashes, want/);
    }
  }
});

test("every inclusion proof of the 8-leaf tree verifies", async () => {
  for (const p of rfc.all_inclusion_proofs) {
    const leaf = unhex(rfc.leaf_hashes[p.leaf_index]);
    const root = unhex(rfc.root_hashes[p.tree_size]);
    assert.equal(await v.verifyInclusion(p.leaf_index, p.tree_size, leaf, p.proof.map(unhex), root), true);
    await rejects(v.verifyInclusion(p.leaf_index, p.tree_size, leaf, p.proof.map(unhex), flip(root)));
  }
});

test("RFC 6962 inclusion probes: accepted or rejected as the vectors say", async () => {
  for (const p of rfc.inclusion_probes) {
    const run = v.verifyInclusion(p.leaf_index, p.tree_size, unhex(p.leaf_hash), p.proof.map(unhex), unhex(p.root));
    if (p.want_error) await rejects(run, Error, p.desc);
    else assert.equal(await run, true, p.desc);
  }
});

test("verifier keys: key IDs of types 0x01 and 0x04, valid and invalid keys", async () => {
  for (const k of notes.key_id_vectors.filter((k) => k.sig_type === 1 || k.sig_type === 4)) {
    const material = Buffer.concat([Buffer.from([k.sig_type]), Buffer.from(k.public_key_hex, "hex")]);
    const key = await v.parseVerifierKey(`${k.name}+${k.key_id}+${material.toString("base64")}`);
    assert.equal(hex(key.keyId), k.key_id, k.name);
  }
  for (const k of notes.vkey_parse_valid) {
    const key = await v.parseVerifierKey(k.vkey);
    const got = [key.name, hex(key.keyId), key.type, hex(key.publicKey)];
    assert.deepEqual(got, [k.name, k.key_id, k.sig_type, k.public_key_hex]);
  }
  for (const k of notes.vkey_parse_invalid) await rejects(v.parseVerifierKey(k.vkey), Error, k.reason);
  const ecdsa = real.checkpoints.find((c) => c.id === "rekor-798034").verifier_keys[0].vkey;
  await rejects(v.parseVerifierKey(ecdsa), /signature type 0x02/);
});

// Whether every key is of a type verify.js handles (Ed25519, 0x01 or 0x04).
const keyType = (vkey) => Buffer.from(/^[^+]*\+[^+]*\+(.*)$/.exec(vkey)[1], "base64")[0];
const supported = (vkeys) => vkeys.every((k) => keyType(k) === 1 || keyType(k) === 4);

test("signed notes that open: verified and unverified signatures as Go's x/mod says", async () => {
  for (const c of notes.open_valid) {
    const note = await v.openNote(c.note, c.verifier_keys);
    assert.equal(note.text, c.expected_text, c.id);
    const ids = (list) => list.map((s) => `${s.name}+${s.keyId ?? s.key_id}`);
    assert.deepEqual(ids(note.verified), ids(c.expected_verified), c.id);
    assert.deepEqual(ids(note.unverified), ids(c.expected_unverified), c.id);
    assert.deepEqual(await v.openNote(utf8.encode(c.note), c.verifier_keys), note, `${c.id} as bytes`);
    await rejects(v.openNote(flipSignature(c.note), c.verifier_keys), /signature does not verify/, c.id);
    await rejects(v.openNote(c.note.replace("\n", " \n"), c.verifier_keys), /signature does not verify/, c.id);
  }
});

// What x/mod's error for a refused note is called here.
const refusals = [
  [/^malformed note/, /Error: malformed note/],
  [/^note has no verifiable signatures/, /Error: no signature by a known key/],
  // A strict base64 decoder may refuse a corrupted signature as malformed.
  [/^invalid signature for key/, /Error: (signature does not verify|malformed note)/],
  [/^ambiguous key/, /Error: ambiguous key/],
];

test("signed notes that must not open, refused for x/mod's reason", async () => {
  for (const c of notes.open_invalid.filter((c) => supported(c.verifier_keys))) {
    const g = c.note_generator;
    const note = c.note_hex ? unhex(c.note_hex) : (c.note ?? g.prefix + g.repeat_line.repeat(g.count));
    const [, want] = refusals.find(([go]) => go.test(c.expected_error_go));
    await rejects(v.openNote(note, c.verifier_keys), want, c.id);
  }
  const peter = notes.open_valid[0];
  const bell = peter.note.replace("cryptography", "crypto\u0007graphy");
  await rejects(v.openNote(bell, peter.verifier_keys), /control character 0x07/);
  await rejects(v.openNote(peter.note.replace("=\n", "\n"), peter.verifier_keys), /base64/);
  await rejects(v.openNote(`\ud800${peter.note}`, peter.verifier_keys), /not valid Unicode/);
});

// Signs `text` as a note with a signer key PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>.
async function sign(skey, text) {
  const [, name, id, b64] = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(.*)$/.exec(skey);
  const seed = Buffer.from(b64, "base64").subarray(1);
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, utf8.encode(text)));
  return `${text}\n\u2014 ${name} ${Buffer.concat([unhex(id), sig]).toString("base64")}\n`;
}

test("signed notes and checkpoints are parsed strictly", async () => {
  const t = tiles.tessera_testdata_log;
  const root = t.checkpoints[5].note.split("\n")[2];
  const body = `${t.origin}\n5\n${root}\n`;
  const open = async (text) => v.openCheckpoint(await sign(t.signer_key, text), t.verifier_key);
  assert.deepEqual((await open(`${body}ext\n`)).extensions, ["ext"]);
  const refused = [
    [`${body}\n`, /empty extension line/],
    [`${t.origin}\n05\n${root}\n`, /"05" is not a decimal/],
    [`${t.origin}\n9007199254740993\n${root}\n`, /beyond 2\^53-1/],
    [`${t.origin}\n5\n${v.base64Encode(new Uint8Array(31))}\n`, /root hash: not a 32-byte hash/],
    [`${t.origin}\n0\n${root}\n`, /size 0 with a non-empty root/],
    [`other.example/log\n5\n${root}\n`, /origin "other.example\/log" is not the log key's name/],
    [`${t.origin}\n5\n`, /2 lines, want at least 3/],
  ];
  for (const [text, pattern] of refused) await rejects(open(text), pattern, text);
  await rejects(v.openCheckpoint(`${body}\n\u2014 ${"x".repeat(1 << 20)}\n`, t.verifier_key), /bytes > limit 1048576/);

  const note = await sign(t.signer_key, body);
  const sigLine = note.slice(body.length + 1);
  const unknown = sigLine.replace(t.origin, "witness.example");
  const others = (n) => Array.from({ length: n }, (_, i) => unknown.replace("witness", `w${i}`)).join("");
  assert.equal((await v.openNote(note + others(15), [t.verifier_key])).unverified.length, 15);
  assert.equal((await v.openNote(note + others(99), [t.verifier_key])).unverified.length, 99);
  await rejects(v.openNote(note + others(100), [t.verifier_key]), /more than 100 signatures/);
  await rejects(v.openNote(note.replace(`\u2014 ${t.origin}`, "\u2014 a+b"), [t.verifier_key]), /invalid key name/);
  await rejects(v.openNote(`${note}\u2014 short AAAAAA==\n`, [t.verifier_key]), /signature too short/);
  await rejects(v.openNote(flipSignature(note + sigLine, 1), [t.verifier_key]), /two different signatures from key/);
  await rejects(v.openNote(note.replace("\n\n", "\n"), [t.verifier_key]), /blank line|want "\u2014/);
  await rejects(v.openNote(note.slice(0, -1), [t.verifier_key]), /does not end in a newline/);
});

test("real checkpoints: opened when the origin is the key's name, refused otherwise", async () => {
  for (const c of real.checkpoints.filter((c) => c.verifier_keys[0].vkey_sig_type === 1)) {
    const key = c.verifier_keys[0];
    if (c.origin === key.name) {
      const cp = await v.openCheckpoint(c.note, key.vkey);
      assert.deepEqual([cp.origin, cp.size, hex(cp.rootHash)], [c.origin, c.tree_size, c.root_hash_hex], c.id);
      // Not cosignatures: the log's own signatures of other types (arche's RFC 6962 one).
      assert.ok(cp.cosignatures.every((s) => s.name !== c.origin && !s.verified), c.id);
      const bad = flipSignature(c.note, signatureBy(c.note, key.key_id));
      await rejects(v.openCheckpoint(bad, key.vkey), /signature does not verify/, c.id);
    } else {
      await rejects(v.openCheckpoint(c.note, key.vkey), /origin/, c.id);
      assert.equal((await v.openNote(c.note, [key.vkey])).verified.length, 1, c.id);
    }
  }
});

test("a checkpoint with a witness cosignature: verified, counted, and refused when tampered", async () => {
  const c = real.checkpoints.find((c) => c.id === "rekor2-139911860");
  const logKey = c.verifier_keys[0].vkey;
  const witness = cosigs.cosignatures.find((x) => x.id === "rekor2-139911860-witness.stagemole.eu");
  const cp = await v.openCheckpoint(c.note, logKey, [witness.cosigner_vkey], { threshold: 1 });
  const { cosigner_name: name, cosignature_key_id: keyId, timestamp: time } = witness;
  assert.deepEqual(cp.cosignatures, [{ name, keyId, time, verified: true }]);
  assert.deepEqual((await v.openCheckpoint(c.note, logKey)).cosignatures.map((s) => s.verified), [false]);
  const twoNeeded = v.openCheckpoint(c.note, logKey, [witness.cosigner_vkey], { threshold: 2 });
  await rejects(twoNeeded, /1 witness cosignatures verify, the policy needs 2/);
  await rejects(v.openCheckpoint(c.note, logKey, [], { threshold: 1 }), /policy needs 1/);
  const badCosignature = flipSignature(c.note, 1);
  await rejects(v.openCheckpoint(badCosignature, logKey, [witness.cosigner_vkey]), /signature does not verify/);
  await rejects(v.openCheckpoint(c.note, witness.cosigner_vkey), /not an Ed25519 \(type 0x01\) key/);
  const other = real.checkpoints.find((c) => c.id === "rekor2-412115");
  await rejects(v.openCheckpoint(c.note, other.verifier_keys[0].vkey.replace("log2025-1", "log2025-2")), /key ID/);
});

test("tlog-cosignature vectors: key IDs, timestamps, and negatives", async () => {
  for (const c of cosigs.cosignatures) {
    const key = await v.asCosignatureKey(await v.parseVerifierKey(c.cosigner_vkey));
    assert.equal(hex(key.keyId), c.cosignature_key_id, c.id);
    const note = await v.openNote(c.note, [key]);
    assert.deepEqual(note.verified.map((s) => [s.name, s.time]), [[c.cosigner_name, c.timestamp]], c.id);
    const k = c.note.split("\n").filter((l) => l.startsWith("\u2014 ")).indexOf(c.signature_line);
    await rejects(v.openNote(flipSignature(c.note, k), [key]), /signature does not verify/, c.id);
  }
  for (const c of cosigs.negative_vectors) await rejects(v.openNote(c.note, c.verifier_keys), Error, c.id);
  // A timestamp of 2^63 is refused before any signature check.
  const c = cosigs.cosignatures[0];
  const raw = Buffer.from(c.signature_b64, "base64");
  raw.set([0x80, 0, 0, 0, 0, 0, 0, 0], 4);
  const late = c.note.replace(c.signature_b64, raw.toString("base64"));
  await rejects(v.openNote(late, [c.cosigner_vkey]), /beyond 2\^63-1/);
});

test("tile paths and widths (tlog-tiles)", () => {
  // Indices beyond 2^53 (and the JSON parser's precision) are not for a Number.
  for (const e of tiles.index_encoding.filter((e) => Number.isSafeInteger(e.index))) {
    assert.equal(v.tilePath(0, e.index), `tile/0/${e.path}`);
    assert.equal(v.entryBundlePath(e.index, 7), `tile/entries/${e.path}.p/7`);
  }
  for (const t of [...tiles.partial_tiles_spec, ...tiles.partial_tiles_derived]) {
    for (const l of t.levels) {
      assert.equal(v.tileWidth(l.level, l.full_tiles, t.tree_size), l.partial_width ?? 0);
      if (l.partial_width) assert.equal(v.tilePath(l.level, l.full_tiles, l.partial_width), l.partial_tile_path);
      if (l.last_full_tile_path) assert.equal(v.tilePath(l.level, l.full_tiles - 1), l.last_full_tile_path);
    }
    const e = t.entries;
    if (e.partial_width) assert.equal(v.entryBundlePath(e.full_bundles, e.partial_width), e.partial_bundle_path);
  }
  for (const w of tiles.partial_width_table) {
    assert.equal(v.tileWidth(w.level, Math.floor(w.tree_size / 256 ** (w.level + 1)), w.tree_size), w.partial_width);
  }
  assert.throws(() => v.tilePath(0, 1, 0), /width/);
});

test("entry bundles", () => {
  assert.deepEqual(v.parseEntryBundle(unhex("00036f6e65000374776f0000")).map(hex), ["6f6e65", "74776f", ""]);
  assert.throws(() => v.parseEntryBundle(unhex("00036f6e")), /runs past the end/);
  assert.throws(() => v.parseEntryBundle(unhex("00036f6e6500")), /truncated length/);
});

// The tessera testdata log as a fetchBytes over its files, recording each path read.
const tessera = tiles.tessera_testdata_log;
function tesseraLog(size, tamper = {}) {
  const files = new Map([["checkpoint", utf8.encode(tessera.checkpoints[size].note)]]);
  for (const t of tessera.tiles) {
    files.set(t.tile_path, unhex(t.tile_hex));
    files.set(t.entries_path, unhex(t.entries_hex));
  }
  for (const [path, f] of Object.entries(tamper)) files.set(path, f(files.get(path)));
  const read = [];
  const fetchBytes = async (path) => {
    read.push(path);
    if (!files.has(path)) throw new Error(`${path}: not found`);
    return files.get(path);
  };
  return { fetchBytes, read };
}

test("tessera testdata log: every entry's proof from tiles verifies at every size", async () => {
  for (const c of tessera.checkpoints.slice(1)) {
    const cp = await v.openCheckpoint(c.note, tessera.verifier_key);
    assert.equal(hex(cp.rootHash), c.root_hash_hex);
    for (let i = 0; i < c.tree_size; i++) {
      const log = tesseraLog(c.tree_size);
      const got = await v.inclusionFromTiles(log.fetchBytes, i, c.tree_size);
      assert.equal(hex(got.entry), tessera.entries_hex[i]);
      assert.equal(hex(got.leafHash), tessera.leaf_hashes[i]);
      assert.equal(await v.verifyInclusion(i, c.tree_size, got.leafHash, got.proof, cp.rootHash), true);
      const w = `000.p/${c.tree_size}`;
      assert.deepEqual(log.read.sort(), [`tile/0/${w}`, `tile/entries/${w}`]);
      for (let k = 0; k < got.proof.length; k++) {
        const bad = got.proof.map((h, j) => (j === k ? flip(h) : h));
        await rejects(v.verifyInclusion(i, c.tree_size, got.leafHash, bad, cp.rootHash), /root hash/);
      }
      const r = await v.verifyEntryInLog({ fetchBytes: log.fetchBytes, index: i, logVkey: tessera.verifier_key });
      assert.equal(r.verified, true, r.reason);
      const fields = [r.origin, r.size, r.index, hex(Buffer.from(r.leafHash, "base64"))];
      assert.deepEqual(fields, [tessera.origin, c.tree_size, i, tessera.leaf_hashes[i]]);
    }
  }
});

test("tessera testdata log: one flipped byte anywhere is not verified", async () => {
  const size = 15;
  const w = `000.p/${size}`;
  const check = async (tamper, index, pattern) => {
    const { fetchBytes } = tesseraLog(size, tamper);
    const r = await v.verifyEntryInLog({ fetchBytes, index, logVkey: tessera.verifier_key });
    assert.equal(r.verified, false);
    assert.match(r.reason, pattern);
  };
  // Entry 14's proof uses the hash of leaf 12 (at byte 12·32).
  await check({ [`tile/0/${w}`]: (b) => flip(b, 12 * 32 + 5) }, 14, /does not lead to the root hash/);
  await check({ [`tile/0/${w}`]: (b) => flip(b, 3 * 32) }, 3, /does not hash to its leaf hash/);
  await check({ [`tile/entries/${w}`]: (b) => flip(b, b.length - 1) }, 14, /does not hash to its leaf hash/);
  await check({ [`tile/0/${w}`]: (b) => b.subarray(32) }, 0, /bytes, want 480/);
  await check({ [`tile/entries/${w}`]: (b) => new Uint8Array([...b, 0, 0]) }, 0, /16 entries, want 15/);
  const text = (f) => (b) => utf8.encode(f(new TextDecoder().decode(b)));
  await check({ checkpoint: text(flipSignature) }, 0, /signature does not verify/);
  const root = tessera.checkpoints[size].note.split("\n")[2];
  const otherRoot = Buffer.from(flip(Buffer.from(root, "base64"), 0)).toString("base64");
  await check({ checkpoint: text((t) => t.replace(root, otherRoot)) }, 0, /signature does not verify/);
  await check({}, 15, /not in the log's latest checkpoint \(tree size 15\)/);
  const empty = await v.verifyEntryInLog({ ...tesseraLog(0), index: 0, logVkey: tessera.verifier_key });
  assert.match(empty.reason, /tree size 0/);
  const wrongKey = notes.keys.find((k) => k.id === "peter").vkey;
  const r = await v.verifyEntryInLog({ fetchBytes: tesseraLog(size).fetchBytes, index: 0, logVkey: wrongKey });
  assert.match(r.reason, /no signature by PeterNeumann/);
});

test("a partial tile or bundle a mirror has dropped is read from the full one", async () => {
  // Only full tile/0/000 and tile/entries/000 are served: the 15 entries and
  // their hashes, then hashes and (empty) entries past the size-5 tree.
  const t15 = tessera.tiles[14];
  const tile = new Uint8Array(256 * 32);
  tile.set(unhex(t15.tile_hex));
  const bundle = new Uint8Array([...unhex(t15.entries_hex), ...new Uint8Array(241 * 2)]);
  const serve = (files) => async (path) => files[path] ?? Promise.reject(new Error(`${path}: not found`));
  const checkpoint = utf8.encode(tessera.checkpoints[5].note);
  const files = { checkpoint, "tile/0/000": tile, "tile/entries/000": bundle };
  for (let i = 0; i < 5; i++) {
    const r = await v.verifyEntryInLog({ fetchBytes: serve(files), index: i, logVkey: tessera.verifier_key });
    assert.equal(r.verified, true, r.reason);
  }
  const logVkey = tessera.verifier_key;
  const replacing = (path, bytes) => serve({ ...files, [path]: bytes });
  const short = await v.verifyEntryInLog({ fetchBytes: replacing("tile/0/000", tile.subarray(32)), index: 1, logVkey });
  assert.match(short.reason, /tile\/0\/000: 8160 bytes, want 8192/);
  const missing = await v.verifyEntryInLog({ fetchBytes: replacing("tile/entries/000"), index: 1, logVkey });
  assert.match(missing.reason, /tile\/entries\/000.p\/5: not found/);
});

test("sunlight mirror tiles (300 leaves, a level-1 tile): proofs verify against the cosigned root", async () => {
  const s = tiles.sunlight_mirror_tiles;
  const leaves = await Promise.all(Array.from({ length: 300 }, (_, i) => v.leafHash(utf8.encode(`record ${i}`))));
  const files = new Map();
  const tile0 = Buffer.concat(leaves.slice(0, 256));
  assert.equal(hex(await crypto.subtle.digest("SHA-256", tile0)), s.tiles[0].sha256);
  files.set("tile/0/000", new Uint8Array(tile0));
  for (const t of s.tiles.slice(1)) files.set(t.path, unhex(t.data_hex));
  assert.deepEqual(files.get("tile/0/001.p/44"), new Uint8Array(Buffer.concat(leaves.slice(256))));
  const bundle = (from, to) => Buffer.concat(Array.from({ length: to - from }, (_, k) => {
    const e = Buffer.from(`record ${from + k}`);
    return Buffer.concat([Buffer.from([e.length >> 8, e.length & 255]), e]);
  }));
  files.set("tile/entries/000", new Uint8Array(bundle(0, 256)));
  files.set("tile/entries/001.p/44", new Uint8Array(bundle(256, 300)));
  const note = await v.openNote(s.checkpoint, [s.checkpoint_verifier_key]);
  const root = Buffer.from(note.text.split("\n")[2], "base64");
  assert.equal(hex(root), s.root_hash_hex);
  const fetchBytes = async (path) => files.get(path) ?? Promise.reject(new Error(`${path}: not found`));
  for (const i of [0, 1, 127, 255, 256, 290, 299]) {
    const got = await v.inclusionFromTiles(fetchBytes, i, 300);
    assert.equal(await v.verifyInclusion(i, 300, got.leafHash, got.proof, new Uint8Array(root)), true, `index ${i}`);
  }
  files.set("tile/1/000.p/1", flip(files.get("tile/1/000.p/1")));
  const got = await v.inclusionFromTiles(fetchBytes, 299, 300);
  await rejects(v.verifyInclusion(299, 300, got.leafHash, got.proof, new Uint8Array(root)), /root hash/);
});

// A tlog-proof receipt for entry `index` of the tessera log at `size`.
async function tesseraReceipt(size, index, extra = "") {
  const got = await v.inclusionFromTiles(tesseraLog(size).fetchBytes, index, size);
  const hashes = got.proof.map((h) => `${v.base64Encode(h)}\n`).join("");
  return `c2sp.org/tlog-proof@v1\n${extra}index ${index}\n${hashes}\n${tessera.checkpoints[size].note}`;
}

test("tlog-proof receipts verify, and not when tampered", async () => {
  const key = tessera.verifier_key;
  for (const index of [0, 6, 13, 14]) {
    const text = await tesseraReceipt(15, index, "extra Y29udGV4dA==\n");
    const leaf = unhex(tessera.leaf_hashes[index]);
    const r = await v.verifyReceipt(text, key, leaf);
    assert.equal(r.verified, true, r.reason);
    const got = [r.origin, r.size, r.index, Buffer.from(r.extra).toString()];
    assert.deepEqual(got, [tessera.origin, 15, index, "context"]);
    assert.equal((await v.verifyReceipt(utf8.encode(text), key, leaf)).verified, true);
    assert.match((await v.verifyReceipt(text, key, flip(leaf))).reason, /root hash/);
    const firstHash = text.split("\n")[3];
    const flipped = v.base64Encode(flip(v.base64Decode(firstHash)));
    assert.match((await v.verifyReceipt(text.replace(firstHash, flipped), key, leaf)).reason, /root hash/);
    const moved = text.replace(`index ${index}\n`, `index ${(index + 1) % 15}\n`);
    assert.match((await v.verifyReceipt(moved, key, leaf)).reason, /root hash|proof hashes, want/);
    assert.match((await v.verifyReceipt(flipSignature(text), key, leaf)).reason, /signature does not verify/);
    assert.match((await v.verifyReceipt(text.replace(`${firstHash}\n`, ""), key, leaf)).reason, /proof hashes, want/);
  }
});

test("tlog-proof receipts are parsed strictly", async () => {
  const text = await tesseraReceipt(15, 6);
  assert.equal(v.parseReceipt(text).index, 6);
  assert.equal(v.parseReceipt(text).extra, null);
  const hash = text.split("\n")[2];
  const nonCanonical = hash.slice(0, -2) + String.fromCharCode(hash.charCodeAt(hash.length - 2) + 1) + "=";
  const cases = [
    [text.replace("tlog-proof@v1", "tlog-proof@v2"), /line 1: want/],
    [text.replace("index 6", "index 06"), /line 2: index: "06" is not a decimal/],
    [text.replace("index 6", "index 9007199254740993"), /beyond 2\^53-1/],
    [text.replace("index 6\n", "extra !!\nindex 6\n"), /line 2: extra: not padded/],
    [text.replace(hash, nonCanonical), /line 3: inclusion proof hash: not canonical/],
    [text.replace(hash, "AAAA"), /line 3: inclusion proof hash: not a 32-byte hash/],
    [text.replace(/\n\n/, "\n"), /line 7: inclusion proof hash: not padded/],
    [text.replace("index 6\n", `index 6\n${`${hash}\n`.repeat(65)}`), /more than 64 proof hashes/],
    [text.replace(/\n/g, "\r\n"), /line 1: want/],
    ["c2sp.org/tlog-proof@v1\nindex 6\n", /missing blank line/],
  ];
  for (const [bad, pattern] of cases) assert.throws(() => v.parseReceipt(bad), pattern);
});
