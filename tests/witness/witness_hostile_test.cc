// Hostile tests of `infratrail-verifier witness`: what a log, a list
// publisher, a damaged disk or an anonymous client can make the process do.
// The first group are regressions of defects an attack found (each comment
// says what went wrong before the fix); the others guard edges that held.
//
// Same harness as witness_e2e_test.cc: the real binary, ephemeral ports,
// temporary directories, bounded polling instead of sleeps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/checkpoint.h"
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

std::string B64(const Hash& h) {
  return Base64Encode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

class WitnessHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = *TempDir::Create("witness_hostile");
    key_file_ = dir_->path() + "/w1.key";
    ASSERT_EQ(Run({"keygen", "--name", "witness.example/w1", "--out", key_file_}), 0) << err_;
    vkey_ = out_.substr(0, out_.find('\n'));
    log_key_ = *NoteSigner::Generate("example.com/log");
    log_ = std::make_unique<TestLog>(log_key_, 200);
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

  std::vector<std::string> Args(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"--key",    key_file_,     "--state-dir", state_,
                                     "--listen", "127.0.0.1:0", "--logs",      logs_file_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "--rate-per-log") == extra.end()) {
      argv.insert(argv.end(), {"--rate-per-log", "0"});
    }
    return argv;
  }

  std::unique_ptr<WitnessProcess> Start(std::vector<std::string> extra = {}) {
    auto w = std::make_unique<WitnessProcess>(dir_->path(), Args(std::move(extra)));
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

  // A checkpoint of `tree` at `size`, under `origin`, signed by `key`.
  static std::string SignedCheckpoint(const NoteSigner& key, const std::string& origin,
                                      TestLog& tree, uint64_t size) {
    Checkpoint cp{.origin = origin, .size = size, .root = tree.Root(size), .extensions = {}};
    return *SignNote(cp.Body(), {key});
  }

  std::unique_ptr<TempDir> dir_;
  std::string key_file_, vkey_, logs_file_, state_, out_, err_;
  NoteSigner log_key_;
  std::unique_ptr<TestLog> log_;
  std::unique_ptr<HttpFetcher> fetcher_;
};

// ---------------------------------------------------------------------------
// Regressions of defects found by attacking the witness.

// WAS A DEFECT (split view). A record's origin length is a u16 in the journal
// (witness_store.cc AppendRecord), but nothing bounds a log's origin: a list
// may name a log whose origin is longer than 65535 bytes, and its checkpoint
// fits the 128 KiB body cap. The witness cosigns it and acknowledges it as
// durable, but the record it wrote does not parse back: at restart recovery
// takes it for a torn write and cuts it off, *with every record after it*
// (other logs' acknowledged cosignatures too). The long-origin log can then
// get a second history cosigned at the same size.
// Fixed: a list refuses an origin longer than kMaxOriginBytes, naming its
// line, so no such log is ever known.
TEST_F(WitnessHostileTest, AnOriginLongerThanAWitnessTakesIsRefusedWithItsLine) {
  const NoteSigner evil_key = *NoteSigner::Generate("evil.example/log");
  const std::string origin = "evil.example/" + std::string(70000, 'a');
  WriteList(logs_file_, {log_key_},
            absl::StrCat("vkey ", evil_key.VerifierKey(), "\norigin ", origin, "\n"));
  WitnessProcess w(dir_->path(), Args({}));
  EXPECT_FALSE(w.WaitListening());
  EXPECT_THAT(w.Stderr(), HasSubstr(absl::StrCat("logs.txt:3: origin: ", origin.size(), " bytes")));
}

