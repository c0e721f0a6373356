// The kill -9 test (DESIGN.md invariants 1, 2, 3, 4 and 6). Rounds on one
// data directory: concurrent writers and a checkpoint reader run against
// the server, which is SIGKILLed at a random moment. After every restart:
//   - retried calls are safe: an acknowledged entry comes back as a
//     duplicate at its index, and the calls the kill cut off are resent;
//   - every acknowledged entry is at its index with identical bytes, and no
//     entry is in the log twice;
//   - the root recomputed from all entries equals the latest checkpoint's;
//   - every checkpoint ever seen verifies under the log key and is
//     consistent with the newest, and a restart never serves an older one.
// At the end the log holds exactly what clients were told it holds.
//
// INFRATRAIL_CRASH_ROUNDS (default 20) and INFRATRAIL_CRASH_SEED override
// the defaults. The seed is printed; it fixes kill delays and batch shapes,
// not thread timing.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/hash.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "tests/server/log_client.h"
#include "tests/server/server_process.h"

namespace infratrail::testing {
namespace {

constexpr int kWriters = 4;
constexpr uint32_t kMaxBatch = 200;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = getenv(name);
  uint64_t n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) ? n : fallback;
}

// Everything clients were told, across all rounds.
class Observed {
 public:
  // Records acknowledged entries. `retry`: they may have been sent before,
  // so a duplicate is no error.
  void Ack(const std::vector<std::string>& entries, const v1::AddEventsResponse& resp,
           bool retry = false) {
    absl::MutexLock l(&mu_);
    for (int i = 0; i < resp.entries_size(); ++i) {
      const uint64_t index = resp.entries(i).index();
      if (resp.entries(i).duplicate() && !retry) {
        errors_.push_back(absl::StrCat("unique entry reported as a duplicate of ", index));
      }
      auto [it, inserted] = acked_.emplace(index, entries[i]);
      if (!inserted && it->second != entries[i]) {
        errors_.push_back(absl::StrCat("index ", index, " acknowledged for two entries"));
      }
    }
  }
  // Entries of a call cut off by the kill: the client cannot know whether
  // they were committed.
  void CutOff(const std::vector<std::string>& entries) {
    absl::MutexLock l(&mu_);
    cut_off_.insert(cut_off_.end(), entries.begin(), entries.end());
  }
  std::vector<std::string> TakeCutOff() {
    absl::MutexLock l(&mu_);
    return std::exchange(cut_off_, {});
  }
  // Opens and records a checkpoint note; two checkpoints of one size must
  // have one root.
  void SawCheckpoint(const std::string& note, const std::string& vkey) {
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey);
    absl::MutexLock l(&mu_);
    if (!cp.ok()) {
      errors_.push_back(absl::StrCat("checkpoint does not verify: ", cp.status().ToString()));
      return;
    }
    auto [it, inserted] = checkpoints_.emplace(cp->size, *cp);
    if (!inserted && it->second.root != cp->root) {
      errors_.push_back(absl::StrCat("two roots for tree size ", cp->size));
    }
  }
  // Records the checkpoint of a wait_for_checkpoint reply, and checks each
  // entry's inclusion proof against it.
  void SawReceipts(const std::vector<std::string>& entries, const v1::AddEventsResponse& resp,
                   const std::string& vkey) {
    SawCheckpoint(resp.checkpoint(), vkey);
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(resp.checkpoint(), vkey);
    if (!cp.ok()) return;
    for (int i = 0; i < resp.entries_size(); ++i) {
      absl::Status st = VerifyEntryInclusion(*cp, resp.entries(i).index(), entries[i],
                                             resp.entries(i).inclusion_proof());
      if (!st.ok()) Error(absl::StrCat("AddEvents inclusion proof: ", st.ToString()));
    }
  }
  void Error(std::string what) {
    absl::MutexLock l(&mu_);
    errors_.push_back(std::move(what));
  }

  std::map<uint64_t, std::string> acked() const {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  std::map<uint64_t, Checkpoint> checkpoints() const {
    absl::MutexLock l(&mu_);
    return checkpoints_;
  }
  std::vector<std::string> errors() const {
    absl::MutexLock l(&mu_);
    return errors_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, std::string> acked_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Checkpoint> checkpoints_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cut_off_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

// One round's load: writers and a checkpoint reader until the server dies.
// A failed call before `killed` is set is an error.
void RunLoad(LogClient& client, const std::string& vkey, uint64_t seed,
             const std::atomic<bool>& killed, Observed& seen, std::vector<std::thread>& threads) {
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&client, &vkey, &killed, &seen, seed, t] {
      std::mt19937_64 rng(seed + t);
      for (;;) {
        const std::vector<std::string> entries = MakeEvents(1 + rng() % kMaxBatch);
        v1::AddEventsResponse resp;
        const bool wait = rng() % 4 == 0;
        grpc::Status st = client.AddEvents(entries, wait, &resp);
        if (!st.ok()) {
          if (!killed) seen.Error(absl::StrCat("AddEvents before the kill: ", st.error_message()));
          seen.CutOff(entries);
          return;
        }
        seen.Ack(entries, resp);
        if (wait) seen.SawReceipts(entries, resp, vkey);
      }
    });
  }
  threads.emplace_back([&client, &killed, &seen, &vkey] {
    for (;;) {
      std::string note;
      grpc::Status st = client.GetCheckpoint(&note);
      if (!st.ok()) {
        if (!killed)
          seen.Error(absl::StrCat("GetCheckpoint before the kill: ", st.error_message()));
        return;
      }
      seen.SawCheckpoint(note, vkey);
      absl::SleepFor(absl::Milliseconds(5));  // pacing, to leave CPU to the writers
    }
  });
}

