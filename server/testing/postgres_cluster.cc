#include "server/testing/postgres_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/testing/http_test_client.h"
#include "gtest/gtest.h"

namespace infratrail::testutil {
namespace {

namespace fs = std::filesystem;

std::string FindBindir() {
  if (const char* env = getenv("PG_BINDIR"); env != nullptr && *env != 0) return env;
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(e.path() / "bin" / "initdb", ec)) found.push_back(e.path() / "bin");
  }
  if (found.empty()) return "";
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::atoi(a.parent_path().filename().c_str()) <
           std::atoi(b.parent_path().filename().c_str());
  });
  return found.back().string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::Start(
    const PostgresClusterOptions& options) {
  std::unique_ptr<PostgresCluster> c(new PostgresCluster());
  c->options_ = options;
  c->bindir_ = FindBindir();
  if (c->bindir_.empty()) {
    return absl::NotFoundError(
        "PostgreSQL not found (install Debian's postgresql package, or set PG_BINDIR)");
  }
  const char* tmp = getenv("PG_TEST_TMPDIR");
  std::string templ =
      absl::StrCat(tmp != nullptr && *tmp != 0 ? tmp : "/tmp", "/infratrail-pg-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("mkdtemp ", templ));
  }
  c->dir_ = templ;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("nobody");
    if (pw == nullptr) return absl::NotFoundError("no user nobody to run PostgreSQL as");
    c->drop_privileges_ = true;
    c->uid_ = pw->pw_uid;
    c->gid_ = pw->pw_gid;
    if (chown(c->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::UnavailableError(absl::StrCat("chown ", c->dir_));
    }
  }
  chmod(c->dir_.c_str(), 0700);
  if (absl::Status st = c->Run({c->bindir_ + "/initdb", "-D", c->dir_ + "/data", "-U", "postgres",
                                "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                               "initdb");
      !st.ok()) {
    return st;
  }
  c->port_ = testutil::UnusedLoopbackPort();
  c->StartWatchdog();
  if (absl::Status st = c->StartServer(); !st.ok()) return st;
  return c;
}

PostgresCluster* PostgresCluster::Shared(const PostgresClusterOptions& options) {
  static std::unique_ptr<PostgresCluster> cluster = [&]() -> std::unique_ptr<PostgresCluster> {
    absl::StatusOr<std::unique_ptr<PostgresCluster>> c = Start(options);
    if (!c.ok()) {
      ADD_FAILURE() << "cannot start PostgreSQL: " << c.status();
      return nullptr;
    }
    return *std::move(c);
  }();
  return cluster.get();
}

PostgresCluster::~PostgresCluster() {
  if (running_) {
    Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"}, "pg_ctl stop")
        .IgnoreError();
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  if (watchdog_fd_ >= 0) close(watchdog_fd_);
}

void PostgresCluster::StartWatchdog() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    // Its own session, so a signal to the test's process group spares it.
    setsid();
    for (int f = 0; f < 1024; ++f) {
      if (f != fds[0]) close(f);
    }
    char b;
    while (read(fds[0], &b, 1) != 0) {
      if (errno != EINTR) break;
    }
    const std::string data = dir_ + "/data";
    if (access((data + "/postmaster.pid").c_str(), F_OK) == 0) {
      Run({bindir_ + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"}, "pg_ctl stop")
          .IgnoreError();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    _exit(0);
  }
  close(fds[0]);
  watchdog_fd_ = fds[1];
}

absl::Status PostgresCluster::Run(const std::vector<std::string>& argv, const std::string& what) {
  const std::string log = dir_ + "/command.log";
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError(absl::StrCat(what, ": fork failed"));
  if (pid == 0) {
    if (drop_privileges_ &&
        (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0)) {
      _exit(126);
    }
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    // The server must not inherit the test's signal mask or descriptors.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int f = 3; f < 1024; ++f) close(f);
    if (chdir(dir_.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string out = ReadAll(log);
  absl::StripTrailingAsciiWhitespace(&out);
  return absl::UnavailableError(absl::StrCat(what, " failed (status ", status, "): ", out));
}

absl::Status PostgresCluster::StartServer() {
  std::vector<std::string> settings = {"listen_addresses=127.0.0.1",
                                       absl::StrCat("port=", port_),
                                       absl::StrCat("unix_socket_directories=", dir_),
                                       "max_connections=200",
                                       absl::StrCat("fsync=", options_.fsync ? "on" : "off"),
                                       "synchronous_commit=on",
                                       "log_min_messages=warning",
                                       "log_min_error_statement=panic"};
  settings.insert(settings.end(), options_.settings.begin(), options_.settings.end());
  std::string opts;
  for (const std::string& s : settings) absl::StrAppend(&opts, " -c ", s);
  absl::Status st = Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
                         "-w", "-t", "60", "-o", opts, "start"},
                        "pg_ctl start");
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat(st.message(), "\n", ReadAll(dir_ + "/server.log")));
  }
  running_ = true;
  return absl::OkStatus();
}

std::string PostgresCluster::ConnInfo(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PostgresCluster::Query(const std::string& database,
                                                   const std::string& sql) {
  PGconn* conn = PQconnectdb(ConnInfo(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect: ", why));
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType rs = PQresultStatus(r);
  absl::StatusOr<std::string> out;
  if (rs == PGRES_TUPLES_OK) {
    out = PQntuples(r) > 0 ? std::string(PQgetvalue(r, 0, 0)) : std::string();
  } else if (rs == PGRES_COMMAND_OK) {
    out = std::string();
  } else {
    out = absl::InternalError(absl::StrCat("query: ", PQresultErrorMessage(r)));
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

absl::StatusOr<std::string> PostgresCluster::CreateDatabase() {
  const std::string name = absl::StrCat("infratrail_", getpid(), "_", next_database_++);
  absl::StatusOr<std::string> r = Query("postgres", absl::StrCat("CREATE DATABASE ", name));
  if (!r.ok()) return r.status();
  return ConnInfo(name);
}

absl::Status PostgresCluster::Stop() {
  if (!running_) return absl::OkStatus();
  absl::Status st =
      Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, "pg_ctl stop");
  if (st.ok()) running_ = false;
  return st;
}

absl::Status PostgresCluster::Restart() {
  if (absl::Status st = Stop(); !st.ok()) return st;
  return StartServer();
}

absl::Status PostgresCluster::Kill() {
  if (!running_) return absl::OkStatus();
  const std::string pidfile = ReadAll(dir_ + "/data/postmaster.pid");
  const int pid = std::atoi(pidfile.c_str());
  if (pid <= 0) return absl::NotFoundError("postmaster.pid has no pid");
  if (kill(pid, SIGKILL) != 0) return absl::UnavailableError("kill postmaster");
  // Its backends exit once they notice; wait for the postmaster itself.
  for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) usleep(10000);
  running_ = false;
  return absl::OkStatus();
}

}  // namespace infratrail::testutil
