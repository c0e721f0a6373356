#include "verifier/witness/witness_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/key_arg.h"
#include "core/http/http_fetcher.h"
#include "core/http/http_server.h"
#include "core/io/file_util.h"
#include "nlohmann/json.hpp"
#include "verifier/signals.h"
#include "verifier/witness/log_list.h"
#include "verifier/witness/witness.h"
#include "verifier/witness/witness_http.h"
#include "verifier/witness/witness_metrics.h"
#include "verifier/witness/witness_store.h"

namespace infratrail {
namespace {

constexpr int kExitState = 1;
constexpr int kExitUsage = 2;
constexpr absl::string_view kKnownLogsFile = "known-logs";

// Stamped diagnostics on stderr, one whole line at a time (the list
// refresher writes from its own thread).
void Log(std::ostream& err, absl::string_view what) {
  static absl::Mutex mu(absl::kConstInit);
  const std::string line = absl::StrCat(
      "witness: ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()), " ",
      what, "\n");
  absl::MutexLock l(&mu);
  err << line << std::flush;
}

// The key file must be readable by its owner alone.
absl::StatusOr<NoteSigner> ReadWitnessKey(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--key ", path, ": ", strerror(errno)));
  }
  if ((st.st_mode & 0077) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--key %s: mode %04o lets others read the witness's private key; chmod 600 it", path,
        st.st_mode & 07777));
  }
  return ReadSignerKeyFile(path, "--key");
}

// A list source's text: an http(s) URL or a file.
absl::StatusOr<std::string> ReadSource(const std::string& source, HttpFetcher* fetcher) {
  if (absl::StartsWith(source, "https://") || absl::StartsWith(source, "http://")) {
    absl::StatusOr<HttpResponse> r = fetcher->Get(source, kMaxLogListBytes);
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::UnavailableError(absl::StrCat(source, ": HTTP ", r->status));
    }
    return std::move(r->body);
  }
  return ReadRegularFileBounded(source, kMaxLogListBytes);
}

class ListLoader {
 public:
  ListLoader(const WitnessArgs& args, KnownLogs* known, WitnessMetrics* metrics, std::ostream& err)
      : args_(args), known_(known), metrics_(metrics), err_(err) {}

  ~ListLoader() { Stop(); }

  absl::Status Init() {
    HttpFetcherOptions options;
    options.ca_file = args_.ca_file;
    // A list server that stalls holds up only the refresher, and a stop
    // cancels the transfer at once.
    options.timeout = std::chrono::seconds(60);
    options.cancelled = [this] { return stopping_.load(); };
    absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(options);
    if (!f.ok()) return f.status();
    fetcher_ = *std::move(f);
    // What this witness knew before: never forgotten, whatever lists say now.
    const std::string path = absl::StrCat(args_.state_dir, "/", kKnownLogsFile);
    absl::StatusOr<std::string> text = ReadRegularFileBounded(path, kMaxLogListBytes);
    if (text.ok()) {
      absl::StatusOr<LogList> list = ParseLogList(*text, path);
      if (!list.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat(list.status().message(), " (the witness's own record of known logs)"));
      }
      absl::StatusOr<MergeReport> report = known_->Merge(*list);
      if (!report.ok()) return report.status();
      Report(path, *report);
    } else if (!absl::IsNotFound(text.status())) {
      return text.status();
    }
    return absl::OkStatus();
  }

  // The operator's --logs file, at start: it must read and parse.
  absl::Status LoadOwn() {
    if (args_.logs.empty()) return absl::OkStatus();
    return Load({args_.logs}, /*strict=*/true);
  }

  // Starts the thread that reads every source (--logs and --log-list) now,
  // then every `refresh` and on Refresh(). A source that fails keeps what is
  // known and is tried again next time; nothing here holds up serving.
  void StartRefresher(absl::Duration refresh) {
    refresher_ = std::thread([this, refresh] {
      absl::Time next = absl::InfinitePast();
      while (true) {
        {
          absl::MutexLock l(&mu_);
          auto due = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return stopping_.load() || requested_ || absl::Now() >= next;
          };
          mu_.AwaitWithDeadline(absl::Condition(&due), next);
          if (stopping_.load()) return;
          requested_ = false;
        }
        std::vector<std::string> sources;
        if (!args_.logs.empty()) sources.push_back(args_.logs);
        sources.insert(sources.end(), args_.log_lists.begin(), args_.log_lists.end());
        if (absl::Status s = Load(sources, /*strict=*/false); !s.ok()) {
          Log(err_, absl::StrCat("known logs: ", s.message()));
        }
        next = absl::Now() + refresh;
      }
    });
  }
  // SIGHUP: read the sources again now.
  void Refresh() {
    absl::MutexLock l(&mu_);
    requested_ = true;
  }
  // Ends the refresher, cancelling a transfer in progress.
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    if (refresher_.joinable()) refresher_.join();
  }

 private:
  // Reads `sources` and adds what is new. With `strict` the first failure is
  // returned; otherwise a source that fails is logged and skipped.
  absl::Status Load(const std::vector<std::string>& sources, bool strict) {
    for (const std::string& source : sources) {
      if (stopping_.load()) break;
      absl::StatusOr<std::string> text = ReadSource(source, fetcher_.get());
      absl::StatusOr<LogList> list =
          text.ok() ? ParseLogList(*text, source) : absl::StatusOr<LogList>(text.status());
      if (!list.ok()) {
        if (metrics_ != nullptr) metrics_->ListLoaded(false, 0);
        if (strict) return list.status();
        Log(err_, absl::StrCat("log list ", source, ": ", list.status().message(), "; keeping the ",
                               known_->size(), " known logs"));
        continue;
      }
      // Written down before any request can use a new log.
      absl::StatusOr<MergeReport> report =
          known_->Merge(*list, [this](const std::vector<WitnessLog>& all) { return Persist(all); });
      if (!report.ok()) {
        if (metrics_ != nullptr) metrics_->ListLoaded(false, 0);
        return report.status();
      }
      if (metrics_ != nullptr) metrics_->ListLoaded(true, report->refused.size());
      Report(source, *report);
    }
    return absl::OkStatus();
  }

  void Report(const std::string& source, const MergeReport& report) {
    for (const std::string& origin : report.added) {
      Log(err_, absl::StrCat("log list ", source, ": added \"", origin, "\""));
    }
    for (const std::string& why : report.refused) {
      Log(err_, absl::StrCat("log list ", source, ": refused ", why));
    }
  }

  // Every known log, written atomically (temporary file, fsync, rename,
  // directory fsync) before the new ones are used.
  absl::Status Persist(const std::vector<WitnessLog>& all) {
    return WriteFileAtomic(absl::StrCat(args_.state_dir, "/", kKnownLogsFile), FormatLogList(all),
                           0600);
  }

  const WitnessArgs& args_;
  KnownLogs* const known_;
  WitnessMetrics* const metrics_;
  std::ostream& err_;
  std::unique_ptr<HttpFetcher> fetcher_;  // the refresher's, once it runs
  std::thread refresher_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

