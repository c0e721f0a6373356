#include "client/ingest_webhook.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/emitter_signature.h"
#include "client/event_flags.h"
#include "client/ingest/mapping.h"
#include "client/ingest/record_reader.h"
#include "client/ingest/stats.h"
#include "client/result_reporter.h"
#include "core/hash.h"
#include "core/http/http_server.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace infratrail::cli {
namespace {

using ingest::MappedItem;

class Webhook : public HttpHandler {
 public:
  Webhook(const WebhookConfig& c, std::ostream& out, std::ostream& err)
      : c_(c),
        out_(out),
        err_(err),
        stats_("k8s-audit", &registry_),
        requests_metric_(prometheus::BuildCounter()
                             .Name("infratrail_ingest_webhook_requests_total")
                             .Help("Audit webhook POSTs answered, by HTTP status code")
                             .Register(registry_)) {
    for (int i = 0; i < c_.args->workers; ++i) workers_.emplace_back([this] { Work(); });
  }

  ~Webhook() override { Drain(); }

  // Stopping: POSTs being processed are finished and answered; those still
  // waiting, and any that arrive from now on, are answered 503 (the API
  // server sends them again to the restarted webhook). Then joins the
  // workers. Idempotent.
  void Drain() {
    std::deque<Job> waiting;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      waiting.swap(queue_);
    }
    for (Job& job : waiting) Answer(job, 503, "stopping: send again\n", 1);
    for (std::thread& t : workers_) {
      if (t.joinable()) t.join();
    }
  }

  void Handle(const HttpRequest& req, HttpResponder respond) override {
    if (req.method == "GET" && req.url == "/healthz") {
      return std::move(respond)(TextReply(200, "ok\n"));
    }
    if (req.method == "GET" && req.url == "/metrics") {
      const std::string text = prometheus::TextSerializer().Serialize(registry_.Collect());
      return std::move(respond)(TextReply(200, text, "text/plain; version=0.0.4"));
    }
    if (req.method != "POST") {
      HttpReply r = TextReply(405, "POST audit events here; GET /healthz, /metrics\n");
      r.allow = "GET, POST";
      return std::move(respond)(std::move(r));
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      HttpReply r = TextReply(503, "stopping: send again\n");
      r.retry_after_s = 1;
      Count(503);
      return std::move(respond)(std::move(r));
    }
    if (queue_.size() >= static_cast<size_t>(c_.args->workers)) {
      HttpReply r = TextReply(503, "busy: every worker has a request waiting; retry\n");
      r.retry_after_s = 1;
      Count(503);
      return std::move(respond)(std::move(r));
    }
    queue_.push_back(Job{++requests_, std::string(req.body), std::move(respond)});
  }

  ingest::IngestStats& stats() { return stats_; }

  // The transport's own counts, on the same /metrics: what it refuses or
  // cuts before a request reaches Handle (a body over --max-body-bytes is
  // counted as a 413 answer).
  HttpServerMetrics TransportMetrics() {
    auto& closed = prometheus::BuildCounter()
                       .Name("infratrail_ingest_webhook_connections_closed_total")
                       .Help(
                           "Webhook connections closed by a bound: total_cap or per_address_cap "
                           "at accept, head_deadline or send_deadline later")
                       .Register(registry_);
    return HttpServerMetrics{
        .open_connections = &prometheus::BuildGauge()
                                 .Name("infratrail_ingest_webhook_open_connections")
                                 .Help("Webhook connections held")
                                 .Register(registry_)
                                 .Add({}),
        .refused_total_cap = &closed.Add({{"reason", "total_cap"}}),
        .refused_per_address = &closed.Add({{"reason", "per_address_cap"}}),
        .cut_head = &closed.Add({{"reason", "head_deadline"}}),
        .cut_send = &closed.Add({{"reason", "send_deadline"}}),
        .body_too_large = &requests_metric_.Add({{"code", "413"}})};
  }

 private:
  struct Job {
    uint64_t number = 0;
    std::string body;
    HttpResponder respond;
  };

  void Count(int code) { requests_metric_.Add({{"code", absl::StrCat(code)}}).Increment(); }

