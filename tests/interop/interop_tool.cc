// interop_tool: the C++ half of the two-way interop test against Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog. The Go half is
// go/src/infratrail_interop; run_interop.sh drives both. Files exchanged are
// described in interop_io.h.
//
//   interop_tool generate DIR SIZE     write a log of SIZE leaves to DIR
//   interop_tool verify DIR            check everything the Go program wrote
//   interop_tool verify-note DIR NOTE  open NOTE as a checkpoint of DIR's log
//                                      (log key and 1-of-1 witness policy)
//
// Exit codes: 0 all checks passed, 1 a check failed, 2 usage error or
// unreadable input.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/proof.h"
#include "core/tile.h"
#include "core/tlog_proof.h"
#include "core/witness_policy.h"
#include "tests/interop/interop_io.h"
#include "tests/interop/tree_model.h"

namespace infratrail::interop {
namespace {

constexpr absl::string_view kLogName = "interop.infratrail.example/log-cc";
constexpr absl::string_view kWitnessName = "witness.infratrail.example/w-cc";
constexpr uint64_t kCosignTimeBase = 1700000000;
// Go's Tile.Path() for height 8 is C2SP's path with this after "tile/".
constexpr absl::string_view kGoTilePrefix = "tile/8/";

// Tree sizes at which proofs are made: edges of tiles and of the tree.
std::vector<uint64_t> ProofSizes(uint64_t n) {
  std::vector<uint64_t> out;
  for (uint64_t s : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{256},
                     uint64_t{257}, uint64_t{65536}, n / 2 + 1, n - 1, n}) {
    if (s >= 1 && s <= n) out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint64_t> ProofIndices(uint64_t size) {
  std::vector<uint64_t> out;
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, size / 3, size / 2, size - 2, size - 1,
                     uint64_t{255}, uint64_t{256}, uint64_t{65535}, uint64_t{65536}}) {
    if (i < size) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string LeafData(uint64_t i) {
  // Varying length and non-ASCII bytes, so base64 and hashing see both.
  return absl::StrCat("infratrail C++ interop leaf ", i, std::string(i % 5, '\xe9'));
}

absl::StatusOr<std::string> SignCheckpoint(const NoteSigner& log, const NoteSigner& witness,
                                           absl::string_view body, uint64_t timestamp) {
  absl::StatusOr<std::string> note = SignNote(body, {log});
  if (!note.ok()) return note.status();
  absl::StatusOr<NoteSignature> cosig = Cosign(witness, body, timestamp);
  if (!cosig.ok()) return cosig.status();
  return AddSignatures(*note, {*cosig});
}

absl::Status Generate(const std::string& dir, uint64_t n) {
  Hasher hasher;
  absl::StatusOr<NoteSigner> log =
      NoteSigner::FromSeed(kLogName, AsBytes(hasher.Sha256("infratrail interop log seed")));
  absl::StatusOr<NoteSigner> witness =
      NoteSigner::FromSeed(kWitnessName, AsBytes(hasher.Sha256("infratrail interop witness seed")));
  if (!log.ok()) return log.status();
  if (!witness.ok()) return witness.status();

  std::map<std::string, std::string> files;
  files["log.skey"] = log->SignerKey() + "\n";
  files["log.vkey"] = log->VerifierKey() + "\n";
  files["witness.skey"] = witness->SignerKey() + "\n";
  files["witness.vkey"] = witness->VerifierKey() + "\n";
  files["witness.cosig.vkey"] = witness->CosignatureVerifierKey() + "\n";
  files["size.txt"] = absl::StrCat(n, "\n");

  std::vector<Hash> leaf_hashes;
  for (uint64_t i = 0; i < n; ++i) {
    const std::string data = LeafData(i);
    leaf_hashes.push_back(hasher.HashLeaf(data));
    absl::StrAppend(&files["leaves.txt"], Base64Encode(data), "\n");
    absl::StrAppend(&files["leaf_hashes.txt"], HashToBase64(leaf_hashes.back()), "\n");
  }
  const TreeModel tree(leaf_hashes);
  absl::StatusOr<Hash> root = tree.Root(n);
  if (!root.ok()) return root.status();

  const std::string body = Checkpoint{std::string(kLogName), n, *root, {}}.Body();
  const uint64_t timestamp = kCosignTimeBase + n;
  absl::StatusOr<std::string> note = SignCheckpoint(*log, *witness, body, timestamp);
  if (!note.ok()) return note.status();
  files["checkpoint.note"] = *note;
  files["cosig_time.txt"] = absl::StrCat(timestamp, "\n");

  TlogProof receipt;
  receipt.extra = "infratrail interop receipt";
  receipt.index = n / 2;
  absl::StatusOr<std::vector<Hash>> receipt_proof = tree.Prove(PlanInclusion(receipt.index, n));
  if (!receipt_proof.ok()) return receipt_proof.status();
  receipt.inclusion_proof = *std::move(receipt_proof);
  receipt.checkpoint = *note;
  files["receipt.tlog-proof"] = receipt.Format();

  std::vector<InclusionRecord> inclusion;
  std::vector<ConsistencyRecord> consistency;
  const std::vector<uint64_t> sizes = ProofSizes(n);
  for (uint64_t size : sizes) {
    for (uint64_t index : ProofIndices(size)) {
      absl::StatusOr<std::vector<Hash>> proof = tree.Prove(PlanInclusion(index, size));
      if (!proof.ok()) return proof.status();
      inclusion.push_back({index, size, *tree.Root(size), *std::move(proof)});
    }
    for (uint64_t size2 : sizes) {
      if (size2 < size) continue;
      absl::StatusOr<std::vector<Hash>> proof = tree.Prove(PlanConsistency(size, size2));
      if (!proof.ok()) return proof.status();
      consistency.push_back({size, size2, *tree.Root(size), *tree.Root(size2), *std::move(proof)});
    }
  }
  files["inclusion.txt"] = FormatInclusionRecords(inclusion);
  files["consistency.txt"] = FormatConsistencyRecords(consistency);

  for (const TileId& t : TilesForTree(n, /*entries=*/false)) {
    absl::StatusOr<std::vector<Hash>> row = tree.TileRow(t);
    if (!row.ok()) return row.status();
    files[t.Path()] = EncodeHashTile(*row);
    absl::StrAppend(&files["tiles.txt"], t.Path(), "\n");
  }

  for (const auto& [name, data] : files) {
    if (absl::Status s = WriteFile(absl::StrCat(dir, "/", name), data); !s.ok()) return s;
  }
  std::cout << "interop_tool generate: wrote tree of size " << n << " (" << inclusion.size()
            << " inclusion, " << consistency.size() << " consistency proofs) to " << dir << "\n";
  return absl::OkStatus();
}

// Counts checks and reports each failure on stderr.
class Checker {
 public:
  bool Expect(bool ok, absl::string_view what, absl::string_view detail = "") {
    ++checks_;
    if (!ok) {
      ++failures_;
      std::cerr << "interop_tool verify: FAIL " << what << (detail.empty() ? "" : ": ") << detail
                << "\n";
    }
    return ok;
  }
  bool ExpectOk(const absl::Status& s, absl::string_view what) {
    return Expect(s.ok(), what, s.message());
  }
  int checks() const { return checks_; }
  int failures() const { return failures_; }

 private:
  int checks_ = 0;
  int failures_ = 0;
};

// Everything the Go program wrote, parsed as far as file formats go.
struct GoOutput {
  std::string log_skey, log_vkey, witness_skey, witness_vkey, witness_cosig_vkey;
  uint64_t size = 0;
  std::vector<std::string> leaves, leaf_hashes, tile_paths;
  std::string note, receipt;
  uint64_t cosig_time = 0;
  std::vector<InclusionRecord> inclusion;
  std::vector<ConsistencyRecord> consistency;
};

absl::StatusOr<GoOutput> LoadGoOutput(const std::string& dir) {
  GoOutput g;
  const auto path = [&](absl::string_view name) { return absl::StrCat(dir, "/", name); };
  std::vector<std::pair<std::string*, const char*>> one_liners = {
      {&g.log_skey, "log.skey"},
      {&g.log_vkey, "log.vkey"},
      {&g.witness_skey, "witness.skey"},
      {&g.witness_vkey, "witness.vkey"},
      {&g.witness_cosig_vkey, "witness.cosig.vkey"}};
  for (auto& [out, name] : one_liners) {
    absl::StatusOr<std::string> line = ReadOneLine(path(name));
    if (!line.ok()) return line.status();
    *out = *std::move(line);
  }
  absl::StatusOr<uint64_t> size = ReadNumber(path("size.txt"));
  absl::StatusOr<uint64_t> cosig_time = ReadNumber(path("cosig_time.txt"));
  absl::StatusOr<std::vector<std::string>> leaves = ReadLines(path("leaves.txt"));
  absl::StatusOr<std::vector<std::string>> leaf_hashes = ReadLines(path("leaf_hashes.txt"));
  absl::StatusOr<std::vector<std::string>> tiles = ReadLines(path("tiles.txt"));
  absl::StatusOr<std::string> note = ReadFile(path("checkpoint.note"));
  absl::StatusOr<std::string> receipt = ReadFile(path("receipt.tlog-proof"));
  absl::StatusOr<std::vector<std::string>> incl = ReadLines(path("inclusion.txt"));
  absl::StatusOr<std::vector<std::string>> cons = ReadLines(path("consistency.txt"));
  for (const absl::Status& s :
       {size.status(), cosig_time.status(), leaves.status(), leaf_hashes.status(), tiles.status(),
        note.status(), receipt.status(), incl.status(), cons.status()}) {
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::vector<InclusionRecord>> inclusion = ParseInclusionRecords(*incl);
  if (!inclusion.ok())
    return absl::InvalidArgumentError(absl::StrCat("inclusion.txt ", inclusion.status().message()));
  absl::StatusOr<std::vector<ConsistencyRecord>> consistency = ParseConsistencyRecords(*cons);
  if (!consistency.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("consistency.txt ", consistency.status().message()));
  g.size = *size;
  g.cosig_time = *cosig_time;
  g.leaves = *std::move(leaves);
  g.leaf_hashes = *std::move(leaf_hashes);
  g.tile_paths = *std::move(tiles);
  g.note = *std::move(note);
  g.receipt = *std::move(receipt);
  g.inclusion = *std::move(inclusion);
  g.consistency = *std::move(consistency);
  return g;
}

struct Keys {
  NoteSigner log_signer, witness_signer;
  NoteVerifier log, witness, witness_cosig;
  WitnessPolicy policy;  // the witness, 1 of 1
};

// Go's key texts must parse, and our derivations must print them exactly.
absl::StatusOr<Keys> CheckKeys(const GoOutput& g, Checker& c) {
  absl::StatusOr<NoteSigner> ls = NoteSigner::Parse(g.log_skey);
  absl::StatusOr<NoteSigner> ws = NoteSigner::Parse(g.witness_skey);
  absl::StatusOr<NoteVerifier> lv = NoteVerifier::Parse(g.log_vkey);
  absl::StatusOr<NoteVerifier> wv = NoteVerifier::Parse(g.witness_vkey);
  absl::StatusOr<NoteVerifier> wc = NoteVerifier::Parse(g.witness_cosig_vkey);
  bool ok = c.ExpectOk(ls.status(), "parse Go log.skey (note.GenerateKey)");
  ok &= c.ExpectOk(ws.status(), "parse Go witness.skey");
  ok &= c.ExpectOk(lv.status(), "parse Go log.vkey (note.GenerateKey)");
  ok &= c.ExpectOk(wv.status(), "parse Go witness.vkey");
  ok &= c.ExpectOk(wc.status(), "parse Go witness.cosig.vkey");
  if (!ok) return absl::InvalidArgumentError("unusable keys");
  c.Expect(ls->VerifierKey() == g.log_vkey, "log vkey derived from Go skey",
           absl::StrCat(ls->VerifierKey(), " != ", g.log_vkey));
  c.Expect(ls->SignerKey() == g.log_skey, "log skey round trip");
  c.Expect(ws->VerifierKey() == g.witness_vkey, "witness vkey derived from Go skey",
           absl::StrCat(ws->VerifierKey(), " != ", g.witness_vkey));
  c.Expect(ws->CosignatureVerifierKey() == g.witness_cosig_vkey, "witness cosignature vkey",
           absl::StrCat(ws->CosignatureVerifierKey(), " != ", g.witness_cosig_vkey));
  absl::StatusOr<NoteVerifier> converted = wv->AsCosignatureVerifier();
  c.Expect(converted.ok() && converted->vkey() == g.witness_cosig_vkey,
           "AsCosignatureVerifier of Go witness.vkey");
  c.Expect(lv->type() == SigType::kEd25519 && lv->key_id() == ls->key_id(), "log key type and ID");
  c.Expect(wc->type() == SigType::kCosignatureV1 && wc->key_id() == ws->CosignatureKeyId(),
           "witness cosignature key type and ID");
  absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create({*wv}, 1);
  if (!c.ExpectOk(policy.status(), "witness policy from Go witness.vkey")) return policy.status();
  return Keys{*ls, *ws, *lv, *wv, *wc, *std::move(policy)};
}

// Hash tiles written by Go under its own paths: same set as TilesForTree,
// same bytes as ours, and they reproduce the checkpoint root.
void CheckTiles(const std::string& dir, const GoOutput& g, const TreeModel& tree, const Hash& root,
                Checker& c) {
  std::vector<std::string> want;
  for (const TileId& t : TilesForTree(g.size, /*entries=*/false)) want.push_back(t.Path());
  std::vector<std::string> got;
  std::map<std::pair<uint32_t, uint64_t>, std::vector<Hash>> rows;
  for (const std::string& go_path : g.tile_paths) {
    absl::string_view rest = go_path;
    if (!c.Expect(absl::ConsumePrefix(&rest, kGoTilePrefix), "Go tile path has height 8",
                  go_path)) {
      continue;
    }
    const std::string c2sp = absl::StrCat("tile/", rest);
    got.push_back(c2sp);
    absl::StatusOr<TileId> id = ParseTilePath(c2sp);
    if (!c.ExpectOk(id.status(), absl::StrCat("ParseTilePath of Go path ", go_path))) continue;
    c.Expect(id->Path() == c2sp, "tile path round trip", c2sp);
    absl::StatusOr<std::string> data = ReadFile(absl::StrCat(dir, "/", go_path));
    if (!c.ExpectOk(data.status(), "read Go tile")) continue;
    absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*data);
    if (!c.ExpectOk(row.status(), absl::StrCat("decode Go tile ", go_path))) continue;
    c.Expect(row->size() == id->width, "Go tile width", go_path);
    absl::StatusOr<std::vector<Hash>> ours = tree.TileRow(*id);
    c.Expect(ours.ok() && *ours == *row, "Go tile bytes equal ours", go_path);
    rows[{id->level, id->index}] = *std::move(row);
  }
  c.Expect(
      got == want, "Go tile set equals TilesForTree",
      absl::StrCat("got [", absl::StrJoin(got, " "), "] want [", absl::StrJoin(want, " "), "]"));

  // Authenticated as Go's TileHashReader does: every full tile hashes to its
  // entry in the tile above it.
  Hasher hasher;
  for (const auto& [key, row] : rows) {
    if (row.size() != kTileWidth) continue;
    auto parent = rows.find({key.first + 1, key.second / kTileWidth});
    const size_t slot = key.second % kTileWidth;
    if (parent == rows.end() || slot >= parent->second.size()) continue;  // top of the tree
    c.Expect(HashWithinTile(row, kTileHeight, 0, hasher) == parent->second[slot],
             "full Go tile hashes to its entry in the parent tile",
             absl::StrCat("level ", key.first, " index ", key.second));
  }

  // The root, from the tiles alone: each node of the tree's decomposition is
  // located with LocateNode and hashed from its tile's row.
  std::vector<Hash> nodes;
  for (NodeId id : DecomposeRange(0, g.size)) {
    const NodeInTile loc = LocateNode(id);
    auto it = rows.find({loc.tile.level, loc.tile.index});
    if (!c.Expect(it != rows.end() && loc.first + loc.count <= it->second.size(),
                  "tile holding node", id.DebugString())) {
      return;
    }
    const uint32_t sub = id.level % kTileHeight;
    nodes.push_back(HashWithinTile(it->second, sub, loc.first >> sub, hasher));
  }
  Hash h = nodes.back();
  for (size_t i = nodes.size() - 1; i > 0; --i) h = hasher.HashChildren(nodes[i - 1], h);
  c.Expect(h == root, "root recomputed from Go tiles equals checkpoint root");
}

int Verify(const std::string& dir) {
  absl::StatusOr<GoOutput> g = LoadGoOutput(dir);
  if (!g.ok()) {
    std::cerr << "interop_tool verify: cannot load " << dir << ": " << g.status().message() << "\n";
    return kExitUsage;
  }
  Checker c;
  absl::StatusOr<Keys> keys = CheckKeys(*g, c);
  if (!keys.ok()) return kExitMismatch;

  // Leaves: our leaf hash of Go's data equals tlog.RecordHash.
  c.Expect(g->leaves.size() == g->size && g->leaf_hashes.size() == g->size && g->size > 0,
           "leaf count equals tree size");
  std::vector<Hash> leaf_hashes;
  Hasher hasher;
  int bad_leaves = 0;
  for (size_t i = 0; i < g->leaves.size(); ++i) {
    absl::StatusOr<std::string> data = Base64DecodeStrict(g->leaves[i], "leaf");
    absl::StatusOr<Hash> want = i < g->leaf_hashes.size()
                                    ? HashFromBase64(g->leaf_hashes[i], "leaf hash")
                                    : absl::StatusOr<Hash>(absl::NotFoundError("missing"));
    leaf_hashes.push_back(hasher.HashLeaf(data.ok() ? *data : ""));
    if (!data.ok() || !want.ok() || *want != leaf_hashes.back()) ++bad_leaves;
  }
  c.Expect(bad_leaves == 0, "HashLeaf equals tlog.RecordHash for every leaf",
           absl::StrCat(bad_leaves, " leaves differ"));
  if (c.failures() > 0) return kExitMismatch;
  const TreeModel tree(leaf_hashes);
  const Hash root = *tree.Root(g->size);

  // Checkpoint signed with note.Sign, cosigned by the Go test's 0x04 signer.
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(g->note, keys->log, keys->policy);
  if (c.ExpectOk(cp.status(), "OpenCheckpoint of Go-signed checkpoint.note")) {
    c.Expect(cp->witness_count == 1, "Go cosignature counted");
    c.Expect(cp->checkpoint.size == g->size, "checkpoint size");
    c.Expect(cp->checkpoint.root == root, "checkpoint root equals our root",
             absl::StrCat(HashToBase64(cp->checkpoint.root), " != ", HashToBase64(root)));
    bool ts_ok = false;
    for (const NoteSignature& s : cp->note.verified) {
      ts_ok |= s.key_id == keys->witness_cosig.key_id() && s.timestamp == g->cosig_time;
    }
    c.Expect(ts_ok, "cosignature timestamp", absl::StrCat("want ", g->cosig_time));
    absl::StatusOr<std::string> resigned =
        SignCheckpoint(keys->log_signer, keys->witness_signer, cp->note.text, g->cosig_time);
    c.Expect(resigned.ok() && *resigned == g->note,
             "our SignNote + Cosign with Go's keys reproduce Go's note byte for byte",
             resigned.ok() ? absl::StrCat("ours:\n", *resigned, "Go's:\n", g->note)
                           : resigned.status().message());
  }
  absl::StatusOr<Note> direct = OpenNote(g->note, {keys->witness_cosig});
  c.Expect(direct.ok() && direct->verified.size() == 1,
           "OpenNote with the Go-made 0x04 witness vkey alone");

  // Receipt.
  absl::StatusOr<TlogProof> receipt = TlogProof::Parse(g->receipt);
  if (c.ExpectOk(receipt.status(), "parse Go receipt.tlog-proof")) {
    c.Expect(receipt->Format() == g->receipt, "receipt Format() round trip");
    c.Expect(receipt->checkpoint == g->note, "receipt carries checkpoint.note");
    if (c.Expect(receipt->index < g->size, "receipt index in tree")) {
      c.ExpectOk(
          VerifyTlogProof(*receipt, leaf_hashes[receipt->index], keys->log, keys->policy).status(),
          "VerifyTlogProof of Go receipt");
      absl::StatusOr<std::vector<Hash>> ours = tree.Prove(PlanInclusion(receipt->index, g->size));
      c.Expect(ours.ok() && *ours == receipt->inclusion_proof, "receipt proof equals ours");
    }
  }

  // tlog.ProveRecord / tlog.ProveTree proofs.
  c.Expect(!g->inclusion.empty() && !g->consistency.empty(), "Go wrote proofs");
  for (const InclusionRecord& r : g->inclusion) {
    const std::string what = absl::StrCat("Go inclusion proof index ", r.index, " size ", r.size);
    if (!c.Expect(r.index < r.size && r.size <= g->size, what, "out of range")) continue;
    absl::StatusOr<Hash> want_root = tree.Root(r.size);
    c.Expect(want_root.ok() && *want_root == r.root, what + ": tlog.TreeHash equals our root");
    c.ExpectOk(VerifyInclusion(r.index, r.size, leaf_hashes[r.index], r.proof, r.root, hasher),
               what + ": VerifyInclusion");
    absl::StatusOr<std::vector<Hash>> ours = tree.Prove(PlanInclusion(r.index, r.size));
    c.Expect(ours.ok() && *ours == r.proof, what + ": equals our proof");
  }
  for (const ConsistencyRecord& r : g->consistency) {
    const std::string what = absl::StrCat("Go consistency proof ", r.size1, " -> ", r.size2);
    if (!c.Expect(r.size1 >= 1 && r.size1 <= r.size2 && r.size2 <= g->size, what, "out of range")) {
      continue;
    }
    absl::StatusOr<Hash> root1 = tree.Root(r.size1);
    absl::StatusOr<Hash> root2 = tree.Root(r.size2);
    c.Expect(root1.ok() && root2.ok() && *root1 == r.root1 && *root2 == r.root2,
             what + ": roots equal ours");
    c.ExpectOk(VerifyConsistency(r.size1, r.size2, r.root1, r.root2, r.proof, hasher),
               what + ": VerifyConsistency");
    absl::StatusOr<std::vector<Hash>> ours = tree.Prove(PlanConsistency(r.size1, r.size2));
    c.Expect(ours.ok() && *ours == r.proof, what + ": equals our proof");
  }

  CheckTiles(dir, *g, tree, root, c);

  if (c.failures() > 0) {
    std::cerr << "interop_tool verify " << dir << ": " << c.failures() << " of " << c.checks()
              << " checks FAILED\n";
    return kExitMismatch;
  }
  std::cout << "interop_tool verify: size " << g->size << ": all " << c.checks()
            << " checks passed (" << g->inclusion.size() << " inclusion, " << g->consistency.size()
            << " consistency proofs, " << g->tile_paths.size() << " tiles)\n";
  return kExitOk;
}

int VerifyNote(const std::string& dir, const std::string& note_path) {
  absl::StatusOr<std::string> log_vkey = ReadOneLine(dir + "/log.vkey");
  absl::StatusOr<std::string> witness_vkey = ReadOneLine(dir + "/witness.vkey");
  absl::StatusOr<std::string> note = ReadFile(note_path);
  for (const absl::Status& s : {log_vkey.status(), witness_vkey.status(), note.status()}) {
    if (!s.ok()) {
      std::cerr << "interop_tool verify-note: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  absl::StatusOr<NoteVerifier> log = NoteVerifier::Parse(*log_vkey);
  absl::StatusOr<NoteVerifier> witness = NoteVerifier::Parse(*witness_vkey);
  for (const absl::Status& s : {log.status(), witness.status()}) {
    if (!s.ok()) {
      std::cerr << "interop_tool verify-note: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create({*witness}, 1);
  if (!policy.ok()) {
    std::cerr << "interop_tool verify-note: " << policy.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(*note, *log, *policy);
  if (!cp.ok()) {
    std::cerr << "interop_tool verify-note: " << note_path << " REJECTED: " << cp.status() << "\n";
    return kExitMismatch;
  }
  std::cout << "interop_tool verify-note: " << note_path << " verified (size "
            << cp->checkpoint.size << ", " << cp->witness_count << " cosignature)\n";
  return kExitOk;
}

int Usage() {
  std::cerr << "usage: interop_tool generate DIR SIZE | verify DIR | verify-note DIR NOTE\n";
  return kExitUsage;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "generate") {
    absl::StatusOr<uint64_t> n = ParseDecimalStrict(args[2], "SIZE");
    if (!n.ok() || *n == 0) {
      std::cerr << "interop_tool generate: SIZE must be a positive integer\n";
      return kExitUsage;
    }
    if (absl::Status s = Generate(args[1], *n); !s.ok()) {
      std::cerr << "interop_tool generate: " << s << "\n";
      return kExitUsage;
    }
    return kExitOk;
  }
  if (args.size() == 2 && args[0] == "verify") return Verify(args[1]);
  if (args.size() == 3 && args[0] == "verify-note") return VerifyNote(args[1], args[2]);
  return Usage();
}

}  // namespace
}  // namespace infratrail::interop

int main(int argc, char** argv) { return infratrail::interop::Main(argc, argv); }