// Retrying is safe (invariant 6): resubmits the calls the kill cut off and
// a sample of acknowledged entries. An acknowledged entry must come back as
// a duplicate at its index; a cut-off one, duplicate or not, is then
// acknowledged like any other.
void RetryAfterRestart(LogClient& client, Observed& seen, std::mt19937_64& rng) {
  std::vector<std::pair<uint64_t, std::string>> sample;
  const std::map<uint64_t, std::string> acked = seen.acked();
  std::sample(acked.begin(), acked.end(), std::back_inserter(sample), 100, rng);
  const std::vector<std::string> entries = seen.TakeCutOff();
  for (size_t begin = 0; begin < entries.size(); begin += kMaxEntriesPerAdd) {
    const std::vector<std::string> part(
        entries.begin() + begin,
        entries.begin() + std::min(entries.size(), begin + kMaxEntriesPerAdd));
    v1::AddEventsResponse resp;
    grpc::Status st = client.AddEvents(part, false, &resp);
    EXPECT_TRUE(st.ok()) << "retry: " << st.error_message();
    if (!st.ok()) return;
    seen.Ack(part, resp, /*retry=*/true);
  }
  if (sample.empty()) return;
  std::vector<std::string> again;
  again.reserve(sample.size());
  for (const auto& [index, bytes] : sample) again.push_back(bytes);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(again, false, &resp).ok());
  ASSERT_EQ(resp.entries_size(), static_cast<int>(sample.size()));
  for (size_t i = 0; i < sample.size(); ++i) {
    EXPECT_TRUE(resp.entries(i).duplicate()) << "index " << sample[i].first;
    EXPECT_EQ(resp.entries(i).index(), sample[i].first);
  }
}

// The checks after a restart. Returns the verified tree size.
uint64_t VerifyAfterRestart(LogClient& client, const std::string& vkey, Observed& seen) {
  const std::map<uint64_t, Checkpoint> before = seen.checkpoints();
  std::string note;
  EXPECT_TRUE(client.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> served = OpenLogCheckpoint(note, vkey);
  EXPECT_TRUE(served.ok()) << served.status();
  if (served.ok() && !before.empty()) {
    EXPECT_GE(served->size, before.rbegin()->first) << "restart served an older checkpoint";
  }
  // A checkpoint covering every acknowledged entry.
  absl::StatusOr<Checkpoint> latest = AddAndWaitForCheckpoint(client, vkey);
  EXPECT_TRUE(latest.ok()) << latest.status();
  if (!latest.ok()) return 0;
  seen.SawCheckpoint(note, vkey);
  const std::map<uint64_t, std::string> acked = seen.acked();
  if (!acked.empty()) {
    EXPECT_GT(latest->size, acked.rbegin()->first);
  }

  std::vector<std::string> all;
  grpc::Status read = client.ReadRange(0, latest->size, &all);
  EXPECT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(all.size(), latest->size);
  int missing = 0;
  uint64_t first_missing = 0;
  for (const auto& [index, bytes] : acked) {
    if (index < all.size() && all[index] == bytes) continue;
    if (missing++ == 0) first_missing = index;
  }
  EXPECT_EQ(missing, 0) << "acknowledged entries lost or changed, of " << acked.size()
                        << "; the first at index " << first_missing;
  const absl::flat_hash_set<absl::string_view> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), all.size()) << "an entry is in the log twice";
  EXPECT_EQ(RootOfEntries(all), latest->root) << "tree not recomputable from its entries";

  for (const auto& [size, cp] : seen.checkpoints()) {
    if (size == 0) {
      EXPECT_EQ(cp.root, Hasher::EmptyRoot());
      continue;
    }
    v1::GetConsistencyProofRequest req;
    req.set_from_size(size);
    req.set_to_size(latest->size);
    v1::GetConsistencyProofResponse resp;
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    grpc::Status st = client.stub().GetConsistencyProof(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << "from " << size << ": " << st.error_message();
    absl::Status consistent = VerifyCheckpointConsistency(cp, *latest, resp.proof());
    EXPECT_TRUE(consistent.ok()) << "checkpoint of size " << size << " vs " << latest->size << ": "
                                 << consistent;
  }
  return latest->size;
}

