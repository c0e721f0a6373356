// libFuzzer target for every parser in core/: none may crash, leak or hit
// undefined behaviour on any input, and whatever parses must re-serialize to
// the same bytes (the formats have one canonical text form each).
#include <cstdint>
#include <string>

#include "core/checkpoint.h"
#include "core/note.h"
#include "core/proof.h"
#include "core/tile.h"
#include "core/tlog_policy.h"
#include "core/tlog_proof.h"
#include "fuzz/fuzz_require.h"

namespace infratrail {
namespace {

const NoteVerifier& Key() {
  static const NoteVerifier v = *NoteVerifier::Parse(
      NoteSigner::FromSeed("fuzz.example/log", std::string(32, 'f'))->VerifierKey());
  return v;
}

}  // namespace
}  // namespace infratrail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz entry point
  const std::string in(reinterpret_cast<const char*>(data), size);

  if (absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(in); cp.ok()) {
    Require(cp->Body() == in, "checkpoint round trip");
  }
  if (absl::StatusOr<TileId> t = ParseTilePath(in); t.ok()) {
    Require(t->Path() == in || "/" + t->Path() == in, "tile path round trip");
  }
  if (absl::StatusOr<std::vector<std::string>> b = DecodeEntryBundle(in); b.ok()) {
    Require(*EncodeEntryBundle(*b) == in, "entry bundle round trip");
  }
  if (absl::StatusOr<TlogProof> p = TlogProof::Parse(in); p.ok()) {
    Require(p->Format() == in, "tlog-proof round trip");
  }
  if (absl::StatusOr<Note> n = ParseNote(in); n.ok()) {
    std::string again = n->text + "\n";
    for (const NoteSignature& s : n->unverified) again += s.Line();
    Require(again == in, "note round trip");
  }
  if (absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(in, "policy"); p.ok()) {
    absl::flat_hash_set<std::string> all;
    for (const TlogPolicyWitness& w : p->witnesses()) all.insert(w.name);
    Require(p->Satisfied(all), "every witness cosigning meets any quorum");
    Require(p->quorum_none() || !p->Satisfied({}), "no cosignature meets only quorum none");
  } else {
    Require(p.status().message().substr(0, 7) == "policy:", "policy errors name the source");
  }
  (void)OpenNote(in, {Key()});
  (void)NoteVerifier::Parse(in);
  (void)NoteSigner::Parse(in);

  // Proof verification on arbitrary sizes and hashes.
  if (size >= 16 + 64) {
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; ++i) a = (a << 8) | data[i];
    for (int i = 8; i < 16; ++i) b = (b << 8) | data[i];
    Hash h1, h2;
    std::copy(data + 16, data + 48, h1.begin());
    std::copy(data + 48, data + 80, h2.begin());
    std::vector<Hash> proof;
    for (size_t off = 80; off + 32 <= size && proof.size() < 70; off += 32) {
      Hash x;
      std::copy(data + off, data + off + 32, x.begin());
      proof.push_back(x);
    }
    Hasher hasher;
    (void)VerifyInclusion(a, b, h1, proof, h2, hasher);
    (void)VerifyConsistency(a, b, h1, h2, proof, hasher);
    if (a < b && b - a < (uint64_t{1} << 40)) {
      absl::StatusOr<ProofPlan> plan = PlanInclusion(a, b);
      Require(plan.ok() && static_cast<int>(plan->groups.size()) == InclusionProofLength(a, b),
              "inclusion plan length");
    }
  }
  return 0;
}
