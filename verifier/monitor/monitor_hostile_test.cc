// The real `infratrail-verifier monitor` binary against a hostile or broken
// tlog-tiles server (verifier/monitor/testing/static_log.h): every run must
// end with the documented exit code (0 clean, 1 CRITICAL/ALERT, 3 round
// incomplete), never a signal, report what went wrong on the right stream
// (findings on stdout, OPERATIONAL events on stderr), and trust nothing it
// could not check. Plus the webhook's exactly-once delivery, live and
// across a restart, and the configuration read again on SIGHUP.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/testing/http_test_client.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "nlohmann/json.hpp"
#include "verifier/monitor/testing/static_log.h"

extern char** environ;

namespace infratrail {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kOrigin[] = "hostile.test/log";

// How a run of the monitor ended and what it printed.
struct MonitorRun {
  int exit_code = -1;  // -1 if it did not exit normally
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  long max_rss_kb = 0;
  std::string out, err;
  std::vector<json> findings;     // stdout JSON lines
  std::vector<json> operational;  // stderr JSON lines with severity OPERATIONAL

  std::vector<std::string> Rules() const {
    std::vector<std::string> r;
    for (const json& f : findings) r.push_back(f.value("rule", ""));
    return r;
  }
  std::vector<std::string> Kinds() const {
    std::vector<std::string> k;
    for (const json& e : operational) k.push_back(e.value("kind", ""));
    return k;
  }
  bool HasKind(const std::string& kind) const {
    const std::vector<std::string> k = Kinds();
    return std::find(k.begin(), k.end(), kind) != k.end();
  }
  std::string Describe() const {
    return absl::StrCat("exit ", exit_code, " signal ", signal, timed_out ? " (timed out)" : "",
                        "\n--- stdout:\n", out.substr(0, 4000), "\n--- stderr:\n",
                        err.substr(0, 4000));
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

// Entries that are not InfraEvents: the first byte, 'o' (0x6f), is a
// protobuf tag of wire type 7, which does not exist.
std::vector<std::string> OpaqueEntries(int n, const std::string& tag = "opaque") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(absl::StrCat("o-", tag, "-entry-", i, std::string(i % 7, '.')));
  }
  return out;
}

// Changes one byte inside the signature (past the key ID) of a note's
// first signature line, keeping the line well formed.
std::string ForgeSignature(const std::string& note) {
  const size_t sep = note.find("\n\n");
  const size_t line = sep + 2;
  const size_t b64 = note.rfind(' ', note.find('\n', line)) + 1;
  const size_t end = note.find('\n', line);
  std::string raw;
  EXPECT_TRUE(absl::Base64Unescape(note.substr(b64, end - b64), &raw));
  raw[4 + 10] ^= 0x01;
  return absl::StrCat(note.substr(0, b64), absl::Base64Escape(raw), note.substr(end));
}

class MonitorHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("monitor_hostile_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    state_ = dir_ / "state";
    ASSERT_TRUE(server_.ok());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Serves the log of the first `size` of `entries`.
  StaticLogFiles Publish(const std::vector<std::string>& entries, uint64_t size) {
    absl::StatusOr<StaticLogFiles> files = BuildStaticLog(entries, size, signer_);
    EXPECT_TRUE(files.ok()) << files.status();
    server_.SetFiles(*files);
    return *files;
  }

  std::vector<std::string> Args(const std::string& url, std::vector<std::string> extra) {
    std::vector<std::string> args = {
        INFRATRAIL_VERIFIER_BIN, "monitor",     "--log",         url,          "--log-key",
        signer_.VerifierKey(),   "--state-dir", state_.string(), "--progress", "never"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Starts the monitor with stdout and stderr to files of run `n`.
  pid_t Start(const std::vector<std::string>& args) {
    ++runs_;
    out_ = dir_ / absl::StrCat("run", runs_, ".out");
    err_ = dir_ / absl::StrCat("run", runs_, ".err");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
    if (rc != 0) return -1;
    outputs_[pid] = {out_, err_};
    return pid;
  }

  // VmHWM of a running process, 0 once it has exited.
  static long VmHwmKb(pid_t pid) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, "VmHWM:")) return std::atol(line.c_str() + 6);
    }
    return 0;
  }

  // Waits for `pid` (killed after `limit`) and reads what it printed.
  MonitorRun Wait(pid_t pid, absl::Duration limit = absl::Seconds(90)) {
    MonitorRun r;
    if (pid <= 0) return r;
    const absl::Time deadline = absl::Now() + limit;
    int status = 0;
    rusage ru{};
    // The child's own high-water RSS, read while it runs: wait4's
    // ru_maxrss would also count this process's, inherited until exec.
    long hwm_kb = 0;
    while (true) {
      hwm_kb = std::max(hwm_kb, VmHwmKb(pid));
      const pid_t w = ::wait4(pid, &status, WNOHANG, &ru);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) {
        ADD_FAILURE() << "wait4: " << std::strerror(errno);
        return r;
      }
      if (absl::Now() > deadline && !r.timed_out) {
        r.timed_out = true;
        ::kill(pid, SIGKILL);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.max_rss_kb = hwm_kb;
    r.out = ReadFile(outputs_[pid].first);
    r.err = ReadFile(outputs_[pid].second);
    r.findings = JsonLines(r.out);
    for (json& e : JsonLines(r.err)) {
      if (e.value("severity", "") == "OPERATIONAL") r.operational.push_back(std::move(e));
    }
    EXPECT_FALSE(r.timed_out) << r.Describe();
    EXPECT_EQ(r.signal, 0) << r.Describe();
    return r;
  }

  MonitorRun Once(std::vector<std::string> extra = {}, const std::string& url = "") {
    extra.insert(extra.begin(), {"--once", "--timeout", "2s"});
    return Wait(Start(Args(url.empty() ? server_.Url() : url, std::move(extra))));
  }
  MonitorRun OnceOpaque(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--entry-format", "opaque"});
    return Once(std::move(extra));
  }

  json State() {
    const std::string text = ReadFile(state_ / "state.json");
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json::object() : j;
  }
  std::string TrustedNote() { return State().value("trusted_note", std::string()); }
  bool HasEvidence() { return fs::exists(state_ / "evidence"); }

  NoteSigner signer_ = *NoteSigner::Generate(kOrigin);
  StaticLogServer server_;
  fs::path dir_, state_, out_, err_;
  int runs_ = 0;
  std::map<pid_t, std::pair<fs::path, fs::path>> outputs_;  // stdout, stderr
};

// ---- clean audits ----------------------------------------------------------

TEST_F(MonitorHostileTest, CleanOpaqueLogExitsZeroWithNoFindings) {
  const std::vector<std::string> entries = OpaqueEntries(3000);
  const StaticLogFiles files = Publish(entries, 3000);
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.operational.empty()) << r.Describe();
  EXPECT_EQ(TrustedNote(), files.at("checkpoint"));
  EXPECT_EQ(State().value("next", 0u), 3000u);
  EXPECT_TRUE(server_.UnknownPathsRequested().empty());
  // Every bundle was read once.
  int bundles = 0;
  for (const SeenRequest& q : server_.Requests())
    bundles += absl::StartsWith(q.path, "tile/entries/");
  EXPECT_EQ(bundles, 12);
  EXPECT_FALSE(HasEvidence());
}