// WAS A DEFECT (state rollback). docs/witness.md, "State": only a record that
// does not check out *at the very end* of the last journal is cut off; a bad
// record earlier is corruption and the witness refuses to start. But
// Recover() cuts the last journal at its *first* bad record, whatever
// follows it: one damaged byte at the start of the journal silently drops
// every acknowledged cosignature, and the witness then cosigns a second
// history.
TEST_F(WitnessHostileTest, ADamagedJournalWithWholeBatchesAfterTheDamageRefusesToStart) {
  TestLog fork(log_key_, 200, /*fork_at=*/5);
  {
    auto w = Start();
    uint64_t size = 0;
    for (uint64_t next : {10, 20, 30, 40}) {
      ASSERT_EQ(Post(*w, log_->Body(size, next)).status, 200);
      size = next;
    }
    EXPECT_EQ(w->Exit(SIGTERM), 0);
  }
  // Flip one byte inside the first record's payload (past the u32 length).
  const std::string journal = state_ + "/journal-00000000000000000000";
  std::string data = ReadFileOrEmpty(journal);
  ASSERT_GT(data.size(), 200u);
  data[20] ^= 0x01;
  {
    std::ofstream f(journal, std::ios::binary | std::ios::trunc);
    f << data;
  }
  WitnessProcess w(dir_->path(), Args());
  if (!w.WaitListening()) {
    SUCCEED() << "refused to start, as documented: " << w.Stderr();
    return;
  }
  ADD_FAILURE() << "started on a journal damaged before its last record: " << w.Stderr();
  HttpResponse r = Post(w, fork.Body(0, 40));
  EXPECT_NE(r.status, 200) << "and cosigned a second tree of size 40";
}

// WAS A DEFECT (denial of service against a log). docs/witness.md: "Only requests
// that carry the log's valid signature count [against --rate-per-log], so
// nobody else can use up a log's budget". But a log's signed checkpoints
// are public (this witness serves them at /<hash>/checkpoint): anyone can
// replay one, and each replay takes a token before the 409, so an anonymous
// client keeps the log itself at 429.
TEST_F(WitnessHostileTest, ReplayedCheckpointsDoNotUseUpTheLogsRateBudget) {
  auto w = Start({"--rate-per-log", "0.001", "--burst-per-log", "3"});
  ASSERT_EQ(Post(*w, log_->Body(0, 10)).status, 200);  // the log: 1 token
  // Anyone: the served checkpoint, replayed with a wrong old size.
  HttpResponse served = Get(*w, absl::StrCat("/", OriginHash("example.com/log"), "/checkpoint"));
  ASSERT_EQ(served.status, 200);
  EXPECT_EQ(Post(*w, "old 0\n\n" + served.body).status, 409);
  EXPECT_EQ(Post(*w, "old 0\n\n" + served.body).status, 409);
  // The log's next, honest request.
  HttpResponse r = Post(*w, log_->Body(10, 20));
  EXPECT_EQ(r.status, 200) << "the log was rate limited by an anonymous replayer: " << r.body;
}

// WAS A DEFECT (re-key after restart). docs/witness.md: "The known logs are
// written to STATE_DIR/known-logs ... before they are used". ListLoader
// merges a list into KnownLogs (which the witness serves from at once) and
// only then writes known-logs; when that write fails the log is used
// anyway (logged "known logs: ..."), cosigned for, and after a restart it
// is unknown, so a list can hand its origin to another key.
TEST_F(WitnessHostileTest, ALogIsNotUsedBeforeItIsWrittenDown) {
  const NoteSigner b = *NoteSigner::Generate("b.example/log");
  const std::string list = dir_->path() + "/public-list.txt";
  WriteList(list, {});
  TestLog log_b(b, 100);
  {
    auto w = Start({"--log-list", list});
    // known-logs can no longer be replaced (a stand-in for a full or failing
    // disk): rename() onto a non-empty directory fails.
    const std::string known = state_ + "/known-logs";
    ASSERT_EQ(unlink(known.c_str()), 0);
    ASSERT_EQ(mkdir(known.c_str(), 0700), 0);
    ASSERT_TRUE(WriteFileAtomic(known + "/x", "x", 0600).ok());
    WriteList(list, {b});
    w->Signal(SIGHUP);
    ASSERT_TRUE(w->WaitStderr("known logs:")) << w->Stderr();
    HttpResponse r = Post(*w, log_b.Body(0, 10));
    EXPECT_NE(r.status, 200) << "cosigned for a log it has not written down";
    EXPECT_EQ(w->Exit(SIGTERM), 0);
    ASSERT_EQ(unlink((known + "/x").c_str()), 0);
    ASSERT_EQ(rmdir(known.c_str()), 0);
  }
  // Never written down, never used: after a restart b is new to the
  // witness, whatever key a list then gives it.
  auto w = Start();
  EXPECT_EQ(Post(*w, log_b.Body(0, 10)).status, 404);
}

