// End-to-end tests of `infratrail-verifier monitor` against real servers:
// a clean audit of a large log and an incremental round that reads only the
// new bundles; kill -9 in the middle of an audit and the resume; a fork and
// a rollback signed with the log's own key (the operator removed the
// signer's rollback protection), which must be CRITICAL with evidence and
// must not move the monitor's trust; a log that is down (operational, not
// a finding) and one down for longer than --stale-after (an ALERT); and the
// state directory's lock.
//
// Every test has its own temporary directory and ephemeral ports (ctest -j).
// Logs are filled with infratrail-loadgen (--mode fill), whose events carry
// a random nonce per run, so two fills never append the same events.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/testing/http_test_client.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/monitor/json_lines.h"
#include "tests/server/e2e_fixture.h"
#include "tests/server/server_process.h"

namespace infratrail::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr absl::Duration kPoll = absl::Milliseconds(2);
constexpr uint64_t kBundle = 256;

// What one `monitor --once` run did.
struct MonitorRun {
  int rc = -1;
  std::string out;  // findings, JSON lines
  std::string err;  // operational events and messages
};

// The size line of a checkpoint note, or nullopt.
std::optional<uint64_t> CheckpointSize(const std::string& note) {
  std::vector<absl::string_view> lines = absl::StrSplit(note, '\n');
  uint64_t n = 0;
  if (lines.size() < 3 || !absl::SimpleAtoi(lines[1], &n)) return std::nullopt;
  return n;
}

// Sum of infratrail_http_requests_total over every code of `route`.
absl::StatusOr<double> HttpRequests(int metrics_port, absl::string_view route) {
  absl::StatusOr<std::string> text = HttpGet(metrics_port, "/metrics");
  if (!text.ok()) return text.status();
  const std::string label = absl::StrCat("route=\"", route, "\"");
  double sum = 0;
  bool seen = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::StartsWith(line, "infratrail_http_requests_total{")) continue;
    if (!absl::StrContains(line, label)) continue;
    double v = 0;
    const size_t sp = line.rfind(' ');
    if (sp == absl::string_view::npos || !absl::SimpleAtod(line.substr(sp + 1), &v)) {
      return absl::InternalError(absl::StrCat("bad metrics line: ", line));
    }
    sum += v;
    seen = true;
  }
  if (!seen) return absl::NotFoundError(absl::StrCat("no infratrail_http_requests_total{", label));
  return sum;
}

// SIGKILLs and reaps a child still running when the test ends.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  pid_t pid() const { return pid_; }
  // The child was reaped elsewhere.
  void Release() { pid_ = -1; }

 private:
  pid_t pid_;
};

class MonitorE2ETest : public ServerTest {
 protected:
  static std::string LogUrl(const ServerProcess& s) {
    return absl::StrCat("http://127.0.0.1:", s.http_port(), "/");
  }
  static std::string GrpcUrl(const ServerProcess& s) { return "grpc://" + s.address(); }

  std::string StateDir(absl::string_view name = "monitor") const {
    return absl::StrCat(dir_->path(), "/", name);
  }

