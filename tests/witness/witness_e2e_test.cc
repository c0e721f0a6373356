// `infratrail-verifier witness` as an operator runs it: keygen, the key
// file's mode, the HTTP API as clients see it (status codes, content types,
// body cap), log lists re-read on SIGHUP and kept add-only across restarts,
// and kill -9 at random points never losing an acknowledged cosignature.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/http/http_fetcher.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "core/witness_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_process.h"
#include "tests/witness/witness_process.h"
#include "verifier/witness/witness_test_util.h"

namespace infratrail {
namespace {

using ::infratrail::testing::OriginHash;
using ::infratrail::testing::ReadFileOrEmpty;
using ::infratrail::testing::TempDir;
using ::infratrail::testing::TestLog;
using ::infratrail::testing::WitnessProcess;
using ::testing::HasSubstr;

class WitnessE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = *TempDir::Create("witness_e2e");
    key_file_ = dir_->path() + "/w1.key";
    ASSERT_EQ(Run({"keygen", "--name", "witness.example/w1", "--out", key_file_}), 0) << err_;
    vkey_ = out_.substr(0, out_.find('\n'));
    log_key_ = *NoteSigner::Generate("example.com/log");
    log_ = std::make_unique<TestLog>(log_key_, 2000);
    logs_file_ = dir_->path() + "/logs.txt";
    WriteList(logs_file_, {log_key_});
    state_ = dir_->path() + "/state";
    fetcher_ = *HttpFetcher::Create(HttpFetcherOptions{});
  }

  int Run(std::vector<std::string> args) {
    testing::WitnessCommand c = testing::RunWitnessCommand(dir_->path(), std::move(args));
    out_ = c.out;
    err_ = c.err;
    return c.rc;
  }

  static void WriteList(const std::string& path, const std::vector<NoteSigner>& keys,
                        const std::string& extra = "") {
    testing::WriteLogList(path, keys, extra);
  }

  std::unique_ptr<WitnessProcess> Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "--key",       key_file_, "--state-dir", state_,           "--listen",
        "127.0.0.1:0", "--logs",  logs_file_,    "--rate-per-log", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto w = std::make_unique<WitnessProcess>(dir_->path(), argv);
    EXPECT_TRUE(w->WaitListening()) << w->Stderr();
    return w;
  }

  // A body over the witness's cap is answered 413 and the connection
  // closed at once, often while the client is still sending: it then sees
  // the connection broken (Unavailable) rather than the 413. Either way
  // the body was refused unread.
  bool RefusedAsTooLarge(const WitnessProcess& w, const std::string& body) {
    absl::StatusOr<HttpResponse> r =
        fetcher_->Post(w.url("/add-checkpoint"), body, "text/plain", 1 << 20);
    if (r.ok()) return r->status == 413;
    return absl::IsUnavailable(r.status());
  }
  HttpResponse Post(const WitnessProcess& w, const std::string& body) {
    absl::StatusOr<HttpResponse> r =
        fetcher_->Post(w.url("/add-checkpoint"), body, "text/plain", 1 << 20);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(HttpResponse{});
  }
  HttpResponse Get(const WitnessProcess& w, absl::string_view path) {
    absl::StatusOr<HttpResponse> r = fetcher_->Get(w.url(path), 1 << 20);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(HttpResponse{});
  }

  // The cosignature lines verify, with the witness's printed key, over the
  // checkpoint.
  void ExpectCosignature(const std::string& checkpoint, const std::string& lines) {
    NoteVerifier w = *NoteVerifier::Parse(vkey_);
    absl::StatusOr<Note> note = OpenNote(absl::StrCat(checkpoint, lines), {w});
    ASSERT_TRUE(note.ok()) << note.status() << "\n" << lines;
    EXPECT_EQ(note->verified.size(), 1u);
  }

  std::unique_ptr<TempDir> dir_;
  std::string key_file_, vkey_, logs_file_, state_, out_, err_;
  NoteSigner log_key_;
  std::unique_ptr<TestLog> log_;
  std::unique_ptr<HttpFetcher> fetcher_;
};