// WAS A DEFECT (spec, minor). tlog-witness: a signature line whose key name and
// ID match a trusted key but whose signature does not verify is 403. With a
// valid line first and a bad one second, the witness answers 400 ("two
// different signatures from key"); in the other order 403.
TEST_F(WitnessHostileTest, ABadSignatureByTheLogsKeyIs403WhereverItIs) {
  auto w = Start();
  const std::string cp = log_->Checkpoint(10);
  const size_t sig = cp.rfind("\xe2\x80\x94 ");
  std::string line = cp.substr(sig);
  // Same name and key ID, another signature (last base64 char before '\n').
  std::string bad = line;
  bad[bad.size() - 6] = bad[bad.size() - 6] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Post(*w, "old 0\n\n" + cp.substr(0, sig) + bad + line).status, 403);
  EXPECT_EQ(Post(*w, "old 0\n\n" + cp.substr(0, sig) + line + bad).status, 403);
}

// A checkpoint of `tree` at `size` with `ext_bytes` of extension lines
// (a log may make its records as large as the body cap allows).
std::string FatCheckpoint(const NoteSigner& key, TestLog& tree, uint64_t size, size_t ext_bytes) {
  Checkpoint cp{.origin = key.name(), .size = size, .root = tree.Root(size), .extensions = {}};
  for (size_t n = 0; n < ext_bytes; n += 1000) {
    cp.extensions.push_back(absl::StrCat(size, " ", std::string(990, 'x')));
  }
  return *SignNote(cp.Body(), {key});
}