  std::vector<std::string> MonitorArgv(const std::string& url, const std::string& state_dir,
                                       std::vector<std::string> extra) const {
    std::vector<std::string> argv = {
        INFRATRAIL_VERIFIER_BIN, "monitor", "--log",      url,    "--log-key", vkey(),
        "--state-dir",           state_dir, "--progress", "never"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // Output files of the n-th monitor run; *.stderr is printed on failure.
  std::pair<std::string, std::string> MonitorFiles() {
    const int n = runs_++;
    return {absl::StrCat(dir_->path(), "/monitor-", n, ".out"),
            absl::StrCat(dir_->path(), "/monitor-", n, ".stderr")};
  }

  // `monitor --once` to completion.
  MonitorRun RunOnce(const std::string& url, const std::string& state_dir,
                     std::vector<std::string> extra = {}) {
    extra.push_back("--once");
    auto [out, err] = MonitorFiles();
    absl::StatusOr<int> rc =
        RunProgram(MonitorArgv(url, state_dir, std::move(extra)), out, err, absl::Seconds(120));
    EXPECT_TRUE(rc.ok()) << rc.status();
    return MonitorRun{rc.ok() ? *rc : -1, ReadFileOrEmpty(out), ReadFileOrEmpty(err)};
  }

  // A monitor looping (no --once) in the background.
  pid_t StartLooping(const std::string& url, const std::string& state_dir,
                     std::vector<std::string> extra) {
    auto [out, err] = MonitorFiles();
    absl::StatusOr<pid_t> pid = SpawnChild(MonitorArgv(url, state_dir, std::move(extra)), out, err);
    EXPECT_TRUE(pid.ok()) << pid.status();
    return pid.ok() ? *pid : -1;
  }

  // Appends events with infratrail-loadgen until the log holds `size`,
  // then waits until the server's HTTP /checkpoint shows that size.
  void FillTo(const ServerProcess& server, uint64_t size) {
    const int n = fills_++;
    const std::string out = absl::StrCat(dir_->path(), "/loadgen-", n, ".out");
    const std::string err = absl::StrCat(dir_->path(), "/loadgen-", n, ".stderr");
    absl::StatusOr<int> rc = RunProgram({INFRATRAIL_LOADGEN_BIN, "--mode", "fill", "--events",
                                         absl::StrCat(size), "--server", server.address()},
                                        out, err, absl::Seconds(120));
    ASSERT_TRUE(rc.ok()) << rc.status();
    ASSERT_EQ(*rc, 0) << ReadFileOrEmpty(out) << ReadFileOrEmpty(err);
    ASSERT_NO_FATAL_FAILURE(WaitForCheckpoint(server, size));
  }

  // Polls /checkpoint (HTTP) until its size is `size`; the note.
  std::string WaitForCheckpoint(const ServerProcess& server, uint64_t size,
                                absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    for (;;) {
      absl::StatusOr<std::string> note = HttpGet(server.http_port(), "/checkpoint");
      if (note.ok()) {
        last = *note;
        if (CheckpointSize(*note) == size) return *note;
      }
      if (absl::Now() >= deadline) {
        ADD_FAILURE() << "no checkpoint of size " << size << " within "
                      << absl::FormatDuration(timeout) << "; last: " << last;
        return "";
      }
      absl::SleepFor(kPoll);
    }
  }

  static json ReadState(const std::string& state_dir) {
    return json::parse(ReadFileOrEmpty(state_dir + "/state.json"), nullptr,
                       /*allow_exceptions=*/false);
  }

  // Polls state.json until `pred` holds for it; the state, or null
  // (discarded) at the deadline.
  template <typename Pred>
  static json WaitForState(const std::string& state_dir, Pred pred, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      json s = ReadState(state_dir);
      if (s.is_object() && pred(s)) return s;
      if (absl::Now() >= deadline) return json(json::value_t::discarded);
      absl::SleepFor(kPoll);
    }
  }

  // `cp -a from to`.
  static void CopyTree(const std::string& from, const std::string& to) {
    absl::StatusOr<int> rc = RunProgram({"/bin/cp", "-a", from, to}, "/dev/null", "/dev/null");
    ASSERT_TRUE(rc.ok()) << rc.status();
    ASSERT_EQ(*rc, 0) << "cp -a " << from << " " << to;
  }

  // The one CRITICAL finding of `run` with rule in `rules`, with its
  // evidence directory checked: it exists and holds a README and the files
  // named in `files`. Null (discarded) after a test failure.
  json CriticalFinding(const MonitorRun& run, const std::string& state_dir,
                       const std::vector<std::string>& rules,
                       const std::vector<std::string>& files) {
    std::vector<json> findings = JsonLines(run.out);
    EXPECT_EQ(findings.size(), 1u) << run.out;
    for (const json& f : findings) {
      const std::string rule = f.value("rule", "");
      if (f.value("severity", "") != "CRITICAL" ||
          std::find(rules.begin(), rules.end(), rule) == rules.end()) {
        continue;
      }
      EXPECT_EQ(f.value("origin", ""), std::string(kOrigin)) << f.dump();
      EXPECT_FALSE(f.value("message", "").empty()) << f.dump();
      const std::string rel = f.value("evidence", "");
      EXPECT_FALSE(rel.empty()) << f.dump();
      const fs::path dir = fs::path(state_dir) / rel;
      EXPECT_TRUE(fs::is_directory(dir)) << dir;
      EXPECT_TRUE(fs::is_regular_file(dir / "README")) << dir;
      for (const std::string& name : files) {
        EXPECT_TRUE(fs::is_regular_file(dir / name)) << dir / name;
      }
      return f;
    }
    ADD_FAILURE() << "no CRITICAL finding with rule " << absl::StrJoin(rules, " or ")
                  << "; stdout:\n"
                  << run.out << "stderr:\n"
                  << run.err;
    return json(json::value_t::discarded);
  }

  int runs_ = 0;
  int fills_ = 0;
};

// A full first audit of 100,000 entries is clean and commits next = size;
// the next round, after 1,000 more, reads only the bundles past the old
// edge (the partial one re-read), not the whole log again.
TEST_F(MonitorE2ETest, AuditsAHundredThousandEventsCleanThenReadsOnlyNewBundles) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 100'000));
  const std::string state = StateDir();