TEST_F(MonitorHostileTest, UnparseableEntriesAreCappedWarningsAndExitZero) {
  Publish(OpaqueEntries(3000), 3000);
  MonitorRun r = Once();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_EQ(r.findings.size(), 101u) << r.Describe();
  std::set<uint64_t> seqs;
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const json& f = r.findings[i];
    EXPECT_EQ(f.value("severity", ""), "WARNING");
    EXPECT_EQ(f.value("rule", ""), "entry.unparseable");
    EXPECT_EQ(f.value("origin", ""), kOrigin);
    seqs.insert(f.value("seq", uint64_t{0}));
    if (i < 100) {
      EXPECT_EQ(f.value("index", uint64_t{999999}), i);
      EXPECT_FALSE(f.value("leaf_hash", "").empty());
    }
  }
  EXPECT_EQ(seqs.size(), 101u);
  EXPECT_TRUE(absl::StrContains(r.findings.back().value("message", ""), "more than 100"))
      << r.findings.back().dump();
  EXPECT_TRUE(r.operational.empty()) << r.Describe();
}

// ---- checkpoints -------------------------------------------------------------

struct BadCheckpoint {
  std::string name;
  // The checkpoint to serve, given the good one and the log's signer.
  std::function<std::string(const std::string& good, const NoteSigner& log)> make;
};
void PrintTo(const BadCheckpoint& p, std::ostream* os) { *os << p.name; }

class MalformedCheckpointTest : public MonitorHostileTest,
                                public ::testing::WithParamInterface<BadCheckpoint> {};

TEST_P(MalformedCheckpointTest, IsOperationalNeverAFinding) {
  const StaticLogFiles files = Publish(OpaqueEntries(300), 300);
  server_.Override("checkpoint", Reply::Body(GetParam().make(files.at("checkpoint"), signer_)));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.HasKind("malformed")) << r.Describe();
  EXPECT_FALSE(HasEvidence());
  EXPECT_EQ(TrustedNote(), "");
  // Fixed, the next run audits from scratch, cleanly.
  server_.ClearOverrides();
  MonitorRun fixed = OnceOpaque();
  EXPECT_EQ(fixed.exit_code, 0) << fixed.Describe();
  EXPECT_TRUE(fixed.findings.empty()) << fixed.Describe();
  EXPECT_EQ(TrustedNote(), files.at("checkpoint"));
}

std::string Resign(const std::string& good, const std::string& origin, const NoteSigner& by) {
  const std::string body = good.substr(0, good.find("\n\n") + 1);
  std::string text = absl::StrCat(origin, body.substr(body.find('\n')));
  return *SignNote(text, {by});
}

INSTANTIATE_TEST_SUITE_P(
    Variants, MalformedCheckpointTest,
    ::testing::Values(
        BadCheckpoint{"HtmlPage",
                      [](const std::string&, const NoteSigner&) {
                        return std::string(
                            "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>\n");
                      }},
        BadCheckpoint{"TruncatedInSignature",
                      [](const std::string& good, const NoteSigner&) {
                        return good.substr(0, good.size() - 20);
                      }},
        BadCheckpoint{"TruncatedBeforeSignatures",
                      [](const std::string& good, const NoteSigner&) {
                        return good.substr(0, good.find("\n\n") + 1);
                      }},
        BadCheckpoint{"Empty", [](const std::string&, const NoteSigner&) { return std::string(); }},
        BadCheckpoint{"WrongOriginSignedByLogKey",
                      [](const std::string& good, const NoteSigner& log) {
                        return Resign(good, "other.test/log", log);
                      }},
        BadCheckpoint{"WrongOriginOtherLog",
                      [](const std::string& good, const NoteSigner&) {
                        return Resign(good, "other.test/log",
                                      *NoteSigner::Generate("other.test/log"));
                      }},
        BadCheckpoint{"SignedByAnotherKeyOfTheSameName",
                      [](const std::string& good, const NoteSigner&) {
                        return Resign(good, kOrigin, *NoteSigner::Generate(kOrigin));
                      }}),
    [](const ::testing::TestParamInfo<BadCheckpoint>& info) { return info.param.name; });

TEST_F(MonitorHostileTest, ForgedSignatureByTheLogsKeyIsCritical) {
  const StaticLogFiles files = Publish(OpaqueEntries(300), 300);
  const std::string forged = ForgeSignature(files.at("checkpoint"));
  ASSERT_NE(forged, files.at("checkpoint"));
  ASSERT_EQ(forged.size(), files.at("checkpoint").size());
  server_.Override("checkpoint", Reply::Body(forged));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ASSERT_EQ(r.Rules(), std::vector<std::string>{"log.bad_signature"}) << r.Describe();
  EXPECT_EQ(r.findings[0].value("severity", ""), "CRITICAL");
  const std::string evidence = r.findings[0].value("evidence", "");
  ASSERT_FALSE(evidence.empty());
  EXPECT_TRUE(fs::is_directory(state_ / evidence)) << evidence;
  EXPECT_EQ(ReadFile(state_ / evidence / "received.checkpoint"), forged);
  EXPECT_EQ(TrustedNote(), "");
}

// ---- malformed tiles and bundles: nothing is trusted, a fixed log passes ------

struct BadFile {
  std::string name;
  std::string path;
  std::function<std::string(const std::string& good)> make;
};
void PrintTo(const BadFile& p, std::ostream* os) { *os << p.name; }

class MalformedTileTest : public MonitorHostileTest,
                          public ::testing::WithParamInterface<BadFile> {};

std::string BundleOfFirst(const std::string& bundle, size_t n) {
  std::vector<std::string> entries = *DecodeEntryBundle(bundle);
  entries.resize(n);
  return *EncodeEntryBundle(entries);
}