// Mounts a tmpfs of its own at `dir` (root only); unmounts it on
// destruction.
class Tmpfs {
 public:
  Tmpfs(const std::string& dir, const std::string& options) : dir_(dir) {
    mkdir(dir.c_str(), 0700);
    mounted_ = geteuid() == 0 &&
               system(absl::StrCat("mount -t tmpfs -o ", options, " tmpfs ", dir).c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) system(absl::StrCat("umount -l ", dir_).c_str());
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// WAS A DEFECT (acknowledged cosignatures lost). WitnessStore::Compact writes the
// new snapshot (generation g+1) and then opens journal g+1; if that open
// fails (here: the file system is out of inodes) the store is marked failed,
// but Run() goes on writing the batches *already queued* to the journal of
// generation g and acknowledges them (200). Recovery deletes journals older
// than the snapshot's generation, so those acknowledged cosignatures are
// gone after the restart (the kill -9 guarantee of docs/witness.md broken).
// Root only (tmpfs); 32 logs hammer the witness with ~100 KB records so the
// journal passes 16 MiB and compacts while requests are queued.
TEST_F(WitnessHostileTest, AFailedCompactionLosesNothingAcknowledged) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  constexpr int kLogs = 48;  // a ~5 MiB snapshot: a compaction long enough for requests to queue
  std::vector<NoteSigner> keys;
  for (int i = 0; i < kLogs; ++i) {
    keys.push_back(*NoteSigner::Generate(absl::StrCat("fat.example/log", i)));
  }
  WriteList(logs_file_, keys);
  // Whether requests queue during the compaction is a race: a few attempts,
  // each on a fresh state directory, stop at the first loss.
  for (int attempt = 0; attempt < 4; ++attempt) {
    state_ = absl::StrCat(dir_->path(), "/state-", attempt);
    // root dir, known-logs, journal-0, snapshot.tmp: journal-1 gets no inode.
    Tmpfs fs(state_, "size=96m,nr_inodes=4");
    ASSERT_TRUE(fs.mounted());
    std::vector<std::unique_ptr<TestLog>> trees;
    for (int i = 0; i < kLogs; ++i) trees.push_back(std::make_unique<TestLog>(keys[i], 200));
    std::vector<uint64_t> acked(kLogs, 0);
    {
      auto w = Start();
      std::vector<std::thread> clients;
      for (int i = 0; i < kLogs; ++i) {
        clients.emplace_back([&, i] {
          std::unique_ptr<HttpFetcher> f = *HttpFetcher::Create(HttpFetcherOptions{});
          uint64_t size = 0;
          while (size < 150) {
            const uint64_t next = size + 1;
            const std::string body = TestLog::Body(size, trees[i]->Proof(size, next),
                                                   FatCheckpoint(keys[i], *trees[i], next, 115000));
            absl::StatusOr<HttpResponse> r =
                f->Post(w->url("/add-checkpoint"), body, "text/plain", 4096);
            if (!r.ok() || r->status != 200) break;
            size = next;
            acked[i] = size;
          }
        });
      }
      for (std::thread& t : clients) t.join();
      EXPECT_EQ(w->WaitExit(), 1) << "the witness should stop after the failed compaction: "
                                  << w->Stderr();
      ASSERT_THAT(w->Stderr(), HasSubstr("compaction"));
    }
    auto w = Start();
    int lost = 0;
    for (int i = 0; i < kLogs; ++i) {
      HttpResponse r = Post(*w, trees[i]->Body(199, 200));
      ASSERT_EQ(r.status, 409) << r.body;
      EXPECT_GE(std::stoull(r.body), acked[i])
          << "attempt " << attempt << ": log " << i << " lost acknowledged cosignatures";
      if (std::stoull(r.body) < acked[i]) ++lost;
    }
    w->Exit(SIGKILL);
    if (lost > 0) break;
  }
}

// A full disk: the witness answers 503 (never 200 for what it could not
// write), stops with exit 1, and restarts on the same full disk with every
// acknowledged cosignature, serving only those.
TEST_F(WitnessHostileTest, FullDiskStopsSafelyAndRecovers) {
  Tmpfs fs(state_, "size=256k");
  if (!fs.mounted()) GTEST_SKIP() << "needs root to mount a tmpfs";
  uint64_t acked = 0;
  int last = 0;
  {
    auto w = Start();
    for (uint64_t next = 1; next < 100; ++next) {
      HttpResponse r = Post(*w, TestLog::Body(acked, log_->Proof(acked, next),
                                              FatCheckpoint(log_key_, *log_, next, 20000)));
      last = r.status;
      if (r.status != 200) break;
      acked = next;
    }
    EXPECT_EQ(last, 503);
    EXPECT_GT(acked, 0u);
    HttpResponse served = Get(*w, absl::StrCat("/", OriginHash("example.com/log"), "/checkpoint"));
    EXPECT_THAT(served.body, HasSubstr(absl::StrCat("\n", acked, "\n")));
    EXPECT_EQ(w->WaitExit(), 1) << w->Stderr();
  }
  auto w = Start();
  HttpResponse r = Post(*w, log_->Body(0, 150));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, absl::StrCat(acked, "\n"));
  HttpResponse served = Get(*w, absl::StrCat("/", OriginHash("example.com/log"), "/checkpoint"));
  EXPECT_THAT(served.body, HasSubstr(absl::StrCat("\n", acked, "\n")));
  w->Exit(SIGKILL);
}

// WAS A DEFECT (availability). docs/witness.md: "a remote list that fails keeps
// what is known and is tried again later". But RunWitness reads every
// --log-list source before it listens (LoadAll(strict=true)), and on the
// main thread afterwards: a list URL that accepts and never answers holds
// the start ~10 s per list (curl's low-speed limit; a server trickling
// 1 KB/s holds it the full 60 s timeout), and SIGTERM/SIGHUP/health checks
// wait just as long during a reload. Whoever hosts a list the witness
// subscribes to can delay every restart of it.
TEST_F(WitnessHostileTest, AHangingListUrlDelaysNeitherStartNorStop) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(s, 16), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  // Accepted by the kernel (the backlog), never answered.
  WitnessProcess w(
      dir_->path(),
      Args({"--log-list", absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port), "/l")}));
  EXPECT_TRUE(w.WaitListening(absl::Seconds(3)))
      << "not listening 3 s after start: a hanging list URL blocks it";
  close(s);
}

// ---------------------------------------------------------------------------
// Edges that held.