  MonitorRun first = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(first.rc, 0) << first.err;
  EXPECT_EQ(first.out, "");
  json s = ReadState(state);
  ASSERT_TRUE(s.is_object()) << ReadFileOrEmpty(state + "/state.json");
  EXPECT_EQ(s["next"], 100'000);
  EXPECT_EQ(s["target_note"], "");
  EXPECT_EQ(CheckpointSize(s["trusted_note"].get<std::string>()), 100'000u);

  absl::StatusOr<double> before = HttpRequests(server->metrics_port(), "entries");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 101'000));
  MonitorRun second = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(second.rc, 0) << second.err;
  EXPECT_EQ(second.out, "");
  absl::StatusOr<double> after = HttpRequests(server->metrics_port(), "entries");
  ASSERT_TRUE(after.ok()) << after.status();
  // Bundles 390 (holding entries 99840..100095, the old edge) to 394.
  const double bundles = *after - *before;
  EXPECT_GE(bundles, 1);
  EXPECT_LE(bundles, (1000 + kBundle - 1) / kBundle + 1);
  s = ReadState(state);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["next"], 101'000);
  EXPECT_EQ(CheckpointSize(s["trusted_note"].get<std::string>()), 101'000u);
}

// kill -9 in the middle of an audit, twice (and a SIGTERM between, which
// must end the loop with 0): the committed state always parses and sits on
// a bundle boundary; the resumed audit completes with
// no finding (the root check fails if an entry was skipped) and fetches
// only the bundles from the committed position on (nothing re-audited).
TEST_F(MonitorE2ETest, KillNineMidRoundResumesWithoutSkippingOrRepeating) {
  constexpr uint64_t kTotal = 300'000;
  constexpr uint64_t kBundles = (kTotal + kBundle - 1) / kBundle;
  constexpr uint64_t kBatch = 4;
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, kTotal));
  const std::string state = StateDir();
  const std::vector<std::string> looping = {
      "--commit-every", "4096", "--bundles-per-batch", absl::StrCat(kBatch), "--interval", "1h"};

  // Sends `sig` to a looping monitor once state.json shows next in
  // (after, kTotal); the next that survived.
  auto interrupt_mid_audit = [&](int sig, uint64_t after) -> uint64_t {
    ChildGuard monitor(StartLooping(LogUrl(*server), state, looping));
    EXPECT_GT(monitor.pid(), 0);
    if (monitor.pid() <= 0) return 0;
    json mid = WaitForState(
        state,
        [&](const json& s) {
          const uint64_t next = s.value("next", uint64_t{0});
          return next > after && next < kTotal;
        },
        absl::Seconds(60));
    EXPECT_EQ(kill(monitor.pid(), sig), 0);
    absl::StatusOr<int> rc = WaitPid(monitor.pid(), absl::Seconds(30));
    EXPECT_TRUE(rc.ok()) << rc.status();
    if (rc.ok()) {
      monitor.Release();
      // SIGTERM: the monitor commits where it is and exits 0.
      EXPECT_EQ(*rc, sig == SIGTERM ? 0 : 128 + sig);
    }
    EXPECT_FALSE(mid.is_discarded()) << "the audit never committed a position in (" << after << ", "
                                     << kTotal << "); state.json:\n"
                                     << ReadFileOrEmpty(state + "/state.json");
    // What survived (it may be a later commit than `mid`).
    json s = ReadState(state);
    EXPECT_TRUE(s.is_object()) << ReadFileOrEmpty(state + "/state.json");
    if (!s.is_object()) return 0;
    const uint64_t next = s.value("next", uint64_t{0});
    EXPECT_TRUE(next % kBundle == 0 || next == kTotal) << next;
    EXPECT_GT(next, after);
    EXPECT_EQ(s.value("spool", json::array()).size(), 0u) << s.dump();
    return next;
  };

  const uint64_t first = interrupt_mid_audit(SIGKILL, 0);
  ASSERT_FALSE(HasFailure());
  const uint64_t termed = interrupt_mid_audit(SIGTERM, first);
  ASSERT_FALSE(HasFailure());
  // The last kill past the middle, so the two kills are far apart.
  const uint64_t second = interrupt_mid_audit(SIGKILL, std::max(termed, kTotal / 2));
  ASSERT_FALSE(HasFailure());
  ASSERT_LT(second, kTotal) << "the last kill came after the audit finished";

  absl::StatusOr<double> before = HttpRequests(server->metrics_port(), "entries");
  ASSERT_TRUE(before.ok()) << before.status();
  MonitorRun resumed = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(resumed.rc, 0) << resumed.err;
  EXPECT_EQ(resumed.out, "") << "findings after a kill -9";
  json s = ReadState(state);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["next"], kTotal);
  EXPECT_EQ(s["target_note"], "");
  EXPECT_EQ(CheckpointSize(s["trusted_note"].get<std::string>()), kTotal);
  absl::StatusOr<double> after = HttpRequests(server->metrics_port(), "entries");
  ASSERT_TRUE(after.ok()) << after.status();
  // From the bundle at `second` to the end; plus at most one batch the
  // killed monitor had in flight, if the server counted it late.
  const double bundles = *after - *before;
  EXPECT_GE(bundles, kBundles - second / kBundle);
  EXPECT_LE(bundles, kBundles - second / kBundle + kBatch);
}