void AddWitnessCommands(CLI::App* witness, WitnessArgs* a) {
  a->witness = witness;
  witness->add_option("--key", a->key,
                      "The witness's private key file (witness keygen), mode 0600");
  witness->add_option("--state-dir", a->state_dir,
                      "Directory for the cosigned checkpoints and the known logs");
  witness->add_option("--listen", a->listen, "HOST:PORT to serve the witness API on")
      ->capture_default_str();
  witness->add_option("--logs", a->logs, "The operator's log list (logs/v0 format)");
  witness->add_option("--log-list", a->log_lists,
                      "Another log list, a file or an http(s) URL (repeatable); re-read on "
                      "SIGHUP and every --log-list-refresh");
  witness
      ->add_option("--log-list-refresh", a->list_refresh_s,
                   "Seconds between re-reads of the log lists")
      ->capture_default_str()
      ->check(CLI::Range(10, 86400));
  witness->add_option("--public-url", a->public_url,
                      "The URL prefix clients reach this witness at (for /witness.json)");
  witness
      ->add_option("--rate-per-log", a->rate_per_log,
                   "add-checkpoint requests per second per log before 429 (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  witness->add_option("--burst-per-log", a->burst_per_log, "Requests a log may make at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  witness->add_option("--max-connections", a->max_connections,
                      "Connections held at once (0: a quarter of the open-file limit, at most "
                      "4096)");
  witness
      ->add_option("--max-connections-per-address", a->max_connections_per_address,
                   "Connections held at once from one IPv4 address or IPv6 /64 (0: no limit)")
      ->capture_default_str();
  witness->add_option("--ca-file", a->ca_file, "PEM CA bundle for https log lists");
  a->keygen = witness->add_subcommand("keygen", "Make a witness key (prints its verifier key)");
  a->keygen->add_option("--name", a->name, "The witness's name, e.g. witness.example.org/w1")
      ->required();
  a->keygen->add_option("--out", a->out, "Private key file to write (mode 0600)")->required();
}

int RunWitnessKeygen(const WitnessArgs& a, std::ostream& out, std::ostream& err) {
  absl::StatusOr<NoteSigner> key = NoteSigner::Generate(a.name);
  if (!key.ok()) {
    err << "witness keygen: --name: " << key.status().message() << "\n";
    return kExitUsage;
  }
  const int fd = open(a.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    err << "witness keygen: --out " << a.out << ": " << strerror(errno)
        << (errno == EEXIST ? " (never overwritten: a witness's key is its identity)" : "") << "\n";
    return kExitUsage;
  }
  const std::string text = key->SignerKey() + "\n";
  const bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    err << "witness keygen: --out " << a.out << ": write failed: " << strerror(errno) << "\n";
    unlink(a.out.c_str());
    return kExitUsage;
  }
  out << key->CosignatureVerifierKey() << std::endl;
  return 0;
}

