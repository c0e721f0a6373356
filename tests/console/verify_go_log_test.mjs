// The web console's verifier (verifier/monitor/console/verify.js) against a
// log it did not write: Go's golang.org/x/mod sumdb/tlog and sumdb/note wrote
// the tiles, bundles, checkpoints and receipts (tests/interop/go/src/
// infratrail_staticlog). run_verify_test.sh writes the log and sets:
//   INFRATRAIL_GO_LOG        the log directory (tiles, bundles, log.vkey)
//   INFRATRAIL_GO_SIZES      the tree sizes written, each with its checkpoint
//                            at checkpoints/<size> under the log directory
//   INFRATRAIL_GO_RECEIPTS   a directory of <size>-<index>.tlog-proof files
//                            (tlog.ProveRecord proofs)
//   INFRATRAIL_SEED          seeds the random indices (printed)
// At every size, entries first, last, 255, 256, 65535, 65536 and random ones
// verify from tiles read from disk, each tile read once and only tiles of that
// size; their entries are Go's; each tile read is needed (spoiling it fails the
// check); one flipped byte in the entry's leaf hash, its bundle, a proof hash
// or the checkpoint is not verified; Go's receipts verify and their proofs are
// the ones computed from the tiles.
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";

import * as v from "../../verifier/monitor/console/verify.js";

// Node 18 (Debian 12's) has WebCrypto only as an import; Node 19+ and browsers
// have it as a global, which verify.js looks up when it first hashes.
globalThis.crypto ??= webcrypto;

const dir = process.env.INFRATRAIL_GO_LOG;
const receiptDir = process.env.INFRATRAIL_GO_RECEIPTS;
const sizes = (process.env.INFRATRAIL_GO_SIZES ?? "").split(/\s+/).filter(Boolean).map(Number);
assert.ok(dir && receiptDir && sizes.length > 0, "INFRATRAIL_GO_LOG, _SIZES or _RECEIPTS unset (run_verify_test.sh)");
const logVkey = fs.readFileSync(path.join(dir, "log.vkey"), "utf8").trim();

let seed = Number(process.env.INFRATRAIL_SEED ?? Date.now() % 2 ** 31) >>> 0;
console.log(`verify_go_log_test: INFRATRAIL_SEED=${seed}`);
// xorshift32: reproducible random indices.
function random(n) {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}

// The Go tool's entry(i).
function goEntry(i) {
  const head = new TextEncoder().encode(`go static log record ${i}\0`);
  return new Uint8Array([...head, ...new Uint8Array((i * 37) % 1500).fill(i & 255)]);
}

function flip(bytes, i) {
  const out = Uint8Array.from(bytes);
  out[i] ^= 1;
  return out;
}

// fetchBytes over the log directory as of `size`, recording each path read,
// with `tamper[path](bytes)` applied to what is read.
function logAt(size, tamper = {}) {
  const read = [];
  const fetchBytes = async (p) => {
    read.push(p);
    const file = p === "checkpoint" ? `checkpoints/${size}` : p;
    const bytes = new Uint8Array(await fs.promises.readFile(path.join(dir, file)));
    return tamper[p] ? tamper[p](bytes) : bytes;
  };
  return { fetchBytes, read };
}

