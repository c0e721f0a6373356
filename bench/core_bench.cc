// Benchmarks of core/: leaf hashing, roots, proof planning/rehash and
// verification. Compare hashing with `openssl speed -evp sha256` on the same
// machine (docs/benchmarks.md); bytes/s counts the bytes SHA-256 consumes.
#include <map>

#include "benchmark/benchmark.h"
#include "core/compact_range.h"
#include "core/note.h"
#include "core/proof.h"

namespace infratrail {
namespace {

void BM_HashLeaf(benchmark::State& state) {
  Hasher h;
  const std::string entry(static_cast<size_t>(state.range(0)), 'e');
  for (auto _ : state) benchmark::DoNotOptimize(h.HashLeaf(entry));
  state.SetBytesProcessed(state.iterations() * (state.range(0) + 1));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashLeaf)->Arg(16)->Arg(64)->Arg(300)->Arg(1024)->Arg(8192);

void BM_HashChildren(benchmark::State& state) {
  Hasher h;
  Hash a = h.HashLeaf("a"), b = h.HashLeaf("b");
  for (auto _ : state) {
    a = h.HashChildren(a, b);
    benchmark::DoNotOptimize(a);
  }
  state.SetBytesProcessed(state.iterations() * 65);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashChildren);

// Root of a tree of N leaves built by appending leaf hashes to a compact
// range (the sequencer's work per entry, minus I/O).
void BM_RootOfLeaves(benchmark::State& state) {
  Hasher h;
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  std::vector<Hash> leaves(n);
  for (uint64_t i = 0; i < n; ++i) leaves[i] = h.HashLeaf(std::to_string(i));
  for (auto _ : state) {
    CompactRange r;
    for (const Hash& l : leaves) r.AppendLeaf(l, h);
    benchmark::DoNotOptimize(r.Root(h));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RootOfLeaves)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// Hashing 300-byte entries and building the tree: the verifier's full audit.
void BM_AuditEntries(benchmark::State& state) {
  Hasher h;
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  std::vector<std::string> entries(n, std::string(300, 'x'));
  for (uint64_t i = 0; i < n; ++i) entries[i].replace(0, 8, std::to_string(i + 10'000'000));
  for (auto _ : state) {
    CompactRange r;
    for (const std::string& e : entries) r.AppendLeaf(h.HashLeaf(e), h);
    benchmark::DoNotOptimize(r.Root(h));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * 301);
}
BENCHMARK(BM_AuditEntries)->Arg(100'000)->Unit(benchmark::kMillisecond);

class ProofFixture : public benchmark::Fixture {
 public:
  void SetUp(const benchmark::State&) override {
    if (!nodes_.empty()) return;
    Hasher h;
    for (uint64_t i = 0; i < kSize; ++i) {
      range_.AppendLeaf(h.HashLeaf(std::to_string(i)), h,
                        [&](NodeId id, const Hash& x) { nodes_[id] = x; });
    }
    root_ = *range_.Root(h);
  }
  std::vector<Hash> Proof(const ProofPlan& plan, Hasher& h) const {
    std::vector<Hash> fetched;
    for (const NodeId& id : plan.nodes) fetched.push_back(nodes_.at(id));
    return *plan.Rehash(fetched, h);
  }
  static constexpr uint64_t kSize = 1'000'003;
  std::map<NodeId, Hash> nodes_;
  CompactRange range_;
  Hash root_{};
};

BENCHMARK_F(ProofFixture, PlanAndRehashInclusion)(benchmark::State& state) {
  Hasher h;
  uint64_t i = 0;
  for (auto _ : state) {
    i = (i + 7919) % kSize;
    benchmark::DoNotOptimize(Proof(*PlanInclusion(i, kSize), h));
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_F(ProofFixture, PlanOnlyInclusion)(benchmark::State& state) {
  uint64_t i = 0;
  for (auto _ : state) {
    i = (i + 7919) % kSize;
    benchmark::DoNotOptimize(PlanInclusion(i, kSize));
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_F(ProofFixture, VerifyInclusion)(benchmark::State& state) {
  Hasher h;
  const uint64_t i = 123'457;
  const std::vector<Hash> proof = Proof(*PlanInclusion(i, kSize), h);
  const Hash leaf = nodes_.at(NodeId{0, i});
  for (auto _ : state) benchmark::DoNotOptimize(VerifyInclusion(i, kSize, leaf, proof, root_, h));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_F(ProofFixture, VerifyConsistency)(benchmark::State& state) {
  Hasher h;
  const uint64_t m = 654'321;
  const std::vector<Hash> proof = Proof(*PlanConsistency(m, kSize), h);
  CompactRange old;
  Hasher h2;
  for (uint64_t k = 0; k < m; ++k) old.AppendLeaf(nodes_.at(NodeId{0, k}), h2);
  const Hash root1 = *old.Root(h2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyConsistency(m, kSize, root1, root_, proof, h));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SignAndOpenCheckpoint(benchmark::State& state) {
  NoteSigner s = *NoteSigner::FromSeed("bench.example/log", std::string(32, 'k'));
  NoteVerifier v = *NoteVerifier::Parse(s.VerifierKey());
  const std::string text =
      "bench.example/log\n1000000\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
  for (auto _ : state) benchmark::DoNotOptimize(OpenNote(*SignNote(text, {s}), {v}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignAndOpenCheckpoint);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