TEST_P(MalformedTileTest, StopsTheRoundAndAFixedLogThenPasses) {
  const StaticLogFiles files = Publish(OpaqueEntries(3000), 3000);
  const BadFile& bad = GetParam();
  ASSERT_TRUE(files.contains(bad.path)) << bad.path;
  server_.Override(bad.path, Reply::Body(bad.make(files.at(bad.path))));
  // Small batches and commits, so that the audit commits positions before
  // it reaches the bad file (and the next run resumes from one).
  const std::vector<std::string> flags = {"--bundles-per-batch", "2", "--commit-every", "256"};
  MonitorRun r = OnceOpaque(flags);
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_EQ(r.Kinds(), std::vector<std::string>{"malformed"}) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.operational[0].value("message", ""), bad.path)) << r.Describe();
  EXPECT_EQ(TrustedNote(), "");
  EXPECT_FALSE(HasEvidence());

  server_.ClearOverrides();
  MonitorRun fixed = OnceOpaque(flags);
  EXPECT_EQ(fixed.exit_code, 0) << fixed.Describe();
  EXPECT_TRUE(fixed.findings.empty()) << fixed.Describe();
  EXPECT_TRUE(fixed.operational.empty()) << fixed.Describe();
  EXPECT_EQ(TrustedNote(), files.at("checkpoint"));
  EXPECT_EQ(State().value("next", 0u), 3000u);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, MalformedTileTest,
    ::testing::Values(BadFile{"HashTile31Bytes", "tile/0/004",
                              [](const std::string& g) { return g.substr(0, 31); }},
                      BadFile{"HashTile8191Bytes", "tile/0/004",
                              [](const std::string& g) { return g.substr(0, 8191); }},
                      BadFile{"HashTileOneHashShort", "tile/0/004",
                              [](const std::string& g) { return g.substr(0, 8192 - 32); }},
                      BadFile{"PartialHashTileOneHashLong", "tile/0/011.p/184",
                              [](const std::string& g) { return g + g.substr(0, 32); }},
                      BadFile{"UpperHashTileEmpty", "tile/1/000.p/11",
                              [](const std::string&) { return std::string(); }},
                      BadFile{"BundleBadLengthPrefix", "tile/entries/004",
                              [](const std::string& g) {
                                std::string b = g;
                                b[0] = '\xff';
                                b[1] = '\xff';
                                return b;
                              }},
                      BadFile{"BundleTrailingByte", "tile/entries/004",
                              [](const std::string& g) { return g + "x"; }},
                      BadFile{"BundleOneEntryShort", "tile/entries/004",
                              [](const std::string& g) { return BundleOfFirst(g, 255); }},
                      BadFile{"PartialBundleOneEntryShort", "tile/entries/011.p/184",
                              [](const std::string& g) { return BundleOfFirst(g, 183); }}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

// ---- tampered tiles and entries: CRITICAL, the trusted checkpoint stays -------

class TamperTest : public MonitorHostileTest, public ::testing::WithParamInterface<BadFile> {};

TEST_P(TamperTest, IsCriticalWithEvidenceAndTrustStaysPut) {
  const std::vector<std::string> entries = OpaqueEntries(3000);
  const StaticLogFiles first = Publish(entries, 1000);
  MonitorRun clean = OnceOpaque();
  ASSERT_EQ(clean.exit_code, 0) << clean.Describe();
  ASSERT_EQ(TrustedNote(), first.at("checkpoint"));

  const StaticLogFiles grown = Publish(entries, 3000);
  const BadFile& bad = GetParam();
  ASSERT_TRUE(grown.contains(bad.path)) << bad.path;
  const std::string served = bad.make(grown.at(bad.path));
  ASSERT_EQ(served.size(), grown.at(bad.path).size());
  ASSERT_NE(served, grown.at(bad.path));
  server_.Override(bad.path, Reply::Body(served));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ASSERT_EQ(r.findings.size(), 1u) << r.Describe();
  const json& f = r.findings[0];
  EXPECT_EQ(f.value("severity", ""), "CRITICAL");
  EXPECT_EQ(f.value("rule", ""), "log.tile_mismatch");
  const std::string evidence = f.value("evidence", "");
  ASSERT_FALSE(evidence.empty());
  const fs::path ev = state_ / evidence;
  EXPECT_EQ(ReadFile(ev / "checkpoint"), grown.at("checkpoint"));
  // Both tamperings show in level-0 tile 5: the served one and the one
  // recomputed from the entries.
  const std::string tile = "tile/0/005";
  if (bad.path == tile) {
    EXPECT_EQ(ReadFile(ev / "tile_0_005.served"), served);
    EXPECT_EQ(ReadFile(ev / "tile_0_005.recomputed"), grown.at(tile));
  } else {
    EXPECT_EQ(ReadFile(ev / "tile_0_005.served"), grown.at(tile));
    EXPECT_NE(ReadFile(ev / "tile_0_005.recomputed"), grown.at(tile));
  }
  EXPECT_EQ(ReadFile(ev / "tile_0_005.recomputed").size(), 8192u);
  // The log lied: still the size-1000 checkpoint, no target.
  EXPECT_EQ(TrustedNote(), first.at("checkpoint"));
  EXPECT_EQ(State().value("target_note", std::string("?")), "");
  EXPECT_EQ(State().value("next", 0u), 1000u);

  // The same lie is not reported twice, but a --once round over a log that
  // still lies is not clean either.
  MonitorRun again = OnceOpaque();
  EXPECT_TRUE(again.findings.empty()) << again.Describe();
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_EQ(TrustedNote(), first.at("checkpoint"));
}

INSTANTIATE_TEST_SUITE_P(Variants, TamperTest,
                         ::testing::Values(BadFile{"OneHashOfAFullLevel0Tile", "tile/0/005",
                                                   [](const std::string& g) {
                                                     std::string t = g;
                                                     t[7 * 32 + 3] ^= 0x40;
                                                     return t;
                                                   }},
                                           BadFile{"OneEntryOfABundle", "tile/entries/005",
                                                   [](const std::string& g) {
                                                     std::vector<std::string> e =
                                                         *DecodeEntryBundle(g);
                                                     e[3][5] ^= 0x01;
                                                     return *EncodeEntryBundle(e);
                                                   }}),
                         [](const ::testing::TestParamInfo<BadFile>& info) {
                           return info.param.name;
                         });

// ---- huge bodies -------------------------------------------------------------

struct Huge {
  std::string name;
  std::string path;
  bool declare_length;
};
void PrintTo(const Huge& p, std::ostream* os) { *os << p.name; }

class HugeBodyTest : public MonitorHostileTest, public ::testing::WithParamInterface<Huge> {};

TEST_P(HugeBodyTest, IsRefusedWithBoundedMemory) {
  const StaticLogFiles files = Publish(OpaqueEntries(3000), 3000);
  server_.Override(GetParam().path, Reply::Huge(uint64_t{100} << 20, GetParam().declare_length));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.HasKind("too_large")) << r.Describe();
  EXPECT_GT(r.max_rss_kb, 0) << "no VmHWM read";
#if !defined(__SANITIZE_ADDRESS__)  // ASan's quarantine keeps freed memory resident
  EXPECT_LT(r.max_rss_kb, 200 * 1024) << "max RSS " << r.max_rss_kb << " KiB";
#endif
  EXPECT_EQ(TrustedNote(), "");
}

INSTANTIATE_TEST_SUITE_P(Variants, HugeBodyTest,
                         ::testing::Values(Huge{"CheckpointChunked", "checkpoint", false},
                                           Huge{"CheckpointDeclared", "checkpoint", true},
                                           Huge{"HashTileChunked", "tile/0/003", false},
                                           Huge{"HashTileDeclared", "tile/0/003", true},
                                           Huge{"BundleChunked", "tile/entries/003", false}),
                         [](const ::testing::TestParamInfo<Huge>& info) {
                           return info.param.name;
                         });

// ---- redirects, silence, drips, lies about length --------------------------------

TEST_F(MonitorHostileTest, RedirectedCheckpointIsFollowed) {
  const StaticLogFiles files = Publish(OpaqueEntries(600), 600);
  StaticLogFiles moved = files;
  moved["moved/checkpoint"] = files.at("checkpoint");
  server_.SetFiles(moved);
  server_.Override("checkpoint", Reply::Redirect("/moved/checkpoint"));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_EQ(TrustedNote(), files.at("checkpoint"));
}

TEST_F(MonitorHostileTest, CheckpointRedirectedToAnotherHostIsFollowed) {
  const StaticLogFiles files = Publish(OpaqueEntries(600), 600);
  StaticLogServer other({{"cp", files.at("checkpoint")}});
  ASSERT_TRUE(other.ok());
  server_.Override("checkpoint", Reply::Redirect(other.Url() + "cp", 307));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_EQ(TrustedNote(), files.at("checkpoint"));
}

TEST_F(MonitorHostileTest, RedirectLoopIsOperational) {
  Publish(OpaqueEntries(600), 600);
  server_.Override("checkpoint", Reply::Redirect("/checkpoint2"));
  server_.Override("checkpoint2", Reply::Redirect("/checkpoint"));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_EQ(r.Kinds(), std::vector<std::string>{"unreachable"}) << r.Describe();
  EXPECT_EQ(TrustedNote(), "");
}

TEST_F(MonitorHostileTest, TileRedirectLoopIsOperational) {
  Publish(OpaqueEntries(600), 600);
  server_.Override("tile/0/001", Reply::Redirect("/tile/0/001"));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.HasKind("unreachable")) << r.Describe();
}

TEST_F(MonitorHostileTest, SilentCheckpointTimesOut) {
  Publish(OpaqueEntries(600), 600);
  server_.Override("checkpoint", Reply::Silent());
  MonitorRun r =
      Wait(Start(Args(server_.Url(), {"--once", "--timeout", "1s", "--entry-format", "opaque"})));
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_EQ(r.Kinds(), std::vector<std::string>{"timeout"}) << r.Describe();
}