// The operator keeps two histories of one log, both signed with its key:
// the monitor trusts one (A); B's checkpoint of the same size has another
// root (log.fork), and B's larger one does not extend A's (log.inconsistent).
// CRITICAL, with evidence, and the monitor still trusts A.
TEST_F(MonitorE2ETest, ForkWithTheSameKeyIsCritical) {
  constexpr uint64_t kN = 5'000;
  const std::string state = StateDir();
  std::unique_ptr<ServerProcess> a = StartServer();
  ASSERT_NE(a, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*a, kN));
  MonitorRun trusted = RunOnce(LogUrl(*a), state);
  ASSERT_EQ(trusted.rc, 0) << trusted.out << trusted.err;
  ASSERT_EQ(ReadState(state)["next"], kN);

  absl::StatusOr<int> stopped = a->Terminate();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  const std::string data_b = dir_->path() + "/data-b";
  ASSERT_NO_FATAL_FAILURE(CopyTree(data_dir_, data_b));

  // B: the copy, the same key, its own (fresh) signer state adopting the
  // copied checkpoint: the protection the operator bypassed.
  ServerOptions ob =
      Options({"--signer-state", dir_->path() + "/b.signer-state", "--recover-signer-state"});
  ob.data_dir = data_b;
  absl::StatusOr<std::unique_ptr<ServerProcess>> b = ServerProcess::Start(dir_->path(), ob);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_NO_FATAL_FAILURE(FillTo(**b, kN + 1000));

  a = StartServer();
  ASSERT_NE(a, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*a, kN + 1000));
  const std::string note_a = WaitForCheckpoint(*a, kN + 1000);
  const std::string note_b = WaitForCheckpoint(**b, kN + 1000);
  ASSERT_NE(note_a, note_b) << "the two histories are the same";

  MonitorRun on_a = RunOnce(LogUrl(*a), state);
  EXPECT_EQ(on_a.rc, 0) << on_a.out << on_a.err;
  EXPECT_EQ(on_a.out, "");
  const json before = ReadState(state);
  ASSERT_TRUE(before.is_object());
  EXPECT_EQ(before["next"], kN + 1000);
  EXPECT_EQ(before["trusted_note"], note_a);

  // A second auditor trusting A, reading B through its gRPC API below.
  const std::string state_grpc = StateDir("monitor-grpc");
  ASSERT_NO_FATAL_FAILURE(CopyTree(state, state_grpc));

  MonitorRun on_b = RunOnce(LogUrl(**b), state);
  EXPECT_EQ(on_b.rc, 1) << on_b.out << on_b.err;
  const json f = CriticalFinding(on_b, state, {"log.fork", "log.inconsistent"},
                                 {"trusted.checkpoint", "received.checkpoint"});
  if (f.is_object()) {
    const fs::path ev = fs::path(state) / f["evidence"].get<std::string>();
    EXPECT_EQ(ReadFileOrEmpty(ev / "trusted.checkpoint"), note_a);
    EXPECT_EQ(ReadFileOrEmpty(ev / "received.checkpoint"), note_b);
  }
  const json after = ReadState(state);
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["trusted_note"], before["trusted_note"]);
  EXPECT_EQ(after["next"], before["next"]);
  EXPECT_EQ(after["target_note"], "");
  EXPECT_EQ(after["spool"].size(), 0u) << "the finding was delivered";

  // The same fork seen again: not reported twice, but never called clean.
  MonitorRun again = RunOnce(LogUrl(**b), state);
  EXPECT_EQ(again.rc, 1) << again.out << again.err;
  EXPECT_EQ(again.out, "");

  // B goes on: a larger tree that does not extend the trusted one. The
  // consistency proof built from B's own hash tiles fails; they are kept.
  ASSERT_NO_FATAL_FAILURE(FillTo(**b, kN + 2000));
  MonitorRun grown = RunOnce(LogUrl(**b), state);
  EXPECT_EQ(grown.rc, 1) << grown.out << grown.err;
  const json g = CriticalFinding(grown, state, {"log.inconsistent"},
                                 {"trusted.checkpoint", "received.checkpoint"});
  if (g.is_object()) {
    bool tiles = false;
    for (const auto& e :
         fs::directory_iterator(fs::path(state) / g["evidence"].get<std::string>())) {
      tiles |= absl::StartsWith(e.path().filename().string(), "tile_");
    }
    EXPECT_TRUE(tiles) << "no hash tile in the evidence of " << g.dump();
  }
  const json last = ReadState(state);
  ASSERT_TRUE(last.is_object());
  EXPECT_EQ(last["trusted_note"], before["trusted_note"]);
  EXPECT_EQ(last["next"], before["next"]);

  // Over gRPC there are no tiles: B's own GetConsistencyProof fails
  // against the trusted root, and the served proof is the evidence.
  MonitorRun via_grpc = RunOnce(GrpcUrl(**b), state_grpc);
  EXPECT_EQ(via_grpc.rc, 1) << via_grpc.out << via_grpc.err;
  CriticalFinding(via_grpc, state_grpc, {"log.inconsistent"},
                  {"trusted.checkpoint", "received.checkpoint", "consistency.proof"});
  const json grpc_state = ReadState(state_grpc);
  ASSERT_TRUE(grpc_state.is_object());
  EXPECT_EQ(grpc_state["trusted_note"], before["trusted_note"]);
}

