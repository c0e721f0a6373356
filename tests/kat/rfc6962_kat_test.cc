// RFC 6962 / RFC 9162 known answers: hashes, roots, published proofs, every
// proof of the 8-leaf tree, and the transparency-dev/merkle probes.
#include <map>

#include "core/compact_range.h"
#include "core/proof.h"
#include "tests/kat/kat_util.h"

namespace infratrail::kat {
namespace {

class Rfc6962Kat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    v_ = new nlohmann::json(Load("rfc6962_vectors.json"));
    Hasher h;
    CompactRange r;
    roots_ = new std::vector<Hash>{*r.Root(h)};
    nodes_ = new std::map<NodeId, Hash>;
    for (const auto& in : (*v_)["leaf_inputs"]) {
      r.AppendLeaf(h.HashLeaf(Unhex(in)), h, [](NodeId id, const Hash& x) { (*nodes_)[id] = x; });
      roots_->push_back(*r.Root(h));
    }
  }
  static std::vector<Hash> Prove(const ProofPlan& plan) {
    Hasher h;
    std::vector<Hash> fetched;
    for (const NodeId& id : plan.nodes) fetched.push_back(nodes_->at(id));
    return *plan.Rehash(fetched, h);
  }
  static const nlohmann::json& V() { return *v_; }

  static nlohmann::json* v_;
  static std::vector<Hash>* roots_;
  static std::map<NodeId, Hash>* nodes_;
  Hasher h_;
};
nlohmann::json* Rfc6962Kat::v_ = nullptr;
std::vector<Hash>* Rfc6962Kat::roots_ = nullptr;
std::map<NodeId, Hash>* Rfc6962Kat::nodes_ = nullptr;

TEST_F(Rfc6962Kat, HasherVectors) {
  ASSERT_FALSE(V()["hasher_vectors"].empty());
  for (const auto& t : V()["hasher_vectors"]) {
    SCOPED_TRACE(t["desc"].get<std::string>());
    const std::string kind = t["kind"];
    Hash got;
    if (kind == "empty_root") {
      got = Hasher::EmptyRoot();
    } else if (kind == "leaf") {
      got = h_.HashLeaf(Unhex(t["input_hex"]));
    } else {
      // Children here are raw byte strings, not always 32-byte hashes.
      const std::string l = Unhex(t["left_hex"]), r = Unhex(t["right_hex"]);
      got = h_.Sha256({"\x01", l, r});
      if (l.size() == 32 && r.size() == 32) {
        EXPECT_EQ(h_.HashChildren(H(t["left_hex"]), H(t["right_hex"])), got);
      }
    }
    EXPECT_EQ(HashToHex(got), t["expected"].get<std::string>());
  }
  EXPECT_EQ(HashToHex(Hasher::EmptyRoot()), V()["empty_tree_hash"].get<std::string>());
}

TEST_F(Rfc6962Kat, LeafNodeAndRootHashes) {
  for (size_t i = 0; i < V()["leaf_inputs"].size(); ++i) {
    EXPECT_EQ(h_.HashLeaf(Unhex(V()["leaf_inputs"][i])), H(V()["leaf_hashes"][i]));
  }
  const auto& levels = V()["node_hashes"];
  for (uint32_t level = 0; level < levels.size(); ++level) {
    for (uint64_t i = 0; i < levels[level].size(); ++i) {
      EXPECT_EQ(nodes_->at(NodeId{level, i}), H(levels[level][i])) << level << "," << i;
    }
  }
  ASSERT_EQ(V()["root_hashes"].size(), roots_->size());
  for (size_t n = 0; n < roots_->size(); ++n)
    EXPECT_EQ((*roots_)[n], H(V()["root_hashes"][n])) << n;
}

TEST_F(Rfc6962Kat, PublishedInclusionProofs) {
  for (const auto& t : V()["inclusion_proofs"]) {
    const uint64_t i = t["leaf_index"], n = t["tree_size"];
    EXPECT_EQ(h_.HashLeaf(Unhex(t["leaf_input"])), H(t["leaf_hash"]));
    const std::vector<Hash> want = *HashesOrNull(t["proof"]);
    EXPECT_EQ(Prove(*PlanInclusion(i, n)), want) << i << "/" << n;
    EXPECT_TRUE(VerifyInclusion(i, n, H(t["leaf_hash"]), want, H(t["root"]), h_).ok());
  }
}