TEST_F(WitnessE2eTest, KeygenWritesAPrivateKeyAndNeverOverwritesOne) {
  struct stat st {};
  ASSERT_EQ(stat(key_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(vkey_, ::testing::StartsWith("witness.example/w1+"));
  EXPECT_EQ(NoteVerifier::Parse(vkey_)->type(), SigType::kCosignatureV1);
  EXPECT_EQ(Run({"keygen", "--name", "witness.example/w1", "--out", key_file_}), 2);
  EXPECT_THAT(err_, HasSubstr("never overwritten"));
}

TEST_F(WitnessE2eTest, AKeyFileOthersCanReadIsRefused) {
  ASSERT_EQ(chmod(key_file_.c_str(), 0644), 0);
  WitnessProcess w(dir_->path(), {"--key", key_file_, "--state-dir", state_, "--listen",
                                  "127.0.0.1:0", "--logs", logs_file_});
  EXPECT_EQ(w.WaitExit(), 2);
  EXPECT_THAT(w.Stderr(), HasSubstr("chmod 600"));
}

TEST_F(WitnessE2eTest, TheHttpApiAnswersAsTheSpecSays) {
  auto w = Start();
  HttpResponse r = Post(*w, log_->Body(0, 10));
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectCosignature(log_->Checkpoint(10), r.body);

  r = Post(*w, log_->Body(5, 20));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "text/x.tlog.size");
  EXPECT_EQ(r.body, "10\n");
  EXPECT_EQ(Post(*w, log_->Body(30, 20)).status, 400);
  TestLog stranger(*NoteSigner::Generate("stranger.example"), 10);
  EXPECT_EQ(Post(*w, stranger.Body(0, 5)).status, 404);
  TestLog impostor(*NoteSigner::Generate("example.com/log"), 2000);
  EXPECT_EQ(Post(*w, impostor.Body(10, 20)).status, 403);
  std::vector<Hash> bad = log_->Proof(10, 20);
  bad[0][3] ^= 1;
  EXPECT_EQ(Post(*w, TestLog::Body(10, bad, log_->Checkpoint(20))).status, 422);

  // A body larger than a checkpoint with 63 proof lines could be.
  EXPECT_TRUE(RefusedAsTooLarge(*w, std::string(1 << 20, 'x')));
  EXPECT_EQ(Get(*w, "/add-checkpoint").status, 405);
  EXPECT_EQ(Get(*w, "/nothing").status, 404);

  // The monitoring view: what was cosigned, with both signatures.
  r = Get(*w, absl::StrCat("/", OriginHash("example.com/log"), "/checkpoint"));
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, ::testing::StartsWith(log_->Checkpoint(10).substr(0, 20)));
  NoteVerifier wv = *NoteVerifier::Parse(vkey_);
  absl::StatusOr<VerifiedCheckpoint> v = OpenCheckpoint(
      r.body, *NoteVerifier::Parse(log_key_.VerifierKey()), *WitnessPolicy::Create({wv}, 1));
  ASSERT_TRUE(v.ok()) << v.status() << r.body;
  EXPECT_EQ(v->checkpoint.size, 10u);
  EXPECT_EQ(Get(*w, absl::StrCat("/", OriginHash("stranger.example"), "/checkpoint")).status, 404);

  r = Get(*w, "/witness.json");
  ASSERT_EQ(r.status, 200);
  nlohmann::json j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["vkey"], vkey_);
  EXPECT_EQ(j["name"], "witness.example/w1");

  r = Get(*w, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("infratrail_witness_requests_total{"));
  EXPECT_THAT(r.body, HasSubstr("code=\"409\""));
  EXPECT_THAT(r.body,
              HasSubstr("infratrail_witness_cosignatures_total{origin=\"example.com/log\"} 1"));
  EXPECT_EQ(w->Exit(SIGTERM), 0);
}

TEST_F(WitnessE2eTest, ListsAreReReadOnSighupAndNeverForgetALog) {
  const NoteSigner b = *NoteSigner::Generate("b.example/log");
  const std::string list = dir_->path() + "/public-list.txt";
  WriteList(list, {});
  TestLog log_b(b, 100);
  {
    auto w = Start({"--log-list", list});
    EXPECT_EQ(Post(*w, log_b.Body(0, 10)).status, 404);
    WriteList(list, {b});
    w->Signal(SIGHUP);
    // The reload is asynchronous: poll (bounded) until the log is known.
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int status = 404;
    while (status == 404 && absl::Now() < deadline) status = Post(*w, log_b.Body(0, 10)).status;
    ASSERT_EQ(status, 200);
    // The list drops b and gives example.com/log another key.
    const NoteSigner rekey = *NoteSigner::Generate("example.com/log");
    WriteList(list, {rekey});
    w->Signal(SIGHUP);
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (w->Stderr().find("never re-keyed") == std::string::npos && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_THAT(w->Stderr(), HasSubstr("never re-keyed"));
    EXPECT_EQ(Post(*w, log_b.Body(10, 20)).status, 200);
    TestLog rekeyed(rekey, 100);
    EXPECT_EQ(Post(*w, rekeyed.Body(0, 5)).status, 403);
    EXPECT_EQ(w->Exit(SIGTERM), 0);
  }
  // Restarted without the list: b is still known, with its state.
  auto w = Start();
  HttpResponse r = Post(*w, log_b.Body(0, 30));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "20\n");
  EXPECT_EQ(Post(*w, log_b.Body(20, 30)).status, 200);
}