// grpcs://: the API over TLS. The server's self-signed certificate is
// trusted with --ca-file; without it the handshake fails, which is an
// operational error (exit 3), never a finding.
TEST_F(MonitorE2ETest, AuditsOverTlsTrustingTheCaFile) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 3'000));
  absl::StatusOr<int> stopped = server->Terminate();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  const std::string cert = dir_->path() + "/tls.pem";
  const std::string key = dir_->path() + "/tls.key";
  absl::StatusOr<int> made =
      RunProgram({OPENSSL_CLI, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                  "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                 dir_->path() + "/openssl.out", dir_->path() + "/openssl.stderr");
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(*made, 0) << ReadFileOrEmpty(dir_->path() + "/openssl.stderr");
  server = StartServer({"--tls-cert", cert, "--tls-key", key});
  ASSERT_NE(server, nullptr);
  const std::string url = "grpcs://" + server->address();
  const std::string state = StateDir();

  MonitorRun untrusted = RunOnce(url, state, {"--timeout", "10s"});
  EXPECT_EQ(untrusted.rc, 3) << untrusted.out << untrusted.err;
  EXPECT_EQ(untrusted.out, "");

  MonitorRun trusted = RunOnce(url, state, {"--ca-file", cert});
  EXPECT_EQ(trusted.rc, 0) << trusted.out << trusted.err;
  EXPECT_EQ(trusted.out, "");
  EXPECT_EQ(ReadState(state)["next"], 3'000);
}

// The same audit through the infratrail.v1.Log API (grpc://): entries from
// GetEntries, consistency from GetConsistencyProof; a first audit and an
// extension are clean and land where the tiles audit lands.
TEST_F(MonitorE2ETest, AuditsOverTheGrpcApi) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 20'000));
  const std::string state = StateDir();
  MonitorRun first = RunOnce(GrpcUrl(*server), state);
  EXPECT_EQ(first.rc, 0) << first.err;
  EXPECT_EQ(first.out, "");
  EXPECT_EQ(ReadState(state)["next"], 20'000);

  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 20'700));
  MonitorRun second = RunOnce(GrpcUrl(*server), state);
  EXPECT_EQ(second.rc, 0) << second.err;
  EXPECT_EQ(second.out, "");
  const json s = ReadState(state);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["next"], 20'700);
  EXPECT_EQ(CheckpointSize(s["trusted_note"].get<std::string>()), 20'700u);

  // The tiles of the same log agree with what was audited over gRPC.
  MonitorRun tiles = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(tiles.rc, 0) << tiles.out << tiles.err;
  EXPECT_EQ(tiles.out, "");

  // A port with nothing behind it: operational, exit 3.
  MonitorRun down = RunOnce(absl::StrCat("grpc://127.0.0.1:", testutil::UnusedLoopbackPort()),
                            state, {"--timeout", "5s"});
  EXPECT_EQ(down.rc, 3) << down.out << down.err;
  EXPECT_EQ(down.out, "");
  EXPECT_TRUE(absl::StrContains(down.err, "unreachable") || absl::StrContains(down.err, "timeout"))
      << down.err;
}

// The operator restores an older copy of the data directory and lets the
// key sign it again: a smaller checkpoint than the trusted one.
TEST_F(MonitorE2ETest, RollbackIsCritical) {
  const std::string state = StateDir();
  const std::string old_copy = dir_->path() + "/data-2000";
  std::string trusted_note;
  {
    std::unique_ptr<ServerProcess> server = StartServer();
    ASSERT_NE(server, nullptr);
    ASSERT_NO_FATAL_FAILURE(FillTo(*server, 2000));
    absl::StatusOr<int> stopped = server->Terminate();
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    ASSERT_NO_FATAL_FAILURE(CopyTree(data_dir_, old_copy));
    server = StartServer();
    ASSERT_NE(server, nullptr);
    ASSERT_NO_FATAL_FAILURE(FillTo(*server, 3000));
    MonitorRun run = RunOnce(LogUrl(*server), state);
    ASSERT_EQ(run.rc, 0) << run.out << run.err;
    ASSERT_EQ(ReadState(state)["next"], 3000);
    trusted_note = ReadState(state)["trusted_note"].get<std::string>();
    stopped = server->Terminate();
    ASSERT_TRUE(stopped.ok()) << stopped.status();
  }
  // Restore the copy; delete the signer state that would refuse it.
  fs::remove_all(data_dir_);
  fs::rename(old_copy, data_dir_);
  ASSERT_TRUE(fs::remove(key_.key_file + ".state"));
  std::unique_ptr<ServerProcess> server = StartServer({"--recover-signer-state"});
  ASSERT_NE(server, nullptr);
  const std::string old_note = WaitForCheckpoint(*server, 2000);

  MonitorRun run = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(run.rc, 1) << run.out << run.err;
  const json f =
      CriticalFinding(run, state, {"log.rollback"}, {"trusted.checkpoint", "received.checkpoint"});
  if (f.is_object()) {
    const fs::path ev = fs::path(state) / f["evidence"].get<std::string>();
    EXPECT_EQ(ReadFileOrEmpty(ev / "trusted.checkpoint"), trusted_note);
    EXPECT_EQ(ReadFileOrEmpty(ev / "received.checkpoint"), old_note);
  }
  const json after = ReadState(state);
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["trusted_note"], trusted_note);
  EXPECT_EQ(after["next"], 3000);
}

// A log that cannot be read is an operational event on stderr and exit 3,
// never a finding, and the trusted state stays as it was.
TEST_F(MonitorE2ETest, LogDownIsOperationalNotCritical) {
  auto expect_down = [](const MonitorRun& run) {
    EXPECT_EQ(run.rc, 3) << run.out << run.err;
    EXPECT_EQ(run.out, "");
    bool operational = false;
    for (const json& e : JsonLines(run.err)) {
      operational |= e.value("severity", "") == "OPERATIONAL" && !e.value("kind", "").empty();
    }
    EXPECT_TRUE(operational) << run.err;
  };

  // Nothing ever listened there.
  const int port = testutil::UnusedLoopbackPort();
  ASSERT_GT(port, 0);
  expect_down(RunOnce(absl::StrCat("http://127.0.0.1:", port, "/"), StateDir("never-up")));

  // A log the monitor trusts, then stopped.
  const std::string state = StateDir();
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 1000));
  MonitorRun up = RunOnce(LogUrl(*server), state);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const json before = ReadState(state);
  const std::string url = LogUrl(*server);
  absl::StatusOr<int> stopped = server->Terminate();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  expect_down(RunOnce(url, state));
  const json after = ReadState(state);
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["trusted_note"], before["trusted_note"]);
  EXPECT_EQ(after["next"], before["next"]);
}

