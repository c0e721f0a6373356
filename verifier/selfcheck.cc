#include "verifier/selfcheck.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/encoding.h"
#include "core/proof.h"
#include "core/tlog_proof.h"

namespace infratrail {
namespace {

struct Check {
  const char* name;
  std::function<bool()> run;
};

// RFC 6962 test leaves (the transparency-dev/merkle constants) and the
// published root of their 8-leaf tree.
const char* const kLeavesHex[] = {"",
                                  "00",
                                  "10",
                                  "2021",
                                  "3031",
                                  "40414243",
                                  "5051525354555657",
                                  "606162636465666768696a6b6c6d6e6f"};
constexpr char kRoot8Hex[] = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

std::vector<Hash> RfcLeaves(Hasher& h) {
  std::vector<Hash> out;
  for (const char* hex : kLeavesHex) out.push_back(h.HashLeaf(*HexDecode(hex, "leaf")));
  return out;
}

}  // namespace

bool RunSelfCheck(std::ostream& out) {
  Hasher h;
  const std::vector<Check> checks = {
      {"empty tree hash is SHA-256(\"\")",
       [&] {
         return HashToHex(Hasher::EmptyRoot()) ==
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
       }},
      {"RFC 6962 root of 8 test leaves",
       [&] {
         CompactRange r;
         for (const Hash& l : RfcLeaves(h)) r.AppendLeaf(l, h);
         return HashToHex(*r.Root(h)) == kRoot8Hex;
       }},
      {"every inclusion and consistency proof of the 8-leaf tree verifies",
       [&] {
         std::vector<Hash> leaves = RfcLeaves(h);
         std::map<NodeId, Hash> nodes;
         std::vector<Hash> roots = {Hasher::EmptyRoot()};
         CompactRange r;
         for (const Hash& l : leaves) {
           r.AppendLeaf(l, h, [&](NodeId id, const Hash& x) { nodes[id] = x; });
           roots.push_back(*r.Root(h));
         }
         auto fetch = [&](const ProofPlan& p) {
           std::vector<Hash> f;
           for (const NodeId& id : p.nodes) f.push_back(nodes.at(id));
           return *p.Rehash(f, h);
         };
         for (uint64_t n = 1; n <= 8; ++n) {
           for (uint64_t i = 0; i < n; ++i) {
             if (!VerifyInclusion(i, n, leaves[i], fetch(*PlanInclusion(i, n)), roots[n], h).ok()) {
               return false;
             }
             const uint64_t m = i + 1;
             if (!VerifyConsistency(m, n, roots[m], roots[n], fetch(*PlanConsistency(m, n)), h)
                      .ok()) {
               return false;
             }
           }
         }
         return true;
       }},
      {"signed checkpoint with a witness cosignature opens; a tampered one does not",
       [&] {
         absl::StatusOr<NoteSigner> log = NoteSigner::Generate("selfcheck.infratrail.example/log");
         absl::StatusOr<NoteSigner> w = NoteSigner::Generate("selfcheck.witness.example");
         if (!log.ok() || !w.ok()) return false;
         Checkpoint cp{log->name(), 8, Hasher::EmptyRoot(), {}};
         absl::StatusOr<std::string> note = SignNote(cp.Body(), {*log});
         absl::StatusOr<NoteSignature> cosig = Cosign(*w, cp.Body(), 1763769600);
         if (!note.ok() || !cosig.ok()) return false;
         absl::StatusOr<std::string> full = AddSignatures(*note, {*cosig});
         absl::StatusOr<NoteVerifier> lv = NoteVerifier::Parse(log->VerifierKey());
         absl::StatusOr<NoteVerifier> wv = NoteVerifier::Parse(w->VerifierKey());
         if (!full.ok() || !lv.ok() || !wv.ok()) return false;
         absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create({*wv}, 1);
         if (!policy.ok() || !OpenCheckpoint(*full, *lv, *policy).ok()) return false;
         std::string tampered = *full;
         tampered[tampered.find("\n8\n") + 1] = '9';
         return !OpenCheckpoint(tampered, *lv, *policy).ok();
       }},
  };
  bool all = true;
  for (const Check& c : checks) {
    const bool ok = c.run();
    out << (ok ? "ok    " : "FAIL  ") << c.name << "\n";
    all = all && ok;
  }
  out << (all ? "selfcheck: all checks passed\n" : "selfcheck: FAILED\n");
  return all;
}

}  // namespace infratrail