TEST_F(WitnessE2eTest, ALogUsingTheWitnessKeyIsRefused) {
  const NoteSigner own = *NoteSigner::Parse(
      ReadFileOrEmpty(key_file_).substr(0, ReadFileOrEmpty(key_file_).find('\n')));
  WriteList(logs_file_, {log_key_, own});
  auto w = Start();
  EXPECT_THAT(w->Stderr(), HasSubstr("own key"));
  TestLog self(own, 10);
  EXPECT_EQ(Post(*w, self.Body(0, 5)).status, 404);
}

// kill -9 while four logs' clients extend their trees as fast as they can:
// after each restart, every log's state is at least the largest size the
// witness acknowledged (a 200 went out only after the fsync), its served
// checkpoint carries a valid cosignature, and every log goes on from there.
TEST_F(WitnessE2eTest, KillNineNeverLosesAnAcknowledgedCosignature) {
  std::vector<NoteSigner> keys;
  std::vector<std::unique_ptr<TestLog>> logs;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(*NoteSigner::Generate(absl::StrCat("crash.example/log", i)));
    logs.push_back(std::make_unique<TestLog>(keys.back(), 4000));
  }
  WriteList(logs_file_, keys);
  std::vector<uint64_t> acked(keys.size(), 0);
  std::mt19937 rng(20261202);
  for (int round = 0; round < 4; ++round) {
    auto w = Start();
    // Where each log stands now, and that what it serves is cosigned.
    for (size_t i = 0; i < logs.size(); ++i) {
      // The clients stop short of 3998, so this only ever learns the size.
      HttpResponse r = Post(*w, logs[i]->Body(3998, 3999));
      ASSERT_EQ(r.status, 409) << r.body;
      const uint64_t size = std::stoull(r.body);
      EXPECT_GE(size, acked[i]) << "log " << i << " lost an acknowledged cosignature";
      acked[i] = size;
      HttpResponse served = Get(*w, absl::StrCat("/", OriginHash(keys[i].name()), "/checkpoint"));
      if (size == 0) continue;  // never cosigned
      ASSERT_EQ(served.status, 200);
      EXPECT_THAT(served.body, HasSubstr(absl::StrCat("\n", size, "\n")));
      NoteVerifier wv = *NoteVerifier::Parse(vkey_);
      EXPECT_TRUE(OpenCheckpoint(served.body, *NoteVerifier::Parse(keys[i].VerifierKey()),
                                 *WitnessPolicy::Create({wv}, 1))
                      .ok());
    }
    if (round == 3) break;
    std::atomic<bool> stop{false};
    std::atomic<int> total{0};
    absl::Mutex mu;
    std::vector<std::thread> clients;
    for (size_t i = 0; i < logs.size(); ++i) {
      clients.emplace_back([&, i] {
        std::unique_ptr<HttpFetcher> f = *HttpFetcher::Create(HttpFetcherOptions{});
        uint64_t size;
        {
          absl::MutexLock l(&mu);
          size = acked[i];
        }
        while (!stop.load() && size < 3990) {
          const uint64_t next = size + 1 + (size * 7 + i) % 3;
          absl::StatusOr<HttpResponse> r =
              f->Post(w->url("/add-checkpoint"), logs[i]->Body(size, next), "text/plain", 4096);
          if (!r.ok() || r->status != 200) break;  // killed
          size = next;
          absl::MutexLock l(&mu);
          acked[i] = size;
          ++total;
        }
      });
    }
    // Kill after a random number of acknowledgements (the process is
    // mid-request, mid-fsync or between requests).
    const int kill_after = 20 + static_cast<int>(rng() % 200);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (total.load() < kill_after && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    w->Kill();
    stop = true;
    for (std::thread& t : clients) t.join();
  }
}

}  // namespace
}  // namespace infratrail