TEST_F(MonitorHostileTest, SlowDripTileTimesOut) {
  Publish(OpaqueEntries(600), 600);
  server_.Override("tile/0/001", Reply::Drip());
  MonitorRun r =
      Wait(Start(Args(server_.Url(), {"--once", "--timeout", "1s", "--entry-format", "opaque"})));
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.HasKind("timeout")) << r.Describe();
  EXPECT_EQ(TrustedNote(), "");
}

TEST_F(MonitorHostileTest, ContentLengthLieIsOperational) {
  const StaticLogFiles files = Publish(OpaqueEntries(600), 600);
  const std::string bundle = files.at("tile/entries/001");
  server_.Override("tile/entries/001", Reply::Truncated(bundle.substr(0, 100), bundle.size()));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.HasKind("unreachable")) << r.Describe();
  EXPECT_EQ(TrustedNote(), "");
}

TEST_F(MonitorHostileTest, ServerErrorsAreOperational) {
  Publish(OpaqueEntries(600), 600);
  server_.Override("tile/entries/000", Reply::Status(503));
  server_.Override("tile/0/002.p/88", Reply::Status(404));
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_FALSE(r.operational.empty()) << r.Describe();
}

TEST_F(MonitorHostileTest, JunkBeyondTheTreeIsNeverAsked) {
  const std::vector<std::string> entries = OpaqueEntries(3000);
  Publish(entries, 1000);
  server_.SetJunkForUnknown(true);
  MonitorRun r = OnceOpaque();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(server_.UnknownPathsRequested().empty()) << server_.UnknownPathsRequested().front();
  // Grown: the consistency proof and the new bundles, still nothing beyond.
  const StaticLogFiles grown = Publish(entries, 2500);
  MonitorRun r2 = OnceOpaque();
  EXPECT_EQ(r2.exit_code, 0) << r2.Describe();
  EXPECT_TRUE(r2.findings.empty()) << r2.Describe();
  EXPECT_TRUE(server_.UnknownPathsRequested().empty()) << server_.UnknownPathsRequested().front();
  EXPECT_EQ(TrustedNote(), grown.at("checkpoint"));
}

// ---- webhook: exactly once ---------------------------------------------------------

// A webhook receiver: answers 500 to POSTs while `fail` says so, else 200.
class Receiver {
 public:
  explicit Receiver(std::function<bool(int)> fail) : fail_(std::move(fail)) {
    server_.SetPostHandler([this](const SeenRequest&) {
      return fail_(posts_++) ? Reply::Body("down", 500) : Reply::Body("ok", 200);
    });
  }
  bool ok() const { return server_.ok(); }
  std::string Url() const { return server_.Url() + "hook"; }
  // seq -> how many times it was answered 200 (and failed).
  std::map<uint64_t, int> Delivered() const { return Count(200); }
  std::map<uint64_t, int> Failed() const { return Count(500); }
  std::vector<json> Bodies() const {
    std::vector<json> out;
    for (const SeenRequest& q : server_.Requests()) {
      if (q.method == "POST") out.push_back(json::parse(q.body, nullptr, false));
    }
    return out;
  }

 private:
  std::map<uint64_t, int> Count(unsigned status) const {
    std::map<uint64_t, int> out;
    for (const SeenRequest& q : server_.Requests()) {
      if (q.method != "POST" || q.status != status) continue;
      json j = json::parse(q.body, nullptr, false);
      ++out[j.is_object() ? j.value("seq", uint64_t{0}) : 0];
    }
    return out;
  }

  std::function<bool(int)> fail_;
  std::atomic<int> posts_{0};
  StaticLogServer server_;
};