  void Answer(Job& job, int code, std::string text, int retry_after_s = 0) {
    Count(code);
    HttpReply r = TextReply(code, std::move(text),
                            code == 200 ? "application/json" : "text/plain; charset=utf-8");
    r.retry_after_s = retry_after_s;
    std::move(job.respond)(std::move(r));
  }

  void Report(const std::string& position, const std::string& what) {
    absl::MutexLock lock(&out_mu_);
    if (reported_ < c_.args->report_unmapped) {
      err_ << "ingest: " << position << ": " << what << "\n";
    } else if (reported_ == c_.args->report_unmapped) {
      err_ << "ingest: more unmapped or unreadable records are counted, not listed "
              "(--report-unmapped)\n";
    }
    ++reported_;
  }

  void Work() {
    for (;;) {
      Job job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Webhook* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
              return w->stopping_ || !w->queue_.empty();
            },
            this));
        if (stopping_ || queue_.empty()) return;  // Drain answers what waits
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Process(job);
    }
  }

  void Process(Job& job) {
    const IngestArgs& a = *c_.args;
    ingest::ReaderLimits limits;
    limits.max_record_bytes = a.max_record_bytes;
    limits.max_document_bytes = a.max_body_bytes;
    // A gzip body (Content-Encoding is not undone by the transport) is
    // bounded too (--max-body-bytes is at most 1 GiB: no overflow).
    limits.max_decompressed_bytes =
        std::min<uint64_t>(a.max_decompressed_bytes, 4 * uint64_t{a.max_body_bytes});
    const std::string name = absl::StrCat("request ", job.number);
    if (absl::StripAsciiWhitespace(job.body).empty()) {
      return Answer(job, 400, absl::StrCat(name, ": empty body\n"));
    }
    ingest::RecordReader reader(ingest::MemorySource(job.body), name, c_.mapper->container_keys(),
                                limits);
    std::vector<std::string> entries, positions;
    ingest::Record r;
    size_t readable = 0, unreadable = 0, skipped = 0, unmapped = 0;
    while (reader.Next(&r)) {
      stats_.Record();
      if (!r.error.empty()) {
        stats_.Unreadable();
        ++unreadable;
        if (a.strict) {
          return Answer(job, 400, absl::StrCat(r.position, ": ", r.error, " (--strict)\n"));
        }
        Report(r.position, r.error);
        continue;
      }
      if (!r.json.is_object()) {  // `42`, `null`: not an audit event at all
        stats_.Unreadable();
        ++unreadable;
        if (a.strict) {
          return Answer(job, 400, absl::StrCat(r.position, ": not a JSON object (--strict)\n"));
        }
        Report(r.position, "not a JSON object");
        continue;
      }
      ++readable;
      ingest::Mapping mapping = c_.mapper->Map(r.json, r.raw);
      ingest::ApplyFilter(*c_.filter, &mapping);
      for (const MappedItem& item : mapping) {
        stats_.Item(item);
        const std::string position =
            item.where.empty() ? r.position : absl::StrCat(r.position, ":", item.where);
        if (item.kind == MappedItem::Kind::kSkipped) {
          ++skipped;
        } else if (item.kind == MappedItem::Kind::kUnmapped) {
          ++unmapped;
          if (a.strict) {
            return Answer(job, 400,
                          absl::StrCat(position, ": unmapped: ", item.reason, " (--strict)\n"));
          }
          Report(position, absl::StrCat("unmapped: ", item.reason));
        } else {
          std::string bytes = SerializeEvent(item.event);
          for (const NoteSigner& signer : *c_.signers) {
            absl::StatusOr<std::string> s = SignEvent(bytes, signer);
            if (!s.ok()) return Answer(job, 500, absl::StrCat("signing: ", s.status().message()));
            bytes = *std::move(s);
          }
          // An event the log would refuse is unmapped, as in a file run: the
          // rest of the batch is logged (a 4xx would lose it all, since the
          // API server does not send a refused batch again).
          const absl::Status valid =
              ingest::ValidateToSend(item.event, bytes, !c_.signers->empty());
          if (!valid.ok()) {
            stats_.EventRefused();
            ++unmapped;
            const std::string what = absl::StrCat("unmapped: ", valid.message());
            if (a.strict)
              return Answer(job, 400, absl::StrCat(position, ": ", what, " (--strict)\n"));
            Report(position, what);
            continue;
          }
          entries.push_back(std::move(bytes));
          positions.push_back(position);
        }
      }
    }
    if (!reader.status().ok()) {
      return Answer(job, 400, absl::StrCat(reader.status().message(), "\n"));
    }
    if (readable == 0 && unreadable > 0) {
      return Answer(job, 400,
                    absl::StrCat(name, ": no readable audit event (expected an EventList)\n"));
    }
    size_t duplicates = 0;
    std::string lines;
    for (size_t start = 0; start < entries.size(); start += a.batch) {
      const size_t n = std::min(a.batch, entries.size() - start);
      std::vector<AddResult> results;
      if (c_.client != nullptr) {
        absl::StatusOr<std::vector<AddResult>> added =
            c_.client->Add(absl::MakeConstSpan(entries).subspan(start, n), a.wait);
        if (!added.ok()) {
          // What was added before stays added: the API server's retry finds
          // those as duplicates.
          absl::MutexLock lock(&out_mu_);
          err_ << "ingest: " << name << ": not logged: " << added.status().message() << "\n";
          const absl::StatusCode code = added.status().code();
          if (code == absl::StatusCode::kInvalidArgument ||
              code == absl::StatusCode::kFailedPrecondition) {
            return Answer(
                job, 422,
                absl::StrCat("the log refused an event: ", added.status().message(), "\n"));
          }
          return Answer(job, 503, absl::StrCat("log unavailable: ", added.status().message(), "\n"),
                        1);
        }
        results = *std::move(added);
      }
      for (size_t i = 0; i < n; ++i) {
        const std::string& position = positions[start + i];
        if (c_.client == nullptr) {
          lines += nlohmann::ordered_json{{"source_position", position}}.dump() + "\n";
          continue;
        }
        const AddResult& res = results[i];
        stats_.Logged(res.duplicate);
        if (res.duplicate) ++duplicates;
        AppendResultLine(res, &position, &lines);
      }
    }
    {
      absl::MutexLock lock(&out_mu_);
      out_ << lines;
      out_.flush();
    }
    Answer(job, 200,
           nlohmann::ordered_json{{"events", entries.size()},
                                  {"duplicates", duplicates},
                                  {"skipped", skipped},
                                  {"unmapped", unmapped},
                                  {"unreadable", unreadable}}
                   .dump() +
               "\n");
  }

  const WebhookConfig c_;
  std::ostream& out_;
  std::ostream& err_;
  prometheus::Registry registry_;
  ingest::IngestStats stats_;
  prometheus::Family<prometheus::Counter>& requests_metric_;

  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex out_mu_;
  size_t reported_ ABSL_GUARDED_BY(out_mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace

int RunWebhook(const WebhookConfig& config, std::ostream& out, std::ostream& err) {
  // Signals are taken by sigwait below, never by another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const IngestArgs& a = *config.args;
  auto webhook = std::make_unique<Webhook>(config, out, err);
  HttpServerOptions opts;
  opts.address = a.listen;
  opts.flag_name = "--listen";
  opts.max_body_bytes = a.max_body_bytes;
  opts.max_connections = a.max_connections;
  // A POST is answered once its events are durable, which may take the
  // client's retry budget (10 s by default with --listen).
  opts.head_timeout = absl::Seconds(60);
  opts.tls_cert_file = a.tls_cert;
  opts.tls_flag_prefix = "--listen-tls-";
  opts.tls_key_file = a.tls_key;
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(opts, webhook.get(), webhook->TransportMetrics());
  if (!server.ok()) {
    err << "ingest: " << server.status().message() << "\n";
    return kExitUsage;
  }
  const std::string host = a.listen.substr(0, a.listen.rfind(':'));
  err << "ingest: listening on " << (a.tls_cert.empty() ? "http" : "https") << "://" << host << ":"
      << (*server)->port() << "/\n";
  err.flush();
  int sig = 0;
  sigwait(&signals, &sig);
  err << "ingest: signal " << sig << ": answering the POSTs being processed, then stopping\n";
  err.flush();
  webhook->Drain();  // before the transport stops, so their answers go out
  (*server)->Stop();
  server->reset();
  err << "ingest: stopped by signal " << sig << "; "
      << webhook->stats().Summary(config.client == nullptr) << "\n";
  return kExitOk;
}

}  // namespace infratrail::cli
