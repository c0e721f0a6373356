#include "server/witness_collector.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/checkpoint.h"
#include "core/cosignature.h"
#include "core/hash.h"
#include "core/http/http_server.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/proof.h"
#include "core/testing/merkle_reference.h"
#include "core/witness_policy.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/metrics.h"

namespace infratrail {
namespace {

HttpReply Reply(int status, std::string text, absl::string_view content_type = "text/plain") {
  HttpReply r;
  r.status = status;
  r.text = std::move(text);
  r.content_type = content_type;
  return r;
}

// A scripted tlog-witness: checks `old` against the size it holds (409 with
// text/x.tlog.size otherwise) and the consistency proof against the root it
// holds (422), then cosigns. Modes make it misbehave.
class FakeWitness : public HttpHandler {
 public:
  enum class Mode { kHonest, kError500, kInconsistent422, kWrongKey, kHang };

  FakeWitness(const std::string& name, char seed)
      : key_(*NoteSigner::FromSeed(name, std::string(32, seed))) {
    server_ = *HttpServer::Start(HttpServerOptions{.address = "127.0.0.1:0",
                                                   .threads = 1,
                                                   .max_connections = 0,
                                                   .max_connections_per_address = 0,
                                                   .head_timeout = absl::Seconds(30),
                                                   .idle_timeout = absl::Seconds(30),
                                                   .send_timeout = absl::Seconds(30),
                                                   .max_body_bytes = 1 << 16,
                                                   .flag_name = "test"},
                                 this, {});
  }
  ~FakeWitness() override {
    Release();
    server_->Stop();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }
  std::string vkey() const { return key_.CosignatureVerifierKey(); }
  void set_mode(Mode m) {
    absl::MutexLock l(&mu_);
    mode_ = m;
  }
  void set_state(uint64_t size, const Hash& root) {
    absl::MutexLock l(&mu_);
    size_ = size;
    root_ = root;
  }
  uint64_t size() {
    absl::MutexLock l(&mu_);
    return size_;
  }
  int requests() {
    absl::MutexLock l(&mu_);
    return requests_;
  }
  std::vector<uint64_t> olds() {
    absl::MutexLock l(&mu_);
    return olds_;
  }
  // Answers the requests held by kHang (with 503).
  void Release() {
    std::vector<HttpResponder> held;
    {
      absl::MutexLock l(&mu_);
      held.swap(held_);
    }
    for (HttpResponder& r : held) std::move(r)(Reply(503, "released\n"));
  }
  void WaitForRequests(int n) {
    absl::MutexLock l(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_ >= n; };
    mu_.Await(absl::Condition(&reached));
  }

  void Handle(const HttpRequest& req, HttpResponder respond) override {
    absl::MutexLock l(&mu_);
    ++requests_;
    if (req.method != "POST" || req.url != "/add-checkpoint") {
      std::move(respond)(Reply(404, "no such route\n"));
      return;
    }
    std::pair<std::string, std::string> parts =
        absl::StrSplit(req.body, absl::MaxSplits("\n\n", 1));
    std::vector<std::string> head = absl::StrSplit(parts.first, '\n');
    uint64_t old = 0;
    if (head.empty() || !absl::SimpleAtoi(absl::StripPrefix(head[0], "old "), &old)) {
      std::move(respond)(Reply(400, "bad old line\n"));
      return;
    }
    olds_.push_back(old);
    switch (mode_) {
      case Mode::kError500:
        std::move(respond)(Reply(500, "oops\n"));
        return;
      case Mode::kInconsistent422:
        std::move(respond)(Reply(422, "not consistent\n"));
        return;
      case Mode::kHang:
        held_.push_back(std::move(respond));
        return;
      default:
        break;
    }
    if (old != size_) {
      std::move(respond)(Reply(409, absl::StrCat(size_, "\n"), "text/x.tlog.size"));
      return;
    }
    absl::StatusOr<Note> note = ParseNote(parts.second);
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(note->text);
    std::vector<Hash> proof;
    for (size_t i = 1; i < head.size(); ++i) proof.push_back(*HashFromBase64(head[i], "proof"));
    Hasher hasher;
    if (cp->size < old ||
        (old > 0 && old < cp->size &&
         !VerifyConsistency(old, cp->size, root_, cp->root, proof, hasher).ok()) ||
        (old == cp->size && cp->root != root_ && old > 0)) {
      std::move(respond)(Reply(422, "bad proof\n"));
      return;
    }
    size_ = cp->size;
    root_ = cp->root;
    const NoteSigner& signer = mode_ == Mode::kWrongKey ? other_ : key_;
    std::move(respond)(Reply(200, Cosign(signer, note->text, 1700000000)->Line()));
  }