// Malformed bodies: every one is a 4xx, none is cosigned, and the witness
// then still cosigns the honest request.
TEST_F(WitnessHostileTest, MalformedBodiesAreRefused) {
  auto w = Start();
  const std::string cp10 = log_->Checkpoint(10);
  const std::string good = log_->Body(0, 10);
  auto crlf = [](std::string s) {
    std::string out;
    for (char c : s) {
      if (c == '\n') out += '\r';
      out += c;
    }
    return out;
  };
  std::vector<Hash> p = log_->Proof(5, 10);
  const std::string note_no_nl = cp10.substr(0, cp10.size() - 1);
  struct Case {
    std::string name, body;
    int want;
  } cases[] = {
      {"empty", "", 400},
      {"only old", "old 0\n\n", 400},
      {"no blank line", "old 0\n" + cp10, 400},
      {"crlf", crlf(good), 400},
      {"no final newline", "old 0\n\n" + note_no_nl, 400},
      {"nul in note", "old 0\n\n" + std::string("example.com/log\0", 16) + cp10.substr(15), 400},
      {"old +0", "old +0\n\n" + cp10, 400},
      {"old 00", "old 00\n\n" + cp10, 400},
      {"old -0", "old -0\n\n" + cp10, 400},
      {"old 2^64", "old 18446744073709551616\n\n" + cp10, 400},
      {"old two spaces", "old  0\n\n" + cp10, 400},
      {"old tab", "old\t0\n\n" + cp10, 400},
      {"old > size", "old 11\n\n" + cp10, 400},
      {"proof line with space", "old 5\n " + B64(p[0]) + "\n\n" + cp10, 400},
      {"proof line trailing space", "old 5\n" + B64(p[0]) + " \n\n" + cp10, 400},
      {"proof line no padding", "old 5\n" + B64(p[0]).substr(0, 43) + "\n\n" + cp10, 400},
      {"proof line 31 bytes", "old 5\n" + Base64Encode(std::string(31, 'x')) + "\n\n" + cp10, 400},
      {"64 proof lines",
       "old 5\n" +
           [&] {
             std::string s;
             for (int i = 0; i < 64; ++i) s += B64(p[0]) + "\n";
             return s;
           }() +
           "\n" + cp10,
       400},
      {"101 signatures",
       "old 0\n\n" +
           [&] {
             std::string s = cp10;
             const std::string line = cp10.substr(cp10.rfind("\xe2\x80\x94 "));
             for (int i = 0; i < 100; ++i) s += line;
             return s;
           }(),
       400},
      {"old 0 with proof", "old 0\n" + B64(p[0]) + "\n\n" + cp10, 422},
      {"nonzero root at size 0",
       TestLog::Body(0, {},
                     [&] {
                       Checkpoint cp{.origin = "example.com/log",
                                     .size = 0,
                                     .root = log_->Root(1),
                                     .extensions = {}};
                       return *SignNote(cp.Body(), {log_key_});
                     }()),
       422},
  };
  for (const Case& c : cases) {
    HttpResponse r = Post(*w, c.body);
    EXPECT_EQ(r.status, c.want) << c.name << ": " << r.body;
  }
  EXPECT_EQ(Post(*w, good).status, 200);
}

// Edges of what is accepted: repeated identical log signatures, 63 proof
// lines would not fit a small tree (422), extension lines, size 0.
TEST_F(WitnessHostileTest, AcceptedEdges) {
  auto w = Start();
  // The empty tree, twice (old = size = 0).
  Checkpoint empty{.origin = "example.com/log", .size = 0, .root = Sha256(""), .extensions = {}};
  const std::string e = *SignNote(empty.Body(), {log_key_});
  EXPECT_EQ(Post(*w, TestLog::Body(0, {}, e)).status, 200);
  EXPECT_EQ(Post(*w, TestLog::Body(0, {}, e)).status, 200);
  // 99 identical copies of the log's signature count once.
  std::string cp = log_->Checkpoint(10);
  const std::string line = cp.substr(cp.rfind("\xe2\x80\x94 "));
  for (int i = 0; i < 98; ++i) cp += line;
  HttpResponse r = Post(*w, "old 0\n\n" + cp);
  ASSERT_EQ(r.status, 200) << r.body;
  HttpResponse served = Get(*w, absl::StrCat("/", OriginHash("example.com/log"), "/checkpoint"));
  EXPECT_EQ(served.body.find(line), served.body.rfind(line)) << "the log's line kept once";
  // Same size, same root, with a non-empty proof: not a consistency proof.
  std::vector<Hash> junk = log_->Proof(5, 10);
  EXPECT_EQ(Post(*w, TestLog::Body(10, junk, log_->Checkpoint(10))).status, 422);
  // Extension lines are cosigned with the checkpoint.
  Checkpoint ext{.origin = "example.com/log",
                 .size = 20,
                 .root = log_->Root(20),
                 .extensions = {"ext line one", "\xc3\xa9t\xc3\xa9"}};
  r = Post(*w, TestLog::Body(10, log_->Proof(10, 20), *SignNote(ext.Body(), {log_key_})));
  EXPECT_EQ(r.status, 200) << r.body;
  // 63 proof lines (more than any tree of this size needs).
  std::string body = "old 20\n";
  for (int i = 0; i < 63; ++i) body += B64(log_->Root(1)) + "\n";
  EXPECT_EQ(Post(*w, body + "\n" + log_->Checkpoint(30)).status, 422);
  // A note larger than the body cap never reaches the parser.
  std::string big = log_->Checkpoint(30);
  EXPECT_TRUE(RefusedAsTooLarge(*w, "old 20\n\n" + std::string(200 << 10, 'x') + big));
  EXPECT_EQ(w->Exit(SIGTERM), 0);
}