TEST_F(MonitorHostileTest, WebhookDeliversEachFindingExactlyOnceAfterFailures) {
  Publish(OpaqueEntries(5), 5);
  Receiver hook([](int n) { return n < 3; });
  ASSERT_TRUE(hook.ok());
  const pid_t pid =
      Start(Args(server_.Url(), {"--interval", "1s", "--timeout", "2s", "--webhook", hook.Url()}));
  ASSERT_GT(pid, 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (hook.Delivered().size() < 5 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ::kill(pid, SIGTERM);
  MonitorRun r = Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  const std::map<uint64_t, int> delivered = hook.Delivered();
  EXPECT_EQ(delivered, (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}))
      << r.Describe();
  int failed = 0;
  for (const auto& [seq, n] : hook.Failed()) failed += n;
  EXPECT_EQ(failed, 3);
  for (const json& b : hook.Bodies()) {
    ASSERT_TRUE(b.is_object());
    EXPECT_EQ(b.value("rule", ""), "entry.unparseable");
    EXPECT_EQ(b.value("severity", ""), "WARNING");
  }
  // stdout: each finding once, on the first round.
  ASSERT_EQ(r.findings.size(), 5u) << r.Describe();
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(r.findings[i].value("seq", uint64_t{0}), i + 1);
  EXPECT_TRUE(State().value("spool", json::array()).empty()) << State().dump(1);
}

TEST_F(MonitorHostileTest, WebhookSpoolSurvivesARestartAndIsNotPrintedTwice) {
  Publish(OpaqueEntries(5), 5);
  {
    Receiver down([](int) { return true; });
    ASSERT_TRUE(down.ok());
    MonitorRun r = Once({"--webhook", down.Url()});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    ASSERT_EQ(r.findings.size(), 5u) << r.Describe();
    EXPECT_TRUE(down.Delivered().empty());
    EXPECT_TRUE(r.HasKind("delivery")) << r.Describe();
    const json spool = State().value("spool", json::array());
    ASSERT_EQ(spool.size(), 5u) << State().dump(1);
    for (size_t i = 0; i < spool.size(); ++i) {
      EXPECT_EQ(spool[i].value("seq", uint64_t{0}), i + 1);
      EXPECT_EQ(spool[i].value("_channels", json::array()), json::array({"webhook"}))
          << spool[i].dump();
    }
  }
  Receiver up([](int) { return false; });
  ASSERT_TRUE(up.ok());
  MonitorRun r = Once({"--webhook", up.Url()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << "printed again:\n" << r.Describe();
  EXPECT_EQ(up.Delivered(), (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
  EXPECT_TRUE(State().value("spool", json::array()).empty()) << State().dump(1);
  // A third run owes nothing.
  MonitorRun third = Once({"--webhook", up.Url()});
  EXPECT_EQ(third.exit_code, 0) << third.Describe();
  EXPECT_EQ(up.Delivered().size(), 5u);
  for (const auto& [seq, n] : up.Delivered()) EXPECT_EQ(n, 1) << seq;
}

// ---- absurd sizes --------------------------------------------------------------

// A log that signs a checkpoint of a size it cannot serve (up to 2^64 - 1):
// the audit asks for the bundles it can address, finds them missing and
// ends the round; no overflow, no hang.
TEST_F(MonitorHostileTest, SignedCheckpointOfAnAbsurdSizeEndsTheRound) {
  const std::vector<std::string> entries = OpaqueEntries(300);
  Publish(entries, 300);
  for (uint64_t size : {~uint64_t{0}, ~uint64_t{0} - 255, uint64_t{1} << 63}) {
    SCOPED_TRACE(size);
    Checkpoint cp = *CheckpointOf(entries, 300, kOrigin);
    cp.size = size;
    server_.Override("checkpoint", Reply::Body(*SignNote(cp.Body(), {signer_})));
    fs::remove_all(state_);
    MonitorRun r =
        Wait(Start(Args(server_.Url(), {"--once", "--timeout", "2s", "--entry-format", "opaque"})),
             absl::Seconds(30));
    EXPECT_EQ(r.exit_code, 3) << r.Describe();
    EXPECT_TRUE(r.findings.empty()) << r.Describe();
    EXPECT_TRUE(r.HasKind("not_found")) << r.Describe();
    EXPECT_EQ(TrustedNote(), "");
  }
}

// ---- witness policy and gossip (docs/monitor.md, "Gossip") -------------------

std::string OriginPath() { return HashToHex(Sha256(kOrigin)) + "/checkpoint"; }

TEST_F(MonitorHostileTest, GossipPeerShowingAnotherHistoryIsACriticalSplitView) {
  const std::vector<std::string> entries = OpaqueEntries(600);
  Publish(entries, 600);
  // A peer (a witness or another monitor) was shown another history of the
  // same size, signed by the same key.
  StaticLogServer peer;
  const std::string forked =
      (*BuildStaticLog(OpaqueEntries(600, "fork"), 600, signer_)).at("checkpoint");
  peer.SetFiles({{OriginPath(), forked}});
  MonitorRun r = OnceOpaque({"--witness", peer.Url()});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ASSERT_EQ(r.Rules(), std::vector<std::string>{"log.split_view"}) << r.Describe();
  EXPECT_EQ(r.findings[0].value("severity", ""), "CRITICAL");
  const std::string evidence = r.findings[0].value("evidence", "");
  ASSERT_FALSE(evidence.empty());
  EXPECT_EQ(ReadFile(state_ / evidence / "peer.checkpoint"), forked);
  EXPECT_EQ(ReadFile(state_ / evidence / "monitor.checkpoint"), TrustedNote());
  EXPECT_NE(ReadFile(state_ / evidence / "README").find(peer.Url().substr(0, 20)),
            std::string::npos);
  // Known: not reported again, but not clean either.
  r = OnceOpaque({"--witness", peer.Url()});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
}

TEST_F(MonitorHostileTest, GossipPeersThatFailAreOperationalNeverFindings) {
  Publish(OpaqueEntries(300), 300);
  StaticLogServer down, junk, nothing;
  down.Override(OriginPath(), Reply::Status(503));
  junk.Override(OriginPath(), Reply::Body("<html>hello</html>"));
  MonitorRun r =
      OnceOpaque({"--witness", down.Url(), "--witness", junk.Url(), "--witness", nothing.Url()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  const std::vector<std::string> kinds = r.Kinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "gossip"), 2) << r.Describe();
}

TEST_F(MonitorHostileTest, CheckpointWithoutThePolicysQuorumIsAWarningAndNotTrusted) {
  Publish(OpaqueEntries(300), 300);
  NoteSigner witness = *NoteSigner::Generate("hostile.test/witness");
  const fs::path policy = dir_ / "policy";
  std::ofstream(policy) << "log " << signer_.VerifierKey() << "\nwitness W1 "
                        << witness.CosignatureVerifierKey() << "\nquorum W1\n";
  MonitorRun r = Wait(Start({INFRATRAIL_VERIFIER_BIN, "monitor", "--once", "--log", server_.Url(),
                             "--witness-policy", policy.string(), "--state-dir", state_.string(),
                             "--entry-format", "opaque", "--progress", "never"}));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_EQ(r.Rules(), std::vector<std::string>{"checkpoint.unwitnessed"}) << r.Describe();
  EXPECT_EQ(r.findings[0].value("severity", ""), "WARNING");
  EXPECT_EQ(TrustedNote(), "");
  // A grammar error names the file, line and column; usage, exit 2.
  std::ofstream(policy) << "log " << signer_.VerifierKey() << "\nquorum W9\n";
  r = Wait(Start({INFRATRAIL_VERIFIER_BIN, "monitor", "--once", "--log", server_.Url(),
                  "--witness-policy", policy.string(), "--state-dir", state_.string()}));
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, policy.string() + ":2:8: ")) << r.Describe();
}

TEST_F(MonitorHostileTest, BadHttpAddrIsAUsageError) {
  Publish(OpaqueEntries(10), 10);
  MonitorRun r = OnceOpaque({"--http-addr", "not-an-address"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "--http-addr")) << r.Describe();
}

// ---- SIGHUP: the configuration read again ----------------------------------

constexpr char kOtherOrigin[] = "hostile.test/b";

// The monitor runs from a TOML file (its logs' entries opaque unless told,
// a round every second) that the tests rewrite before each SIGHUP; a second
// log is served by a server of its own. Every wait polls something the
// monitor does (a state file, a line on stderr) up to a generous deadline.
class MonitorReloadTest : public MonitorHostileTest {
 protected:
  void SetUp() override {
    MonitorHostileTest::SetUp();
    ASSERT_TRUE(other_server_.ok());
    config_ = dir_ / "monitor.toml";
  }

  struct Followed {
    std::string url, key;
  };
  Followed A() { return {server_.Url(), signer_.VerifierKey()}; }
  Followed B() { return {other_server_.Url(), other_signer_.VerifierKey()}; }
  StaticLogFiles PublishB(const std::vector<std::string>& entries, uint64_t size) {
    absl::StatusOr<StaticLogFiles> files = BuildStaticLog(entries, size, other_signer_);
    EXPECT_TRUE(files.ok()) << files.status();
    other_server_.SetFiles(*files);
    return *files;
  }

  std::string Config(const std::vector<Followed>& logs, const std::string& extra = "",
                     const std::string& entry_format = "opaque") {
    std::string text = absl::StrCat("state_dir = \"", state_.string(),
                                    "\"\ninterval = \"1s\"\ntimeout = \"2s\"\nentry_format = \"",
                                    entry_format, "\"\n", extra);
    for (const Followed& log : logs) {
      absl::StrAppend(&text, "\n[[log]]\nurl = \"", log.url, "\"\nkey = \"", log.key, "\"\n");
    }
    return text;
  }
  // Replaced whole (a rename), so the monitor never reads half a file.
  void WriteConfig(const std::string& text) {
    const fs::path tmp = dir_ / "monitor.toml.tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
    fs::rename(tmp, config_);
  }
  pid_t StartWithConfig(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {INFRATRAIL_VERIFIER_BIN, "monitor",    "--config",
                                     config_.string(),        "--progress", "never"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args);
  }
  // `monitor --once` on one log and state dir of its own choosing.
  MonitorRun OnceOn(const Followed& log, const fs::path& state_dir) {
    return Wait(Start({INFRATRAIL_VERIFIER_BIN, "monitor", "--once", "--log", log.url, "--log-key",
                       log.key, "--state-dir", state_dir.string(), "--entry-format", "opaque",
                       "--timeout", "2s", "--progress", "never"}));
  }

  // The state dir the monitor made for `origin` under --state-dir (named
  // after the origin), empty before it exists.
  fs::path LogDir(const std::string& origin) {
    std::string prefix;
    for (char c : origin)
      prefix += (std::isalnum(static_cast<unsigned char>(c)) || c == '.') ? c : '_';
    prefix += "-";
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(state_, ec)) {
      if (absl::StartsWith(e.path().filename().string(), prefix)) return e.path();
    }
    return {};
  }
  json StateOf(const std::string& origin) {
    const fs::path d = LogDir(origin);
    if (d.empty()) return json::object();
    json j = json::parse(ReadFile(d / "state.json"), nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json::object() : j;
  }
  std::string TrustedNoteOf(const std::string& origin) {
    return StateOf(origin).value("trusted_note", std::string());
  }

  std::string ErrOf(pid_t pid) { return ReadFile(outputs_[pid].second); }
  std::vector<json> OperationalOf(pid_t pid, const std::string& kind) {
    std::vector<json> out;
    for (json& e : JsonLines(ErrOf(pid))) {
      if (e.value("severity", "") == "OPERATIONAL" && e.value("kind", "") == kind) {
        out.push_back(std::move(e));
      }
    }
    return out;
  }
  // Running, not a zombie; does not reap it.
  static bool Alive(pid_t pid) {
    const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
  }
  // Polls `condition` until it holds (true), or `limit` passes or the
  // monitor `pid` is gone (false).
  static bool WaitUntil(pid_t pid, const std::function<bool()>& condition,
                        absl::Duration limit = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + limit;
    while (!condition()) {
      if (!Alive(pid)) return condition();
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return true;
  }
  // SIGTERM, and the run as it ended: exit 0, never a signal.
  MonitorRun Stop(pid_t pid) {
    EXPECT_EQ(::kill(pid, SIGTERM), 0);
    MonitorRun r = Wait(pid);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r;
  }

  NoteSigner other_signer_ = *NoteSigner::Generate(kOtherOrigin);
  StaticLogServer other_server_;
  fs::path config_;
};

TEST_F(MonitorReloadTest, AddedLogIsAuditedAndTheFirstIsStillFollowed) {
  const std::vector<std::string> a = OpaqueEntries(600, "a");
  const StaticLogFiles a300 = Publish(a, 300);
  const StaticLogFiles b200 = PublishB(OpaqueEntries(200, "b"), 200);
  WriteConfig(Config({A()}));
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a300.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_TRUE(LogDir(kOtherOrigin).empty());

  WriteConfig(Config({A(), B()}));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOtherOrigin) == b200.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_EQ(StateOf(kOtherOrigin).value("next", 0u), 200u);
  EXPECT_TRUE(absl::StrContains(
      ErrOf(pid), absl::StrCat("monitor: SIGHUP: reloaded --config ", config_.string(),
                               ": 2 log(s); 1 added (", kOtherOrigin, "), 0 removed")))
      << ErrOf(pid);
  // The first log kept its state dir (reopening it would have failed on
  // its own lock) and is still followed.
  const StaticLogFiles a600 = Publish(a, 600);
  EXPECT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a600.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_EQ(StateOf(kOrigin).value("next", 0u), 600u);
  EXPECT_TRUE(Alive(pid));

  MonitorRun r = Stop(pid);
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
  EXPECT_TRUE(r.operational.empty()) << r.Describe();
}

TEST_F(MonitorReloadTest, BrokenConfigIsReportedAndTheOldOneKeepsRunning) {
  const std::vector<std::string> a = OpaqueEntries(600, "a");
  const StaticLogFiles a300 = Publish(a, 300);
  WriteConfig(Config({A()}));
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a300.at("checkpoint"); }))
      << ErrOf(pid);

  // Not TOML, then TOML with a key the monitor does not know.
  const std::vector<std::pair<std::string, std::string>> broken = {
      {Config({A()}) + "\n[[log]\nurl = \"", "line"},
      {Config({A()}, "intervall = \"5s\"\n"), "unknown key \"intervall\""}};
  for (size_t i = 0; i < broken.size(); ++i) {
    SCOPED_TRACE(broken[i].second);
    WriteConfig(broken[i].first);
    ASSERT_EQ(::kill(pid, SIGHUP), 0);
    ASSERT_TRUE(WaitUntil(pid, [&] { return OperationalOf(pid, "reload").size() == i + 1; }))
        << ErrOf(pid);
    const std::string message = OperationalOf(pid, "reload")[i].value("message", "");
    EXPECT_TRUE(absl::StrContains(message, "keeping the previous configuration")) << message;
    EXPECT_TRUE(absl::StrContains(message, absl::StrCat("--config ", config_.string(), " line")))
        << message;
    EXPECT_TRUE(absl::StrContains(message, broken[i].second)) << message;
  }
  EXPECT_FALSE(absl::StrContains(ErrOf(pid), "reloaded")) << ErrOf(pid);

  const StaticLogFiles a600 = Publish(a, 600);
  EXPECT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a600.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_TRUE(Alive(pid));
  MonitorRun r = Stop(pid);
  EXPECT_EQ(r.Kinds(), (std::vector<std::string>{"reload", "reload"})) << r.Describe();
}