 private:
  const NoteSigner key_;
  const NoteSigner other_ = *NoteSigner::FromSeed(key_.name(), std::string(32, '!'));
  std::unique_ptr<HttpServer> server_;
  absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kHonest;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  Hash root_ ABSL_GUARDED_BY(mu_){};
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> olds_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpResponder> held_ ABSL_GUARDED_BY(mu_);
};

class WitnessCollectorTest : public ::testing::Test {
 protected:
  WitnessCollectorTest() {
    for (int i = 0; i < 100; ++i) tree_.AddEntry(absl::StrCat("entry ", i));
    witnesses_.push_back(std::make_unique<FakeWitness>("w.example/a", 'a'));
    witnesses_.push_back(std::make_unique<FakeWitness>("w.example/b", 'b'));
    witnesses_.push_back(std::make_unique<FakeWitness>("w.example/c", 'c'));
  }

  // `quorum`: a group line's threshold over the three witnesses.
  std::shared_ptr<const TlogPolicy> Policy(const std::string& quorum,
                                           const std::string& third_url = "") {
    std::string text = absl::StrCat("log ", log_.VerifierKey(), "\n");
    const char* names[] = {"first", "second", "third"};
    for (size_t i = 0; i < 3; ++i) {
      absl::StrAppend(&text, "witness ", names[i], " ", witnesses_[i]->vkey(), " ",
                      i == 2 && !third_url.empty() ? third_url : witnesses_[i]->url(), "\n");
    }
    absl::StrAppend(&text, "group g ", quorum, " first second third\nquorum g\n");
    absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(text, "policy");
    EXPECT_TRUE(p.ok()) << p.status();
    return std::make_shared<const TlogPolicy>(*std::move(p));
  }