TEST(CrashTest, AcknowledgedEntriesSurviveKill9) {
  const uint64_t rounds = EnvOr("INFRATRAIL_CRASH_ROUNDS", 20);
  const uint64_t seed = EnvOr("INFRATRAIL_CRASH_SEED", std::random_device()());
  std::cout << "crash_test: seed " << seed << " (INFRATRAIL_CRASH_SEED), " << rounds
            << " rounds (INFRATRAIL_CRASH_ROUNDS)" << std::endl;
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("infratrail-crash");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<LogKey> key = MakeLogKey((*dir)->path(), "log.key", "crash.infratrail.test/log");
  ASSERT_TRUE(key.ok()) << key.status();
  ServerOptions options;
  options.data_dir = (*dir)->path() + "/data";
  options.signing_key = key->key_file;

  std::mt19937_64 rng(seed);
  Observed seen;
  uint64_t tree_size = 0;
  const absl::Time start = absl::Now();
  for (uint64_t round = 0; round <= rounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round, ", seed ", seed));
    if (round == rounds) {
      // Before the last start: the whole tree recomputed from the entries
      // must match every stored tile, the tree state and the checkpoint.
      const std::string fsck =
          absl::StrCat(INFRATRAIL_SERVER_BIN, " fsck --data-dir ", options.data_dir, " --log-key '",
                       key->verifier_key, "' 2>&1");
      FILE* out = popen(fsck.c_str(), "r");
      ASSERT_NE(out, nullptr);
      std::string report;
      char buf[512];
      while (fgets(buf, sizeof(buf), out) != nullptr) report += buf;
      const int rc = pclose(out);
      EXPECT_EQ(rc, 0) << report;
      EXPECT_NE(report.find("fsck: consistent"), std::string::npos) << report;
      std::cout << report;
    }
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start((*dir)->path(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    LogClient client((*server)->address());
    RetryAfterRestart(client, seen, rng);
    tree_size = VerifyAfterRestart(client, key->verifier_key, seen);
    if (::testing::Test::HasFailure()) {
      std::cerr << (*server)->Stderr();
      break;
    }
    if (round == rounds) break;  // the last start only verifies

    std::atomic<bool> killed{false};
    std::vector<std::thread> threads;
    RunLoad(client, key->verifier_key, rng(), killed, seen, threads);
    const auto delay = std::uniform_int_distribution<int>(10, 300)(rng);
    // Not synchronisation: the random moment of the crash.
    absl::SleepFor(absl::Milliseconds(delay));
    killed = true;
    const absl::Status kill = (*server)->Kill();
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(kill.ok()) << kill;
  }
  for (const std::string& e : seen.errors()) ADD_FAILURE() << e;
  const size_t acked = seen.acked().size();
  EXPECT_GT(acked, 0u) << "no write was acknowledged: the test proved nothing";
  // Each restart added one event of its own to force a checkpoint.
  EXPECT_EQ(tree_size, acked + rounds + 1) << "the log holds entries no client was told of";
  std::cout << "crash_test: " << rounds << " rounds, " << acked << " acknowledged entries, "
            << seen.checkpoints().size() << " checkpoints seen, final tree size " << tree_size
            << ", " << absl::FormatDuration(absl::Now() - start) << std::endl;
}

}  // namespace
}  // namespace infratrail::testing
