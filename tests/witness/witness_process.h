// Harness for the witness's process tests (witness_e2e_test.cc,
// witness_hostile_test.cc): `infratrail-verifier witness` as a child
// process, on an ephemeral port, in a test's temporary directory.
// Not thread-safe: one thread drives a WitnessProcess.
#ifndef INFRATRAIL_TESTS_WITNESS_WITNESS_PROCESS_H_
#define INFRATRAIL_TESTS_WITNESS_WITNESS_PROCESS_H_

#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/io/file_util.h"
#include "core/note_key.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_process.h"

namespace infratrail::testing {

inline constexpr char kVerifierBin[] = INFRATRAIL_VERIFIER_BIN;

// The monitoring path's key: lowercase hex SHA-256 of the origin.
inline std::string OriginHash(absl::string_view origin) {
  const Hash h = Sha256(origin);
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

// Writes a logs/v0 list of `keys` (origin = key name), then `extra` lines.
inline void WriteLogList(const std::string& path, const std::vector<NoteSigner>& keys,
                         const std::string& extra = "") {
  std::string text = "logs/v0\n";
  for (const NoteSigner& k : keys) absl::StrAppend(&text, "vkey ", k.VerifierKey(), "\n");
  text += extra;
  ASSERT_TRUE(WriteFileAtomic(path, text, 0644).ok());
}

// Runs `infratrail-verifier witness ARGS...` to completion in `dir`.
struct WitnessCommand {
  int rc = -1;
  std::string out, err;
};
inline WitnessCommand RunWitnessCommand(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {kVerifierBin, "witness"});
  const std::string out = dir + "/run.out", err = dir + "/run.err";
  unlink(out.c_str());
  unlink(err.c_str());
  absl::StatusOr<int> rc = RunProgram(args, out, err);
  return WitnessCommand{rc.value_or(-1), ReadFileOrEmpty(out), ReadFileOrEmpty(err)};
}

// One witness process, started at construction; SIGKILLed if still running
// at destruction.
class WitnessProcess {
 public:
  WitnessProcess(const std::string& dir, std::vector<std::string> argv) {
    static int n = 0;
    out_ = absl::StrCat(dir, "/witness-", ++n, ".out");
    err_ = absl::StrCat(dir, "/witness-", n, ".err");
    argv.insert(argv.begin(), {kVerifierBin, "witness"});
    absl::StatusOr<pid_t> pid = SpawnChild(argv, out_, err_);
    EXPECT_TRUE(pid.ok()) << pid.status();
    pid_ = pid.value_or(-1);
  }
  ~WitnessProcess() {
    if (pid_ > 0) Exit(SIGKILL);
  }
  WitnessProcess(const WitnessProcess&) = delete;
  WitnessProcess& operator=(const WitnessProcess&) = delete;

  // Polls (bounded) for the listening line; false if the witness exited or
  // never printed it.
  bool WaitListening(absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      const std::string out = ReadFileOrEmpty(out_);
      if (out.find('\n') != std::string::npos) {
        nlohmann::json j = nlohmann::json::parse(out.substr(0, out.find('\n')));
        address_ = j["listening"];
        vkey_ = j["vkey"];
        return true;
      }
      if (WaitPid(pid_, absl::Milliseconds(10)).ok()) {
        pid_ = -1;
        return false;
      }
    }
    return false;
  }
  // Sends `sig` and waits for the exit: its code, or -1.
  int Exit(int sig, absl::Duration timeout = absl::Seconds(30)) {
    kill(pid_, sig);
    absl::StatusOr<int> rc = WaitPid(pid_, timeout);
    pid_ = -1;
    return rc.value_or(-1);
  }
  void Kill() { Exit(SIGKILL); }
  // The exit code of a witness that stops by itself, or -1.
  int WaitExit(absl::Duration timeout = absl::Seconds(30)) {
    absl::StatusOr<int> rc = WaitPid(pid_, timeout);
    if (rc.ok()) pid_ = -1;
    return rc.value_or(-1);
  }
  void Signal(int sig) const { kill(pid_, sig); }
  std::string url(absl::string_view path) const { return absl::StrCat("http://", address_, path); }
  const std::string& vkey() const { return vkey_; }
  std::string Stderr() const { return ReadFileOrEmpty(err_); }
  // Polls (bounded) until stderr contains `what`.
  bool WaitStderr(absl::string_view what, absl::Duration timeout = absl::Seconds(10)) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Stderr().find(std::string(what)) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  std::string out_, err_, address_, vkey_;
};

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_WITNESS_WITNESS_PROCESS_H_