int RunWitness(const WitnessArgs& a, std::ostream& out, std::ostream& err) {
  Signals signals;  // first: every thread after it inherits the blocked mask
  if (a.key.empty() || a.state_dir.empty() || (a.logs.empty() && a.log_lists.empty())) {
    err << "witness: --key, --state-dir and --logs (or --log-list) are required\n";
    return kExitUsage;
  }
  absl::StatusOr<NoteSigner> key = ReadWitnessKey(a.key);
  if (!key.ok()) {
    err << "witness: " << key.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<WitnessStore>> store = WitnessStore::Open(a.state_dir);
  if (!store.ok()) {
    err << "witness: --state-dir " << a.state_dir << ": " << store.status().message() << "\n";
    return kExitState;
  }
  if ((*store)->recovered_torn_bytes() > 0) {
    Log(err, absl::StrCat("state: cut ", (*store)->recovered_torn_bytes(),
                          " bytes of an unfinished write off the journal (never acknowledged)"));
  }
  // A state directory belongs to one witness key: another key's cosigned
  // checkpoints are not this witness's to serve or extend.
  const std::string owner_path = absl::StrCat(a.state_dir, "/witness.vkey");
  absl::StatusOr<std::string> owner = ReadRegularFileBounded(owner_path, 4096);
  if (owner.ok() && absl::StripTrailingAsciiWhitespace(*owner) != key->CosignatureVerifierKey()) {
    err << "witness: --state-dir " << a.state_dir << " belongs to the witness "
        << absl::StripTrailingAsciiWhitespace(*owner) << ", not to --key "
        << key->CosignatureVerifierKey() << "\n";
    return kExitState;
  }
  if (!owner.ok()) {
    absl::Status s = absl::IsNotFound(owner.status())
                         ? WriteFileAtomic(owner_path, key->CosignatureVerifierKey() + "\n", 0600)
                         : owner.status();
    if (!s.ok()) {
      err << "witness: " << s.message() << "\n";
      return kExitState;
    }
  }
  WitnessMetrics metrics;
  KnownLogs known(key->public_key());
  ListLoader loader(a, &known, &metrics, err);
  if (absl::Status s = loader.Init(); !s.ok()) {
    err << "witness: " << s.message() << "\n";
    return kExitState;
  }
  if (absl::Status s = loader.LoadOwn(); !s.ok()) {
    err << "witness: " << s.message() << "\n";
    return absl::IsInvalidArgument(s) || absl::IsNotFound(s) ? kExitUsage : kExitState;
  }
  WitnessOptions options;
  options.rate_per_log = a.rate_per_log;
  options.burst_per_log = a.burst_per_log;
  Witness witness(*key, &known, store->get(), options, &metrics);

  HttpServerOptions http;
  http.address = a.listen;
  http.flag_name = "--listen";
  http.max_body_bytes = kMaxAddCheckpointBodyBytes;
  http.max_connections = a.max_connections;
  http.max_connections_per_address = a.max_connections_per_address;
  const size_t colon = a.listen.rfind(':');
  const std::string host = colon == std::string::npos ? a.listen : a.listen.substr(0, colon);
  auto handler = std::make_unique<WitnessHttpHandler>(
      &witness, &known, store->get(), &metrics, WitnessHttpOptions{.public_url = a.public_url});
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(http, handler.get(), HttpServerMetrics{});
  if (!server.ok()) {
    err << "witness: " << server.status().message() << "\n";
    return absl::IsInvalidArgument(server.status()) ? kExitUsage : kExitState;
  }
  const std::string listening = absl::StrCat(host, ":", (*server)->port());
  if (a.public_url.empty()) handler->SetPublicUrl(absl::StrCat("http://", listening));
  out << nlohmann::json({{"listening", listening},
                         {"name", key->name()},
                         {"vkey", key->CosignatureVerifierKey()}})
             .dump()
      << std::endl;
  Log(err, absl::StrCat("cosigning for ", known.size(), " logs as ", key->CosignatureVerifierKey(),
                        " on ", listening));

  loader.StartRefresher(absl::Seconds(a.list_refresh_s));

  int rc = 0;
  while (!signals.stopping()) {
    signals.SleepFor(absl::Seconds(1));
    if (absl::Status s = (*store)->health(); !s.ok()) {
      Log(err, std::string(s.message()));
      rc = kExitState;
      break;
    }
    if (signals.TakeReload()) loader.Refresh();
  }
  Log(err, "stopping");
  loader.Stop();
  (*server)->Stop();
  return rc;
}

}  // namespace infratrail
