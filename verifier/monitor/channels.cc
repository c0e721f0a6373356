#include "verifier/monitor/channels.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace infratrail {

void Channel::Failed(absl::Time now) {
  failures_ = std::min(failures_ + 1, 20);
  absl::Duration wait = absl::Seconds(1) * (1 << std::min(failures_ - 1, 9));
  retry_at_ = now + std::min(wait, absl::Minutes(5));
}

namespace {

class Stdout final : public Channel {
 public:
  std::string name() const override { return "stdout"; }
  absl::Status Deliver(const Finding& f) override {
    std::cout << f.ToJson().dump() << "\n";
    std::cout.flush();
    if (!std::cout) return absl::UnavailableError("stdout: write failed");
    return absl::OkStatus();
  }
};

class Webhook final : public Channel {
 public:
  Webhook(std::string url, std::unique_ptr<HttpFetcher> fetcher)
      : url_(std::move(url)), fetcher_(std::move(fetcher)) {}
  std::string name() const override { return "webhook"; }
  absl::Status Deliver(const Finding& f) override {
    absl::StatusOr<HttpResponse> r =
        fetcher_->Post(url_, f.ToJson().dump(), "application/json", 64 << 10);
    if (!r.ok()) return absl::UnavailableError(absl::StrCat("webhook: ", r.status().message()));
    if (r->status < 200 || r->status > 299) {
      return absl::UnavailableError(absl::StrCat("webhook ", url_, ": HTTP ", r->status));
    }
    return absl::OkStatus();
  }

 private:
  std::string url_;
  std::unique_ptr<HttpFetcher> fetcher_;
};

class Exec final : public Channel {
 public:
  Exec(std::string command, absl::Duration timeout)
      : command_(std::move(command)), timeout_(timeout) {}
  std::string name() const override { return "exec"; }
  absl::Status Deliver(const Finding& f) override {
    const std::string json = f.ToJson().dump();
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "INFRATRAIL_", 11) != 0) env.emplace_back(*e);
    }
    env.push_back(absl::StrCat("INFRATRAIL_FINDING=", json));
    env.push_back(absl::StrCat("INFRATRAIL_SEVERITY=", SeverityName(f.severity)));
    env.push_back(absl::StrCat("INFRATRAIL_RULE=", f.rule));
    env.push_back(absl::StrCat("INFRATRAIL_ORIGIN=", f.origin));
    env.push_back(
        absl::StrCat("INFRATRAIL_INDEX=", f.index.has_value() ? absl::StrCat(*f.index) : ""));
    env.push_back(absl::StrCat("INFRATRAIL_RESOURCE=", f.resource));
    env.push_back(absl::StrCat("INFRATRAIL_ACTOR=", f.actor));
    env.push_back(absl::StrCat("INFRATRAIL_KIND=", f.kind));
    env.push_back(absl::StrCat("INFRATRAIL_REQUIREMENT=", f.requirement));
    env.push_back(absl::StrCat("INFRATRAIL_MESSAGE=", f.message));
    env.push_back(absl::StrCat("INFRATRAIL_EVIDENCE=", f.evidence));
    env.push_back(absl::StrCat("INFRATRAIL_SEQ=", f.seq));
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      return absl::UnavailableError(absl::StrCat("exec: pipe: ", std::strerror(errno)));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    // The command's output must not mix with the findings on stdout.
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    std::string sh = "/bin/sh", dash_c = "-c";
    char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    if (rc != 0) {
      ::close(in[1]);
      return absl::UnavailableError(absl::StrCat("exec: spawn /bin/sh: ", std::strerror(rc)));
    }
    // A command that does not read its stdin gets EPIPE, not a signal.
    signal(SIGPIPE, SIG_IGN);
    const std::string line = json + "\n";
    (void)!::write(in[1], line.data(), line.size());
    ::close(in[1]);
    const absl::Time deadline = absl::Now() + timeout_;
    int status = 0;
    while (true) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat("exec: waitpid: ", std::strerror(errno)));
      }
      if (absl::Now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return absl::UnavailableError(absl::StrCat("exec: \"", command_, "\" ran longer than ",
                                                   absl::FormatDuration(timeout_)));
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("exec: \"", command_, "\" ",
                     WIFEXITED(status) ? absl::StrCat("exited ", WEXITSTATUS(status))
                                       : absl::StrCat("killed by signal ", WTERMSIG(status))));
  }

 private:
  std::string command_;
  absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<Channel> StdoutChannel() { return std::make_unique<Stdout>(); }
std::unique_ptr<Channel> WebhookChannel(std::string url, std::unique_ptr<HttpFetcher> fetcher) {
  return std::make_unique<Webhook>(std::move(url), std::move(fetcher));
}
std::unique_ptr<Channel> ExecChannel(std::string command, absl::Duration timeout) {
  return std::make_unique<Exec>(std::move(command), timeout);
}

}  // namespace infratrail