  std::unique_ptr<WitnessCollector> Start(std::shared_ptr<const TlogPolicy> policy,
                                          std::string sizes = "",
                                          WitnessCollectorOptions options = {}) {
    options.timeout = absl::Seconds(5);
    options.retry_backoff = absl::Milliseconds(1);
    absl::StatusOr<std::unique_ptr<WitnessCollector>> c = WitnessCollector::Start(
        std::move(policy), sizes,
        [this](uint64_t a, uint64_t b) -> absl::StatusOr<std::vector<Hash>> {
          return tree_.Consistency(a, b);
        },
        options, &metrics_);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  Checkpoint Cp(uint64_t size) {
    return Checkpoint{
        .origin = log_.name(), .size = size, .root = tree_.Root(size), .extensions = {}};
  }
  std::string Note(uint64_t size) { return *SignNote(Cp(size).Body(), {log_}); }

  // The published note: the log's signature plus the cosignatures, as a
  // reader with the policy opens it.
  absl::StatusOr<VerifiedCheckpoint> Open(uint64_t size, const WitnessCollector::Result& r,
                                          std::shared_ptr<const TlogPolicy> policy) {
    absl::StatusOr<std::string> note = AddSignatures(Note(size), r.cosignatures);
    if (!note.ok()) return note.status();
    return OpenCheckpoint(*note, *NoteVerifier::Parse(log_.VerifierKey()),
                          WitnessPolicy::FromTlogPolicy(std::move(policy)));
  }

  const NoteSigner log_ = *NoteSigner::FromSeed("log.example/w", std::string(32, 'L'));
  MerkleReference tree_;
  prometheus::Registry registry_;
  Metrics metrics_{registry_};
  std::vector<std::unique_ptr<FakeWitness>> witnesses_;
};

TEST_F(WitnessCollectorTest, QuorumOfTwoMetWithOneWitnessDown) {
  auto policy = Policy("2", "http://127.0.0.1:1");  // nothing listens on port 1
  std::unique_ptr<WitnessCollector> c = Start(policy);
  WitnessCollector::Result r = c->Collect(Note(10), 10);
  ASSERT_TRUE(r.quorum_met) << r.detail;
  absl::StatusOr<VerifiedCheckpoint> v = Open(10, r, policy);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->witness_count, 2u);
  // The next checkpoint is sent from the size each witness cosigned, with
  // a proof (the fake refuses a wrong one with 422).
  r = c->Collect(Note(37), 37);
  ASSERT_TRUE(r.quorum_met) << r.detail;
  EXPECT_EQ(witnesses_[0]->olds(), (std::vector<uint64_t>{0, 10}));
  EXPECT_EQ(witnesses_[1]->size(), 37u);
}

TEST_F(WitnessCollectorTest, QuorumNotMetSaysWhichWitnessesFailedAndWhy) {
  auto policy = Policy("2", "http://127.0.0.1:1");
  witnesses_[1]->set_mode(FakeWitness::Mode::kError500);
  std::unique_ptr<WitnessCollector> c = Start(policy);
  WitnessCollector::Result r = c->Collect(Note(10), 10);
  EXPECT_FALSE(r.quorum_met);
  EXPECT_EQ(r.cosignatures.size(), 1u);
  EXPECT_NE(r.detail.find("second: 500"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("third:"), std::string::npos) << r.detail;
  // Transient failures are retried, a bounded number of times.
  EXPECT_EQ(witnesses_[1]->requests(), WitnessCollectorOptions{}.attempts);
  // Once the witness is back, the quorum is met again.
  witnesses_[1]->set_mode(FakeWitness::Mode::kHonest);
  EXPECT_TRUE(c->Collect(Note(11), 11).quorum_met);
}

TEST_F(WitnessCollectorTest, LearnsTheWitnessSizeFrom409AndPersistsIt) {
  auto policy = Policy("3");
  // The second witness already cosigned size 20 (say, before our store lost
  // track); the third was reset and holds nothing.
  witnesses_[1]->set_state(20, tree_.Root(20));
  const std::string known = EncodeWitnessSizes({{witnesses_[2]->vkey(), 30}});
  std::unique_ptr<WitnessCollector> c = Start(policy, known);
  WitnessCollector::Result r = c->Collect(Note(50), 50);
  ASSERT_TRUE(r.quorum_met) << r.detail;
  EXPECT_EQ(witnesses_[1]->olds(), (std::vector<uint64_t>{0, 20}));
  EXPECT_EQ(witnesses_[2]->olds(), (std::vector<uint64_t>{30, 0}));
  std::optional<std::string> sizes = c->SizesToPersist();
  ASSERT_TRUE(sizes.has_value());
  for (const auto& [vkey, size] : ParseWitnessSizes(*sizes)) EXPECT_EQ(size, 50u) << vkey;
  EXPECT_EQ(ParseWitnessSizes(*sizes).size(), 3u);
  EXPECT_FALSE(c->SizesToPersist().has_value());  // nothing new since

  // A restart from the persisted sizes sends each its own size at once.
  c.reset();
  std::unique_ptr<WitnessCollector> again = Start(policy, *sizes);
  ASSERT_TRUE(again->Collect(Note(60), 60).quorum_met);
  EXPECT_EQ(witnesses_[0]->olds().back(), 50u);
  EXPECT_EQ(witnesses_[0]->olds().size(), 2u);  // no 409 round trip
}

TEST_F(WitnessCollectorTest, RefusalsAreNotRetriedAndBadCosignaturesDoNotCount) {
  auto policy = Policy("3");
  witnesses_[0]->set_mode(FakeWitness::Mode::kInconsistent422);
  witnesses_[1]->set_mode(FakeWitness::Mode::kWrongKey);
  std::unique_ptr<WitnessCollector> c = Start(policy);
  WitnessCollector::Result r = c->Collect(Note(5), 5);
  EXPECT_FALSE(r.quorum_met);
  EXPECT_EQ(witnesses_[0]->requests(), 1);
  EXPECT_NE(r.detail.find("first: 422"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("second: 200 without a valid cosignature"), std::string::npos)
      << r.detail;
  ASSERT_EQ(r.cosignatures.size(), 1u);
  EXPECT_EQ(r.cosignatures[0].name, "w.example/c");
}

TEST_F(WitnessCollectorTest, AWitnessAheadOfTheLogIsRefusedWithoutARequest) {
  auto policy = Policy("1");
  std::unique_ptr<WitnessCollector> c =
      Start(policy, EncodeWitnessSizes({{witnesses_[0]->vkey(), 90}}));
  WitnessCollector::Result r = c->Collect(Note(40), 40);
  EXPECT_TRUE(r.quorum_met) << r.detail;  // 1 of 3: the others cosign
  EXPECT_EQ(witnesses_[0]->requests(), 0);
  r = c->Collect(Note(41), 41);
  EXPECT_EQ(witnesses_[0]->requests(), 0);
}

TEST_F(WitnessCollectorTest, AHangingWitnessDelaysNeitherTheQuorumNorStop) {
  auto policy = Policy("2");
  witnesses_[2]->set_mode(FakeWitness::Mode::kHang);
  std::unique_ptr<WitnessCollector> c = Start(policy);
  WitnessCollector::Result r = c->Collect(Note(8), 8);
  EXPECT_TRUE(r.quorum_met) << r.detail;
  witnesses_[2]->WaitForRequests(1);
  // Later checkpoints still go to the others while the third hangs.
  EXPECT_TRUE(c->Collect(Note(9), 9).quorum_met);
  EXPECT_TRUE(c->Collect(Note(12), 12).quorum_met);
  EXPECT_EQ(witnesses_[2]->requests(), 1);
  // Stop cancels the hanging request (its timeout is 5 s; the test's
  // bound is ctest's, this would hang it only if cancelling were broken).
  c->Stop();
  c.reset();
}

TEST_F(WitnessCollectorTest, RefusesAWitnessWithoutAUrl) {
  absl::StatusOr<TlogPolicy> p =
      TlogPolicy::Parse(absl::StrCat("witness w ", witnesses_[0]->vkey(), "\nquorum w\n"), "p");
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<std::unique_ptr<WitnessCollector>> c =
      WitnessCollector::Start(std::make_shared<const TlogPolicy>(*p), "", nullptr, {}, &metrics_);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("witness w has no URL"), absl::string_view::npos);
}

TEST(WitnessSizes, EncodeParseRoundTripAndJunkIsIgnored) {
  const std::vector<std::pair<std::string, uint64_t>> in = {{"a+01020304+AAAA", 7},
                                                            {"b+01020304+BBBB", 0}};
  EXPECT_EQ(ParseWitnessSizes(EncodeWitnessSizes(in)), in);
  EXPECT_TRUE(ParseWitnessSizes("junk\nx y\n12\n").empty());
}

}  // namespace
}  // namespace infratrail
