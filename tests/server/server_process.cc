#include "tests/server/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace infratrail::testing {
namespace {

// Interval between two looks at a condition we cannot wait on directly
// (a file appearing, a child exiting).
constexpr absl::Duration kPollInterval = absl::Milliseconds(2);

std::atomic<int> next_process_id{0};

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

// Only async-signal-safe calls happen between fork and exec.
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv,
                                 const std::string& stdout_path, const std::string& stderr_path) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return Errno(absl::StrCat("open ", stdout_path));
  const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) {
    close(out);
    return Errno(absl::StrCat("open ", stderr_path));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // dup2 clears O_CLOEXEC on the new descriptors.
    if (dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0) _exit(127);
    execv(args[0], args.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(out);
  close(err);
  if (pid < 0) {
    errno = fork_errno;
    return Errno("fork");
  }
  return pid;
}

// Decodes a waitpid status: exit code, or 128 + signal.
namespace {
int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

// Polls waitpid until `pid` exits or `timeout` passes.
absl::StatusOr<int> WaitPid(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeStatus(status);
    if (r < 0 && errno != EINTR) return Errno("waitpid");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
}

namespace {
std::string TempRoot() {
  for (const char* var : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* v = getenv(var);
    if (v != nullptr && *v != '\0') return v;
  }
  return "/tmp";
}
}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(const std::string& prefix) {
  std::string tmpl = absl::StrCat(TempRoot(), "/", prefix, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return Errno(absl::StrCat("mkdtemp ", tmpl));
  return std::unique_ptr<TempDir>(new TempDir(tmpl));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv, const std::string& stdout_path,
                               const std::string& stderr_path, absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = SpawnChild(argv, stdout_path, stderr_path);
  if (!pid.ok()) return pid.status();
  absl::StatusOr<int> rc = WaitPid(*pid, timeout);
  if (!rc.ok()) {
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
  }
  return rc;
}

absl::StatusOr<LogKey> MakeLogKey(const std::string& dir, const std::string& file,
                                  const std::string& origin) {
  LogKey key{absl::StrCat(dir, "/", file), ""};
  const std::string out = absl::StrCat(dir, "/", file, ".keygen.out");
  const std::string err = absl::StrCat(dir, "/", file, ".keygen.err");
  absl::StatusOr<int> rc = RunProgram(
      {INFRATRAIL_CLI_BIN, "keygen", "--origin", origin, "--out", key.key_file}, out, err);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) {
    return absl::InternalError(
        absl::StrCat("infratrail keygen exited ", *rc, ": ", ReadFileOrEmpty(err)));
  }
  key.verifier_key = std::string(absl::StripAsciiWhitespace(ReadFileOrEmpty(out)));
  return key;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(const std::string& work_dir,
                                                                    const ServerOptions& options) {
  const int id = next_process_id.fetch_add(1);
  const std::string base = absl::StrCat(work_dir, "/server-", getpid(), "-", id);
  const std::string ready = base + ".ready";
  const std::string err = base + ".stderr";
  std::error_code ignored;
  std::filesystem::remove(ready, ignored);
  std::vector<std::string> argv = {INFRATRAIL_SERVER_BIN,
                                   options.storage.empty() ? "--data-dir" : "--storage",
                                   options.storage.empty() ? options.data_dir : options.storage,
                                   "--signing-key",
                                   options.signing_key,
                                   "--grpc-addr",
                                   options.grpc_addr,
                                   "--http-addr",
                                   options.http_addr,
                                   "--metrics-addr",
                                   "127.0.0.1:0",
                                   "--ready-file",
                                   ready};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.insert(argv.begin(), options.launcher.begin(), options.launcher.end());
  absl::StatusOr<pid_t> pid = SpawnChild(argv, base + ".stdout", err);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ServerProcess>(new ServerProcess(*pid, err, ready));
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::string& work_dir,
                                                                    const ServerOptions& options,
                                                                    absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> p = Spawn(work_dir, options);
  if (!p.ok()) return p.status();
  if (absl::Status st = (*p)->WaitReady(timeout); !st.ok()) return st;
  return p;
}

ServerProcess::~ServerProcess() {
  if (!exit_status_.has_value()) Kill().IgnoreError();
}

bool ServerProcess::Reap() {
  if (exit_status_.has_value()) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exit_status_ = DecodeStatus(status);
  return true;
}

absl::Status ServerProcess::WaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    // The server renames the file into place, so a present file is whole.
    std::error_code ec;
    if (std::filesystem::exists(ready_path_, ec)) {
      const nlohmann::json ready = nlohmann::json::parse(ReadFileOrEmpty(ready_path_), nullptr,
                                                         /*allow_exceptions=*/false);
      if (!ready.is_object() || !ready.contains("grpc_port") ||
          !ready["grpc_port"].is_number_integer() || ready["grpc_port"].get<int>() <= 0) {
        return absl::InternalError(
            absl::StrCat("bad ready file ", ready_path_, ": ", ReadFileOrEmpty(ready_path_)));
      }
      grpc_port_ = ready["grpc_port"].get<int>();
      metrics_port_ = ready.value("metrics_port", 0);
      http_port_ = ready.value("http_port", 0);
      return absl::OkStatus();
    }
    if (Reap()) {
      return absl::FailedPreconditionError(absl::StrCat("server exited with status ", *exit_status_,
                                                        " before serving; stderr:\n", Stderr()));
    }
    if (absl::Now() >= deadline) {
      Kill().IgnoreError();
      return absl::DeadlineExceededError(absl::StrCat(
          "server not ready after ", absl::FormatDuration(timeout), "; stderr:\n", Stderr()));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::StatusOr<int> ServerProcess::WaitExit(absl::Duration timeout) {
  if (exit_status_.has_value()) return *exit_status_;
  absl::StatusOr<int> rc = WaitPid(pid_, timeout);
  if (rc.ok()) exit_status_ = *rc;
  return rc;
}

absl::Status ServerProcess::Signal(int sig) {
  if (exit_status_.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("server ", pid_, " already exited"));
  }
  if (kill(pid_, sig) != 0) return Errno(absl::StrCat("kill ", pid_));
  return absl::OkStatus();
}

absl::StatusOr<int> ServerProcess::Terminate(absl::Duration timeout) {
  if (absl::Status st = Signal(SIGTERM); !st.ok()) return st;
  return WaitExit(timeout);
}

absl::Status ServerProcess::Kill() {
  if (exit_status_.has_value()) return absl::OkStatus();
  if (absl::Status st = Signal(SIGKILL); !st.ok()) return st;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return Errno(absl::StrCat("waitpid ", pid_));
  exit_status_ = DecodeStatus(status);
  return absl::OkStatus();
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

std::string ServerProcess::Stderr() const { return ReadFileOrEmpty(stderr_path_); }

double ScrapeMetric(int port, absl::string_view series) {
  absl::StatusOr<std::string> text = HttpGet(port, "/metrics");
  if (!text.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return -1;
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("HttpGet: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos ||
      response.find(" 200 ") > response.find("\r\n")) {
    return absl::UnavailableError(
        absl::StrCat("HttpGet 127.0.0.1:", port, path, ": ", response.substr(0, 80)));
  }
  return response.substr(body + 4);
}

}  // namespace infratrail::testing