// A list that tries to re-key a known log, add the witness's own key, and
// a malformed list on SIGHUP: the witness keeps what it knows and serves.
TEST_F(WitnessHostileTest, HostileListsChangeNothingKnown) {
  const std::string list = dir_->path() + "/public-list.txt";
  WriteList(list, {});
  auto w = Start({"--log-list", list});
  ASSERT_EQ(Post(*w, log_->Body(0, 10)).status, 200);
  const NoteSigner own = *NoteSigner::Parse(
      ReadFileOrEmpty(key_file_).substr(0, ReadFileOrEmpty(key_file_).find('\n')));
  const NoteSigner rekey = *NoteSigner::Generate("example.com/log");
  // The known log with both its key and another one (a "second key").
  WriteList(list, {log_key_, rekey, own});
  w->Signal(SIGHUP);
  ASSERT_TRUE(w->WaitStderr("own key")) << w->Stderr();
  TestLog rekeyed(rekey, 200);
  EXPECT_EQ(Post(*w, rekeyed.Body(10, 20)).status, 403);
  // Garbage on SIGHUP.
  ASSERT_TRUE(WriteFileAtomic(list, std::string("logs/v0\nvkey garbage\n"), 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(logs_file_, std::string("\0\0\0", 3), 0644).ok());
  w->Signal(SIGHUP);
  ASSERT_TRUE(w->WaitStderr("public-list.txt:2: vkey")) << w->Stderr();
  EXPECT_EQ(Post(*w, log_->Body(10, 20)).status, 200);
  EXPECT_EQ(w->Exit(SIGTERM), 0);
}

// Damaged state directories at start: a snapshot that is not one, a journal
// from another witness (same format: accepted), a journal with a torn tail.
TEST_F(WitnessHostileTest, GarbledSnapshotRefusesToStart) {
  ASSERT_EQ(mkdir(state_.c_str(), 0700), 0);
  ASSERT_TRUE(WriteFileAtomic(state_ + "/snapshot", std::string(100, 'x'), 0600).ok());
  WitnessProcess w(dir_->path(), Args());
  EXPECT_EQ(w.WaitExit(), 1);
  EXPECT_THAT(w.Stderr(), HasSubstr("snapshot"));
}

TEST_F(WitnessHostileTest, TornJournalTailIsCutAndTheRestKept) {
  {
    auto w = Start();
    ASSERT_EQ(Post(*w, log_->Body(0, 10)).status, 200);
    ASSERT_EQ(Post(*w, log_->Body(10, 20)).status, 200);
    EXPECT_EQ(w->Exit(SIGTERM), 0);
  }
  const std::string journal = state_ + "/journal-00000000000000000000";
  std::string data = ReadFileOrEmpty(journal);
  ASSERT_FALSE(data.empty());
  data += std::string("\x00\x00\x01\x00garbage", 11);
  {
    std::ofstream f(journal, std::ios::binary | std::ios::trunc);
    f << data;
  }
  auto w = Start();
  HttpResponse r = Post(*w, log_->Body(0, 30));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "20\n");
  EXPECT_THAT(w->Stderr(), HasSubstr("cut 11 bytes"));
}

}  // namespace
}  // namespace infratrail