TEST_F(MonitorReloadTest, RemovedLogReleasesItsStateDir) {
  const std::vector<std::string> a = OpaqueEntries(600, "a");
  const StaticLogFiles a300 = Publish(a, 300);
  const StaticLogFiles b200 = PublishB(OpaqueEntries(200, "b"), 200);
  WriteConfig(Config({A(), B()}));
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitUntil(pid, [&] {
    return TrustedNoteOf(kOrigin) == a300.at("checkpoint") &&
           TrustedNoteOf(kOtherOrigin) == b200.at("checkpoint");
  })) << ErrOf(pid);
  const fs::path b_dir = LogDir(kOtherOrigin);
  MonitorRun locked = OnceOn(B(), b_dir);
  EXPECT_EQ(locked.exit_code, 2) << locked.Describe();
  EXPECT_TRUE(absl::StrContains(locked.err, "another monitor holds")) << locked.Describe();

  WriteConfig(Config({A()}));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(pid, [&] {
    return absl::StrContains(ErrOf(pid),
                             absl::StrCat("1 log(s); 0 added, 1 removed (", kOtherOrigin, ")"));
  })) << ErrOf(pid);
  MonitorRun released = OnceOn(B(), b_dir);
  EXPECT_EQ(released.exit_code, 0) << released.Describe();

  const StaticLogFiles a600 = Publish(a, 600);
  EXPECT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a600.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_TRUE(Alive(pid));
  MonitorRun r = Stop(pid);
  EXPECT_TRUE(r.operational.empty()) << r.Describe();
}

TEST_F(MonitorReloadTest, NewLogWhoseStateDirIsLockedKeepsTheWholeOldConfiguration) {
  const std::vector<std::string> a = OpaqueEntries(600, "a");
  const StaticLogFiles a300 = Publish(a, 300);
  const StaticLogFiles b200 = PublishB(OpaqueEntries(200, "b"), 200);
  // B's state dir exists (a run of its own made it) and someone holds it.
  WriteConfig(Config({B()}));
  MonitorRun first = Wait(StartWithConfig({"--once"}));
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  const fs::path b_dir = LogDir(kOtherOrigin);
  ASSERT_FALSE(b_dir.empty());
  const std::string b_note = TrustedNoteOf(kOtherOrigin);
  const int lock = ::open((b_dir / "lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);

  WriteConfig(Config({A()}));
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a300.at("checkpoint"); }))
      << ErrOf(pid);
  // B added and the webhook changed: neither happens.
  Receiver hook([](int) { return false; });
  ASSERT_TRUE(hook.ok());
  WriteConfig(Config({A(), B()}, absl::StrCat("webhook = \"", hook.Url(), "\"\n")));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return OperationalOf(pid, "reload").size() == 1; }))
      << ErrOf(pid);
  EXPECT_TRUE(absl::StrContains(OperationalOf(pid, "reload")[0].value("message", ""),
                                "another monitor holds"))
      << ErrOf(pid);
  const StaticLogFiles a600 = Publish(a, 600);
  EXPECT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == a600.at("checkpoint"); }))
      << ErrOf(pid);
  EXPECT_EQ(TrustedNoteOf(kOtherOrigin), b_note);

  // Released, the same file applies on the next SIGHUP.
  ::close(lock);
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(WaitUntil(pid, [&] {
    return absl::StrContains(ErrOf(pid),
                             absl::StrCat("2 log(s); 1 added (", kOtherOrigin, "), 0 removed"));
  })) << ErrOf(pid);
  EXPECT_TRUE(Alive(pid));
  MonitorRun r = Stop(pid);
  EXPECT_EQ(r.Kinds(), std::vector<std::string>{"reload"}) << r.Describe();
  EXPECT_TRUE(hook.Bodies().empty());
}