TEST_F(Rfc6962Kat, PublishedConsistencyProofs) {
  for (const auto& t : V()["consistency_proofs"]) {
    const uint64_t m = t["size1"], n = t["size2"];
    const std::vector<Hash> want = *HashesOrNull(t["proof"]);
    EXPECT_EQ(Prove(*PlanConsistency(m, n)), want) << m << "->" << n;
    EXPECT_TRUE(VerifyConsistency(m, n, H(t["root1"]), H(t["root2"]), want, h_).ok());
  }
}

TEST_F(Rfc6962Kat, EveryProofOfTheEightLeafTree) {
  ASSERT_EQ(V()["all_inclusion_proofs"].size(), 36u);
  for (const auto& t : V()["all_inclusion_proofs"]) {
    const uint64_t i = t["leaf_index"], n = t["tree_size"];
    const std::vector<Hash> want = *HashesOrNull(t["proof"]);
    EXPECT_EQ(Prove(*PlanInclusion(i, n)), want) << i << "/" << n;
    EXPECT_TRUE(VerifyInclusion(i, n, nodes_->at(NodeId{0, i}), want, (*roots_)[n], h_).ok());
  }
  ASSERT_EQ(V()["all_consistency_proofs"].size(), 36u);
  for (const auto& t : V()["all_consistency_proofs"]) {
    const uint64_t m = t["size1"], n = t["size2"];
    const std::vector<Hash> want = *HashesOrNull(t["proof"]);
    EXPECT_EQ(Prove(*PlanConsistency(m, n)), want) << m << "->" << n;
    EXPECT_TRUE(VerifyConsistency(m, n, (*roots_)[m], (*roots_)[n], want, h_).ok());
  }
}

TEST_F(Rfc6962Kat, InclusionProbes) {
  ASSERT_FALSE(V()["inclusion_probes"].empty());
  for (const auto& t : V()["inclusion_probes"]) {
    SCOPED_TRACE(t["file"].get<std::string>() + ": " + t["desc"].get<std::string>());
    std::optional<Hash> leaf = HashOrNull(t["leaf_hash"]), root = HashOrNull(t["root"]);
    std::optional<std::vector<Hash>> proof = HashesOrNull(t["proof"]);
    const bool ok = leaf && root && proof &&
                    VerifyInclusion(t["leaf_index"], t["tree_size"], *leaf, *proof, *root, h_).ok();
    EXPECT_EQ(ok, !t["want_error"].get<bool>());
  }
}

TEST_F(Rfc6962Kat, ConsistencyProbes) {
  ASSERT_FALSE(V()["consistency_probes"].empty());
  for (const auto& t : V()["consistency_probes"]) {
    SCOPED_TRACE(t["file"].get<std::string>() + ": " + t["desc"].get<std::string>());
    std::optional<Hash> r1 = HashOrNull(t["root1"]), r2 = HashOrNull(t["root2"]);
    std::optional<std::vector<Hash>> proof = HashesOrNull(t["proof"]);
    if ((!r1 || !r2) && !t["want_error"].get<bool>()) {
      // Our API takes 32-byte hashes, so a probe whose roots are other byte
      // strings cannot be expressed. The only such accepting probe is equal
      // sizes with an empty proof, where the RFC check is root1 == root2.
      EXPECT_EQ(t["size1"], t["size2"]);
      EXPECT_TRUE(t["proof"].empty());
      EXPECT_EQ(t["root1"], t["root2"]);
      continue;
    }
    const bool ok =
        r1 && r2 && proof && VerifyConsistency(t["size1"], t["size2"], *r1, *r2, *proof, h_).ok();
    EXPECT_EQ(ok, !t["want_error"].get<bool>());
  }
}

TEST_F(Rfc6962Kat, LeafHashTreeVectors) {
  const auto& v = V()["leaf_hash_tree_vectors"];
  CompactRange r;
  std::map<std::string, Hash> roots;
  for (const auto& l : v["leaf_hashes"]) {
    r.AppendLeaf(H(l), h_);
    roots[std::to_string(r.end())] = *r.Root(h_);
  }
  for (const auto& [size, root] : v["roots"].items()) EXPECT_EQ(roots.at(size), H(root)) << size;
  for (const auto& t : v["consistency_proofs"]) {
    std::optional<std::vector<Hash>> proof = HashesOrNull(t["proof"]);
    const bool ok =
        proof &&
        VerifyConsistency(t["size1"], t["size2"], H(t["root1"]), H(t["root2"]), *proof, h_).ok();
    EXPECT_EQ(ok, !t["want_error"].get<bool>()) << t["size1"] << "->" << t["size2"];
  }
}

}  // namespace
}  // namespace infratrail::kat