// A log down for longer than --stale-after (0s here: any time since the
// last complete round) is an ALERT finding, and with --once an ALERT exits
// 1 (monitor_command.h), not 3 as for a round that merely did not complete.
TEST_F(MonitorE2ETest, StaleLogIsAnAlertAndExitsOne) {
  const std::string state = StateDir();
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 1000));
  MonitorRun up = RunOnce(LogUrl(*server), state);
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const std::string url = LogUrl(*server);
  absl::StatusOr<int> stopped = server->Terminate();
  ASSERT_TRUE(stopped.ok()) << stopped.status();

  MonitorRun down = RunOnce(url, state, {"--stale-after", "0s"});
  EXPECT_EQ(down.rc, 1) << down.out << down.err;
  std::vector<json> findings = JsonLines(down.out);
  ASSERT_EQ(findings.size(), 1u) << down.out;
  EXPECT_EQ(findings[0].value("severity", ""), "ALERT") << down.out;
  EXPECT_EQ(findings[0].value("rule", ""), "monitor.stale") << down.out;
  const json s = ReadState(state);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["next"], 1000);
  EXPECT_EQ(s["spool"].size(), 0u);

  // Still down at the next run (a cron job): not alerted twice, not clean.
  MonitorRun still = RunOnce(url, state, {"--stale-after", "0s"});
  EXPECT_EQ(still.rc, 1) << still.out << still.err;
  EXPECT_EQ(still.out, "");
}