// A channel dropped by a reload keeps the findings it is owed in the spool,
// says so, and gets them once it is configured again (at its new URL).
TEST_F(MonitorReloadTest, FindingsOwedToARemovedWebhookStaySpooledUntilItIsBack) {
  Publish(OpaqueEntries(5), 5);  // 5 entry.unparseable WARNINGs
  Receiver down([](int) { return true; });
  ASSERT_TRUE(down.ok());
  const std::string infraevent = "infraevent";
  WriteConfig(Config({A()}, absl::StrCat("webhook = \"", down.Url(), "\"\n"), infraevent));
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  auto spooled = [&] { return StateOf(kOrigin).value("spool", json::array()).size(); };
  ASSERT_TRUE(WaitUntil(pid, [&] { return spooled() == 5 && !down.Failed().empty(); }))
      << ErrOf(pid);

  WriteConfig(Config({A()}, "", infraevent));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  auto unconfigured = [&] {
    std::vector<json> out;
    for (json& e : OperationalOf(pid, "delivery")) {
      if (absl::StrContains(e.value("message", ""), "not configured")) out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(WaitUntil(pid, [&] { return unconfigured().size() == 1; })) << ErrOf(pid);
  EXPECT_TRUE(absl::StrContains(unconfigured()[0].value("message", ""), "5 for webhook"))
      << ErrOf(pid);
  EXPECT_EQ(unconfigured()[0].value("origin", ""), kOrigin);
  EXPECT_EQ(spooled(), 5u);

  Receiver up([](int) { return false; });
  ASSERT_TRUE(up.ok());
  WriteConfig(Config({A()}, absl::StrCat("webhook = \"", up.Url(), "\"\n"), infraevent));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(WaitUntil(pid, [&] { return up.Delivered().size() == 5 && spooled() == 0; }))
      << ErrOf(pid);
  EXPECT_TRUE(Alive(pid));
  MonitorRun r = Stop(pid);
  EXPECT_EQ(up.Delivered(), (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
  EXPECT_TRUE(down.Delivered().empty());
  // Printed on stdout once, when found; a reload does not print them again.
  EXPECT_EQ(r.findings.size(), 5u) << r.Describe();
  EXPECT_EQ(unconfigured().size(), 1u) << r.Describe();
}

// The event policy is part of the configuration: SIGHUP reads the policy
// file again (even under the same path), and a policy that does not load
// keeps the one in force, reported as an operational `reload` naming the
// file, line and column.
TEST_F(MonitorReloadTest, PolicyIsReadAgainAndABrokenOneKeepsTheOld) {
  std::vector<std::string> events;
  for (int i = 0; i < 6; ++i) {
    v1::InfraEvent e;
    e.set_kind(v1::ACCESS);
    e.mutable_resource()->set_provider("aws");
    e.mutable_resource()->set_type("postgres");
    e.mutable_resource()->set_id(absl::StrCat("db-", i));
    e.mutable_actor()->set_principal("alice");
    events.push_back(e.SerializeAsString());
  }
  const fs::path policy = dir_ / "policy.yaml";
  auto write_policy = [&](const std::string& text) {
    const fs::path tmp = dir_ / "policy.yaml.tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
    fs::rename(tmp, policy);
  };
  write_policy(
      "version: 1\nrules:\n  - id: first\n    match: {kind: [ACCESS]}\n"
      "    require: {ticket: true}\n");
  WriteConfig(Config({A()}, absl::StrCat("policy = \"", policy.string(), "\"\n"), "infraevent"));
  StaticLogFiles files = Publish(events, 2);
  const pid_t pid = StartWithConfig();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == files.at("checkpoint"); }))
      << ErrOf(pid);

  write_policy(
      "version: 1\nrules:\n  - id: second\n    match: {kind: [ACCESS]}\n    notify: true\n");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return absl::StrContains(ErrOf(pid), "reloaded"); }))
      << ErrOf(pid);
  files = Publish(events, 4);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == files.at("checkpoint"); }))
      << ErrOf(pid);

  write_policy("version: 1\nrules:\n  - id: third\n    match: {kind: [ACESS]}\n    notify: true\n");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(pid, [&] { return OperationalOf(pid, "reload").size() == 1; }))
      << ErrOf(pid);
  const std::string message = OperationalOf(pid, "reload")[0].value("message", "");
  EXPECT_TRUE(absl::StrContains(message, "keeping the previous configuration")) << message;
  EXPECT_TRUE(absl::StrContains(message, absl::StrCat(policy.string(), ":4:"))) << message;
  EXPECT_TRUE(absl::StrContains(message, "ACESS")) << message;
  files = Publish(events, 6);
  ASSERT_TRUE(WaitUntil(pid, [&] { return TrustedNoteOf(kOrigin) == files.at("checkpoint"); }))
      << ErrOf(pid);

  MonitorRun r = Stop(pid);
  std::vector<std::pair<std::string, uint64_t>> got;
  for (const json& f : r.findings) got.emplace_back(f.value("rule", ""), f.value("index", 0u));
  EXPECT_EQ(
      got,
      (std::vector<std::pair<std::string, uint64_t>>{
          {"first", 0}, {"first", 1}, {"second", 2}, {"second", 3}, {"second", 4}, {"second", 5}}))
      << r.Describe();
}

// ---- the console's event index (docs/console.md) ---------------------------

// InfraEvents, serialized: resource r-(i % 10), every 10th an ACCESS.
std::vector<std::string> EventEntries(int n, const std::string& tag = "e") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    v1::InfraEvent e;
    e.set_kind(i % 10 == 0 ? v1::ACCESS : v1::PROVISION);
    e.mutable_resource()->set_provider("aws");
    e.mutable_resource()->set_type("vm");
    e.mutable_resource()->set_id(absl::StrCat("r-", i % 10));
    e.mutable_actor()->set_principal(absl::StrCat(tag, "-actor-", i));
    std::string bytes;
    e.SerializeToString(&bytes);
    out.push_back(std::move(bytes));
  }
  return out;
}

class ConsoleIndexTest : public MonitorReloadTest {
 protected:
  pid_t StartConsole(std::vector<std::string> extra = {}) {
    port_ = testutil::UnusedLoopbackPort();
    extra.insert(extra.end(), {"--http-addr", absl::StrCat("127.0.0.1:", port_), "--interval", "1s",
                               "--timeout", "2s"});
    return Start(Args(server_.Url(), extra));
  }
  // GET of the console's API; null on a failed request or a non-200.
  json Api(const std::string& path) {
    testutil::HttpTestConnection c(port_);
    if (!c.ok()) return nullptr;
    testutil::HttpTestReply r = c.Send("GET", path);
    if (r.status != 200) return nullptr;
    json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json(nullptr) : j;
  }
  uint64_t VerifiedSize() {
    json j = Api("/api/v1/logs");
    if (!j.is_object() || j["logs"].empty()) return 0;
    return j["logs"][0].value("verified_size", uint64_t{0});
  }
  // Every index the search for `query` returns, page by page; nullopt if a
  // request fails (the console is not up yet, or the log not verified).
  std::optional<std::vector<uint64_t>> SearchAll(const std::string& query) {
    std::vector<uint64_t> found;
    std::string before;
    for (int pages = 0; pages < 1000; ++pages) {
      json j = Api(absl::StrCat("/api/v1/events?limit=500&", query, before));
      if (!j.is_object()) return std::nullopt;
      for (const json& e : j["events"]) found.push_back(e["index"].get<uint64_t>());
      if (j["next_before"].is_null()) return found;
      before = absl::StrCat("&before=", j["next_before"].get<uint64_t>());
    }
    return std::nullopt;
  }
  // A monitor verifies `entries` and stops; its index is then deleted.
  void VerifyAndDeleteIndex(const std::vector<std::string>& entries) {
    Publish(entries, entries.size());
    pid_t pid = StartConsole();
    ASSERT_TRUE(WaitUntil(pid, [&] { return VerifiedSize() == entries.size(); })) << ErrOf(pid);
    Stop(pid);
    fs::remove_all(state_ / "index");
  }
  std::optional<std::vector<uint64_t>> Expected(uint64_t size, int resource) {
    std::vector<uint64_t> out;
    for (uint64_t i = size; i-- > 0;) {
      if (static_cast<int>(i % 10) == resource) out.push_back(i);
    }
    return out;
  }