// Whether `p` names a tile or bundle exactly as a tree of `size` holds it.
function pathOfSize(p, size) {
  const m = /^tile\/(\d+|entries)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(p);
  if (!m) return false;
  const level = m[1] === "entries" ? 0 : Number(m[1]);
  const n = Number(m[2].replace(/x|\//g, ""));
  const width = v.tileWidth(level, n, size);
  return width > 0 && p === (m[1] === "entries" ? v.entryBundlePath(n, width) : v.tilePath(level, n, width));
}

const indicesFor = (size) => [
  ...new Set([0, size - 1, 255, 256, 65535, 65536, random(size), random(size), random(size)].filter((i) => i < size)),
];

for (const size of sizes) {
  test(`Go log of ${size} entries: entries verify from its tiles`, async () => {
    for (const index of indicesFor(size)) {
      const log = logAt(size);
      const r = await v.verifyEntryInLog({ fetchBytes: log.fetchBytes, index, logVkey });
      assert.equal(r.verified, true, `index ${index}: ${r.reason}`);
      assert.deepEqual([r.size, r.index], [size, index]);
      assert.deepEqual(r.entry, goEntry(index), `index ${index}: not Go's entry`);
      assert.equal(log.read.length, new Set(log.read).size, `index ${index}: a path read twice: ${log.read}`);
      const tiles = log.read.filter((p) => p !== "checkpoint");
      for (const p of tiles) assert.ok(pathOfSize(p, size), `index ${index}: read ${p}, not a tile of size ${size}`);
      for (const p of tiles.filter((p) => !p.startsWith("tile/entries/"))) {
        const spoil = (b) => b.map((x, k) => (k % 32 === 0 ? x ^ 1 : x)); // one byte of every hash
        const bad = await v.verifyEntryInLog({ fetchBytes: logAt(size, { [p]: spoil }).fetchBytes, index, logVkey });
        assert.equal(bad.verified, false, `index ${index}: ${p} was read but is not needed`);
      }
    }
  });

  test(`Go log of ${size} entries: one flipped byte is not verified`, async () => {
    const index = random(size);
    const n = Math.floor(index / 256);
    const width = v.tileWidth(0, n, size);
    const check = async (p, tamper, pattern) => {
      const r = await v.verifyEntryInLog({ fetchBytes: logAt(size, { [p]: tamper }).fetchBytes, index, logVkey });
      assert.equal(r.verified, false, `index ${index}, ${p}`);
      assert.match(r.reason, pattern, `index ${index}, ${p}`);
    };
    await check(v.tilePath(0, n, width), (b) => flip(b, (index % 256) * 32 + 7), /does not hash to its leaf hash/);
    const entryAt = (b, k) => {
      let off = 0;
      for (let j = 0; j < k; j++) off += 2 + ((b[off] << 8) | b[off + 1]);
      return off + 2;
    };
    const bundle = v.entryBundlePath(n, width);
    await check(bundle, (b) => flip(b, entryAt(b, index % 256) + 3), /does not hash to its leaf hash/);
    await check("checkpoint", (b) => flip(b, 2), /signature does not verify/);
    await check("checkpoint", (b) => flip(b, b.indexOf(0x0a, b.indexOf(0x0a) + 1) + 3), /signature does not verify/);
    const found = await v.inclusionFromTiles(logAt(size).fetchBytes, index, size);
    const cp = await v.openCheckpoint(fs.readFileSync(path.join(dir, "checkpoints", String(size))), logVkey);
    for (let k = 0; k < found.proof.length; k++) {
      const proof = found.proof.map((h, j) => (j === k ? flip(h, 31) : h));
      await assert.rejects(v.verifyInclusion(index, size, found.leafHash, proof, cp.rootHash), /root hash/);
    }
  });
}

test("Go's tlog-proof receipts verify, with the proofs computed from the tiles", async () => {
  const files = fs.readdirSync(receiptDir).filter((f) => f.endsWith(".tlog-proof"));
  assert.ok(files.length > 0);
  for (const f of files) {
    const [size, index] = f.replace(".tlog-proof", "").split("-").map(Number);
    const text = fs.readFileSync(path.join(receiptDir, f));
    const leaf = await v.leafHash(goEntry(index));
    const r = await v.verifyReceipt(text, logVkey, leaf);
    assert.equal(r.verified, true, `${f}: ${r.reason}`);
    assert.deepEqual([r.size, r.index], [size, index], f);
    const found = await v.inclusionFromTiles(logAt(size).fetchBytes, index, size);
    assert.deepEqual(v.parseReceipt(text).proof, found.proof, `${f}: Go's proof is not the one from the tiles`);
    if (found.proof.length > 0) {
      const at = text.indexOf(0x0a, text.indexOf(0x0a, 23) + 1) + 1; // first proof hash line
      const bad = Uint8Array.from(text);
      bad[at + 5] = bad[at + 5] === 0x41 ? 0x42 : 0x41;
      assert.equal((await v.verifyReceipt(bad, logVkey, leaf)).verified, false, f);
    }
    assert.equal((await v.verifyReceipt(text, logVkey, flip(leaf, 0))).verified, false, f);
  }
});