// One state directory serves one monitor: a second is refused (usage, 2)
// while the first runs, and the first still ends cleanly on SIGTERM.
TEST_F(MonitorE2ETest, SecondMonitorOnTheSameStateDirIsRefused) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillTo(*server, 1000));
  const std::string state = StateDir();
  ChildGuard first(StartLooping(LogUrl(*server), state, {"--interval", "1h"}));
  ASSERT_GT(first.pid(), 0);
  // A completed round (last_success set) means it took the lock before.
  json s = WaitForState(
      state,
      [](const json& s) { return s.contains("last_success") && !s["last_success"].is_null(); },
      absl::Seconds(60));
  ASSERT_FALSE(s.is_discarded()) << ReadFileOrEmpty(state + "/state.json");
  EXPECT_EQ(s["next"], 1000);

  MonitorRun second = RunOnce(LogUrl(*server), state);
  EXPECT_EQ(second.rc, 2) << second.out << second.err;
  EXPECT_EQ(second.out, "");
  EXPECT_NE(second.err.find("lock"), std::string::npos) << second.err;

  ASSERT_EQ(kill(first.pid(), SIGTERM), 0);
  absl::StatusOr<int> rc = WaitPid(first.pid(), absl::Seconds(30));
  ASSERT_TRUE(rc.ok()) << rc.status();
  first.Release();
  EXPECT_EQ(*rc, 0);
}

}  // namespace
}  // namespace infratrail::testing