  int port_ = 0;
};

TEST_F(ConsoleIndexTest, AfterAKill9TheSearchFindsEveryVerifiedEventOnce) {
  const std::vector<std::string> entries = EventEntries(20000);
  Publish(entries, entries.size());
  // The audit stalls at bundle 40 (entry 10240), after commits every 1000
  // entries, and is killed there.
  server_.Override("tile/entries/040", Reply::Silent());
  pid_t pid = StartConsole({"--commit-every", "1000", "--bundles-per-batch", "4"});
  ASSERT_TRUE(WaitUntil(pid, [&] { return State().value("next", uint64_t{0}) >= 10000; }));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_LT(State().value("next", uint64_t{0}), entries.size());
  server_.ClearOverrides();
  pid = StartConsole();
  ASSERT_TRUE(WaitUntil(pid, [&] { return VerifiedSize() == entries.size(); })) << ErrOf(pid);
  EXPECT_EQ(SearchAll("resource_id=r-3"), Expected(entries.size(), 3));
  EXPECT_EQ(SearchAll("resource_id=r-0&kind=ACCESS"), Expected(entries.size(), 0));
  EXPECT_EQ(SearchAll("resource_id=r-3&kind=ACCESS"), std::vector<uint64_t>{});
  json e = Api("/api/v1/events/12345");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["actor"], "e-actor-12345");
  EXPECT_EQ(e["leaf_hash"], HashToBase64(HashLeaf(entries[12345])));
  Stop(pid);
}

TEST_F(ConsoleIndexTest, ADeletedIndexIsRebuiltFromTheLog) {
  const std::vector<std::string> entries = EventEntries(3000);
  ASSERT_NO_FATAL_FAILURE(VerifyAndDeleteIndex(entries));
  pid_t pid = StartConsole();
  ASSERT_TRUE(WaitUntil(pid, [&] {
    std::optional<std::vector<uint64_t>> found = SearchAll("resource_id=r-7");
    return found.has_value() && found->size() == 300;
  })) << ErrOf(pid);
  EXPECT_EQ(SearchAll("resource_id=r-7"), Expected(entries.size(), 7));
  MonitorRun r = Stop(pid);
  EXPECT_TRUE(r.findings.empty()) << r.Describe();
}

TEST_F(ConsoleIndexTest, ALogServingOtherEntriesToARebuildIsCritical) {
  const std::vector<std::string> entries = EventEntries(600);
  ASSERT_NO_FATAL_FAILURE(VerifyAndDeleteIndex(entries));
  // The same checkpoint, and a first bundle of other events.
  const std::vector<std::string> other = EventEntries(256, "other");
  server_.Override("tile/entries/000", Reply::Body(*EncodeEntryBundle(other)));
  pid_t pid = StartConsole();
  ASSERT_TRUE(WaitUntil(pid, [&] {
    return absl::StrContains(ReadFile(outputs_[pid].first), "log.entries_changed");
  })) << ErrOf(pid);
  // Nothing of the other entries is served: the index waits for a rebuild.
  EXPECT_EQ(SearchAll("resource_id=r-1"), std::nullopt);
  MonitorRun r = Stop(pid);
  ASSERT_EQ(r.Rules(), std::vector<std::string>{"log.entries_changed"}) << r.Describe();
  EXPECT_EQ(r.findings[0].value("severity", ""), "CRITICAL");
}

TEST_F(ConsoleIndexTest, ARebuildThatFailsMidwayServesNothingUnverified) {
  const std::vector<std::string> entries = EventEntries(600);
  ASSERT_NO_FATAL_FAILURE(VerifyAndDeleteIndex(entries));
  // The same checkpoint; a first bundle of other events, large enough to
  // pass the index's write buffer, and then no second bundle.
  std::vector<std::string> other;
  for (int i = 0; i < 256; ++i) {
    v1::InfraEvent e;
    e.mutable_resource()->set_id("forged");
    e.set_justification(std::string(20000, 'x'));
    other.push_back(e.SerializeAsString());
  }
  server_.Override("tile/entries/000", Reply::Body(*EncodeEntryBundle(other)));
  server_.Override("tile/entries/001", Reply::Status(503));
  pid_t pid = StartConsole();
  ASSERT_TRUE(WaitUntil(pid, [&] { return !OperationalOf(pid, "index").empty(); })) << ErrOf(pid);
  ASSERT_TRUE(WaitUntil(pid, [&] { return VerifiedSize() == entries.size(); })) << ErrOf(pid);
  // Nothing unverified is served, and the audit goes on meanwhile.
  EXPECT_EQ(Api("/api/v1/events?resource_id=forged"), nullptr);
  EXPECT_EQ(Api("/api/v1/events/3"), nullptr);
  const std::vector<std::string> more = EventEntries(700);
  Publish(more, more.size());
  server_.Override("tile/entries/000", Reply::Body(*EncodeEntryBundle(other)));
  server_.Override("tile/entries/001", Reply::Status(503));
  EXPECT_TRUE(WaitUntil(pid, [&] { return State().value("next", uint64_t{0}) == more.size(); }))
      << ErrOf(pid);
  EXPECT_EQ(Api("/api/v1/events?resource_id=forged"), nullptr);
  // Once the log serves its entries again, the index is rebuilt whole.
  server_.ClearOverrides();
  EXPECT_TRUE(WaitUntil(pid, [&] {
    std::optional<std::vector<uint64_t>> found = SearchAll("resource_id=r-7");
    return found.has_value() && found->size() == 70;
  })) << ErrOf(pid);
  EXPECT_EQ(SearchAll("resource_id=forged"), std::vector<uint64_t>{});
  Stop(pid);
}

TEST_F(ConsoleIndexTest, EntriesReadInARoundThatStoppedAreNotKeptForTheNext) {
  // A first round reads bundles 0 and 1 of one tree and stalls at bundle 2,
  // committing nothing; the next round finds another tree.
  Publish(EventEntries(600, "first"), 600);
  server_.Override("tile/entries/002.p/88", Reply::Silent());
  pid_t pid = StartConsole({"--bundles-per-batch", "1"});
  ASSERT_TRUE(WaitUntil(pid, [&] {
    for (const SeenRequest& q : server_.Requests()) {
      if (q.path == "tile/entries/002.p/88") return true;
    }
    return false;
  })) << ErrOf(pid);
  const std::vector<std::string> entries = EventEntries(700, "second");
  Publish(entries, entries.size());
  ASSERT_TRUE(WaitUntil(pid, [&] { return VerifiedSize() == entries.size(); })) << ErrOf(pid);
  json e = Api("/api/v1/events/5");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["actor"], "second-actor-5");
  EXPECT_EQ(e["leaf_hash"], HashToBase64(HashLeaf(entries[5])));
  Stop(pid);
}

}  // namespace
}  // namespace infratrail
