#include "client/ingest_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/batch_writer.h"
#include "client/emitter_signature.h"
#include "client/event_flags.h"
#include "client/ingest/deploy.h"
#include "client/ingest/event_pipe.h"
#include "client/ingest/filter.h"
#include "client/ingest/record_reader.h"
#include "client/ingest/stats.h"
#include "client/ingest_webhook.h"
#include "client/key_arg.h"
#include "client/progress.h"
#include "client/result_reporter.h"
#include "nlohmann/json.hpp"
#include "proto/limits.h"

namespace infratrail::cli {
using ingest::MappedItem;

CLI::App* AddIngestCommand(CLI::App* app, IngestArgs* a) {
  CLI::App* cmd = app->add_subcommand(
      "ingest",
      "Log the audit trails you already have: SOURCE is k8s-audit, cloudtrail, gcp-audit, "
      "terraform or deploy (docs/ingest.md). Reads --file (gzipped or not; repeatable) or "
      "stdin, or with k8s-audit --listen serves the audit webhook. Prints "
      "{\"index\",\"leaf_hash\",\"duplicate\",\"source_position\"} per logged event; skipped "
      "and unmapped records are counted and listed on stderr. Exit 0 ok, 1 verification "
      "failure, 2 bad flags or input, 3 server or network error.");
  cmd->add_option("source", a->source, "k8s-audit, cloudtrail, gcp-audit, terraform or deploy")
      ->required()
      ->check(CLI::IsMember({"k8s-audit", "cloudtrail", "gcp-audit", "terraform", "deploy"}));
  AddConnectionFlags(cmd, &a->conn);
  cmd->add_option("--file", a->files, "Input file, gzipped or not (repeatable; default stdin)");
  cmd->add_option("--cluster", a->mapper.cluster,
                  "k8s-audit: the cluster's name (resources get provider k8s:<cluster>)");
  cmd->add_option("--repository", a->mapper.repository,
                  "terraform, deploy: the source repository (InfraEvent.source)");
  cmd->add_option("--commit", a->mapper.commit, "terraform, deploy: the source commit");
  cmd->add_option("--pipeline", a->mapper.pipeline, "terraform, deploy: the pipeline run");
  cmd->add_option("--actor", a->mapper.actor,
                  "terraform, deploy: the principal that ran the apply or deploy");
  cmd->add_option("--image", a->images,
                  "deploy: an image REF@sha256:<hex> (repeatable; or one per line on stdin)");
  cmd->add_option("--environment", a->environment, "deploy: where it was deployed");
  cmd->add_option("--occurred-at", a->occurred_at,
                  "deploy: RFC 3339 time of the deploy (default now; give the pipeline's "
                  "start time so a re-run is deduplicated)");
  cmd->add_option("--listen", a->listen,
                  "k8s-audit: serve the audit webhook on HOST:PORT instead of reading files");
  cmd->add_option("--listen-tls-cert", a->tls_cert,
                  "--listen: serve HTTPS with this PEM certificate (--tls-cert is the client "
                  "certificate for the log)");
  cmd->add_option("--listen-tls-key", a->tls_key, "--listen: that certificate's PEM private key");
  cmd->add_option("--max-body-bytes", a->max_body_bytes,
                  "--listen: the largest POST body (413 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  cmd->add_option("--max-connections", a->max_connections,
                  "--listen: connections held at once (each may buffer a body of "
                  "--max-body-bytes); more are closed at accept")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  cmd->add_option("--workers", a->workers, "--listen: POSTs processed at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--filter", a->filter,
                  "YAML rules dropping noise (docs/ingest.md); replaces the source's defaults");
  cmd->add_flag("--no-filter", a->no_filter, "Drop nothing by rule, not even the defaults");
  cmd->add_flag("--strict", a->strict,
                "Stop at the first unmapped or unreadable record (exit 2, naming its position)");
  cmd->add_flag("--dry-run", a->dry_run,
                "Print {\"source_position\",\"event\"} per mapped event instead of sending");
  cmd->add_option("--report-unmapped", a->report_unmapped,
                  "List at most this many unmapped or unreadable records on stderr (all are "
                  "counted)")
      ->capture_default_str();
  cmd->add_option("--max-record-bytes", a->max_record_bytes,
                  "Largest record (a line that is not a container, or an item)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 32));
  cmd->add_option("--max-document-bytes", a->max_document_bytes,
                  "Largest multi-line JSON document, or line (a CloudTrail file is one)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 34));
  cmd->add_option("--max-decompressed-bytes", a->max_decompressed_bytes,
                  "Most bytes one gzip input may decompress to")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--sign-key", a->sign_keys, "Emitter key file: sign each event (repeatable)");
  cmd->add_flag("--wait", a->wait,
                "Wait until a verified checkpoint covers the events (needs --log-key or "
                "--witness-policy)");
  cmd->add_option("--receipt-dir", a->receipt_dir,
                  "With --wait: write a verified <index>.tlog-proof receipt per event here");
  cmd->add_option("--batch", a->batch, "Most events per request")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, kMaxEntriesPerAdd));
  cmd->add_option("--in-flight", a->in_flight, "Most requests outstanding at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--linger", a->linger, "Send a partial batch once it is this old")
      ->capture_default_str();
  cmd->add_option("--progress", a->progress, "Progress bar on stderr: auto, always, never")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->final_callback([a, cmd] {
    a->timeouts_given = cmd->count("--timeout") > 0 || cmd->count("--retry-for") > 0;
  });
  return cmd;
}

int RunIngest(const IngestArgs& args, std::ostream& out, std::ostream& err) {
  const bool deploy = args.source == "deploy";
  auto usage = [&](const std::string& message) {
    err << "ingest: " << message << "\n";
    return kExitUsage;
  };
  if (!args.listen.empty() && args.source != "k8s-audit") {
    return usage("--listen: only k8s-audit has a webhook");
  }
  if (!args.listen.empty() && !args.files.empty()) {
    return usage("--listen: cannot be combined with --file");
  }
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    return usage(args.tls_cert.empty() ? "--listen-tls-key: needs --listen-tls-cert"
                                       : "--listen-tls-cert: needs --listen-tls-key");
  }
  if (!args.tls_cert.empty() && args.listen.empty())
    return usage("--listen-tls-cert: needs --listen");
  if (!args.images.empty() && !deploy) return usage("--image: only for deploy");
  if (deploy && !args.images.empty() && !args.files.empty()) {
    return usage("--image: cannot be combined with --file (give images one way)");
  }
  if (args.wait && !args.conn.verifies()) {
    return usage(
        "--wait: needs --log-key or --witness-policy (the checkpoint and proofs are "
        "verified)");
  }
  if (!args.receipt_dir.empty() && !args.wait) {
    return usage("--receipt-dir: needs --wait (a receipt needs a checkpoint)");
  }
  if (!args.filter.empty() && args.no_filter)
    return usage("--filter: cannot be combined with --no-filter");
  absl::StatusOr<absl::Duration> linger = ParseDurationArg(args.linger, "--linger");
  if (!linger.ok()) return usage(std::string(linger.status().message()));
  // A misspelt --file is found before anything is sent, not after the
  // files before it were.
  for (const std::string& file : args.files) {
    struct stat st;
    if (file == "-") continue;
    if (stat(file.c_str(), &st) != 0 || access(file.c_str(), R_OK) != 0) {
      return usage(absl::StrCat("--file ", file, ": ", std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) return usage(absl::StrCat("--file ", file, ": is a directory"));
  }

  std::unique_ptr<ingest::Mapper> mapper;
  if (!deploy) {
    absl::StatusOr<std::unique_ptr<ingest::Mapper>> m =
        ingest::MakeMapper(args.source, args.mapper);
    if (!m.ok()) return usage(std::string(m.status().message()));
    mapper = *std::move(m);
  }
  ingest::EventFilter filter;
  if (!args.filter.empty()) {
    absl::StatusOr<ingest::EventFilter> f = ingest::EventFilter::Load(args.filter);
    if (!f.ok()) return usage(std::string(f.status().message()));
    filter = *std::move(f);
  } else if (!args.no_filter) {
    filter = ingest::EventFilter::DefaultFor(args.source);
  }
  std::vector<NoteSigner> signers;
  for (const std::string& file : args.sign_keys) {
    absl::StatusOr<NoteSigner> key = ReadSignerKeyFile(file, "--sign-key");
    if (!key.ok()) return usage(std::string(key.status().message()));
    signers.push_back(*std::move(key));
  }
  if (!args.receipt_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.receipt_dir, ec);
    if (ec) return usage(absl::StrCat("--receipt-dir ", args.receipt_dir, ": ", ec.message()));
  }

  ConnectionFlags conn = args.conn;
  if (!args.listen.empty() && !args.timeouts_given) {
    // The API server waits for the webhook's answer: give up on a down log
    // soon enough to answer 503 before it times out (docs/ingest.md).
    conn.timeout = "10s";
    conn.retry_for = "10s";
  }
  std::unique_ptr<LogClient> client;
  if (!args.dry_run) {
    absl::StatusOr<std::unique_ptr<LogClient>> c = Connect(conn, err, "ingest");
    if (!c.ok()) return usage(std::string(c.status().message()));
    client = *std::move(c);
  }

  if (!args.listen.empty()) {
    WebhookConfig config;
    config.args = &args;
    config.mapper = mapper.get();
    config.filter = &filter;
    config.signers = &signers;
    config.client = client.get();
    return RunWebhook(config, out, err);
  }

  ingest::IngestStats stats(args.source, nullptr);
  ResultReporter results(out, err,
                         {.command = "ingest",
                          .receipt_dir = args.receipt_dir,
                          .print_position = true,
                          .on_result = [&](const AddResult& r) { stats.Logged(r.duplicate); }});
  std::unique_ptr<BatchWriter> writer;
  if (!args.dry_run) {
    BatchWriterOptions wopts;
    wopts.max_batch_entries = args.batch;
    wopts.max_in_flight = args.in_flight;
    wopts.linger = *linger;
    wopts.wait = args.wait;
    absl::StatusOr<std::unique_ptr<BatchWriter>> w = BatchWriter::Create(
        client.get(), wopts, [&](uint64_t, absl::Span<const AddResult> r) { results.Report(r); });
    if (!w.ok()) return usage(std::string(w.status().message()));
    writer = *std::move(w);
  }

  // Ends the run: everything queued before is sent and reported first.
  auto stop = [&](int code, const std::string& message) {
    if (writer != nullptr) {
      absl::Status st = writer->Flush();
      if (!st.ok()) {
        const std::string at = results.NextUnreported();
        err << "ingest: " << (at.empty() ? "" : absl::StrCat("stopped at ", at, ": "))
            << st.message() << "\n";
        err << "ingest: " << stats.Summary(args.dry_run) << "\n";
        return ExitCodeFor(st);
      }
    }
    if (!message.empty()) err << "ingest: " << message << "\n";
    err << "ingest: " << stats.Summary(args.dry_run) << "\n";
    if (code != kExitOk) return code;
    return results.failure_exit();
  };
  absl::Mutex problem_mu;  // problem() runs on the reading and the pipe's threads
  size_t reported = 0;
  // An unmapped or unreadable record: listed (up to --report-unmapped),
  // counted; with --strict the end of the run. Returns true to go on.
  auto problem = [&](const std::string& position, const std::string& what) {
    if (args.strict) return false;
    absl::MutexLock lock(&problem_mu);
    if (reported < args.report_unmapped) {
      err << "ingest: " << position << ": " << what << "\n";
    } else if (reported == args.report_unmapped) {
      err << "ingest: more unmapped or unreadable records are counted, not listed "
             "(--report-unmapped)\n";
    }
    ++reported;
    return true;
  };
  // Queues one event; false (with `failure` set) when the run must end.
  // Runs on the pipe's thread (or the only one, for deploy).
  struct Failure {
    int code = kExitOk;
    std::string message;
  };
  Failure failure;
  // An event the log would refuse (a time out of its range, a field too
  // long) is unmapped, like a record the adapter cannot map: the rest goes
  // on. False (with `failure` set) with --strict.
  auto refused = [&](const std::string& position, const absl::Status& why) {
    stats.EventRefused();
    const std::string what = absl::StrCat("unmapped: ", why.message());
    if (problem(position, what)) return true;
    failure = {kExitUsage, absl::StrCat(position, ": ", what, " (--strict)")};
    return false;
  };
  auto queue = [&](const v1::InfraEvent& event, const std::string& position) {
    if (args.dry_run) {
      // Checked as a real run would, so a dry run shows what it would log.
      if (absl::Status valid = ingest::ValidateToSend(event, SerializeEvent(event), false);
          !valid.ok()) {
        return refused(position, valid);
      }
      out << nlohmann::ordered_json{{"source_position", position},
                                    {"event",
                                     nlohmann::json::parse(ingest::EventToSortedJson(event))}}
                 .dump()
          << "\n";
      stats.Logged(false);
      return true;
    }
    std::string bytes = SerializeEvent(event);
    for (const NoteSigner& signer : signers) {
      absl::StatusOr<std::string> s = SignEvent(bytes, signer);
      if (!s.ok()) {
        failure = {kExitUsage, absl::StrCat(position, ": --sign-key: ", s.status().message())};
        return false;
      }
      bytes = *std::move(s);
    }
    // Unsigned, the event is checked as built (a third of the cost of
    // parsing it back); signed, its bytes are checked whole.
    absl::Status valid = ingest::ValidateToSend(event, bytes, !signers.empty());
    if (!valid.ok()) return refused(position, valid);
    results.Expect(position);
    absl::StatusOr<uint64_t> seq = writer->AddValidated(std::move(bytes));
    if (!seq.ok()) {
      failure = {ExitCodeFor(seq.status()), std::string(seq.status().message())};
      return false;
    }
    return true;
  };

  if (deploy) {
    std::vector<std::string> images = args.images;
    std::vector<std::string> positions;
    for (size_t i = 0; i < images.size(); ++i)
      positions.push_back(absl::StrCat("--image[", i, "]"));
    if (images.empty()) {
      // One reference per line, from the files or stdin.
      std::vector<std::string> files =
          args.files.empty() ? std::vector<std::string>{"-"} : args.files;
      for (const std::string& file : files) {
        std::ifstream f;
        std::istream* in = &std::cin;
        if (file != "-") {
          f.open(file);
          if (!f) return usage(absl::StrCat("--file ", file, ": cannot open"));
          in = &f;
        }
        std::string line;
        int n = 0;
        while (std::getline(*in, line)) {
          ++n;
          const absl::string_view t = absl::StripAsciiWhitespace(line);
          if (t.empty() || t[0] == '#') continue;
          images.emplace_back(t);
          positions.push_back(absl::StrCat(file == "-" ? "<stdin>" : file, ":", n));
        }
      }
    }
    if (images.empty()) return usage("deploy: no images (--image, or one per line on stdin)");
    ingest::DeployOptions d;
    d.images = images;
    d.repository = args.mapper.repository;
    d.commit = args.mapper.commit;
    d.pipeline = args.mapper.pipeline;
    d.actor = args.mapper.actor;
    d.environment = args.environment;
    d.occurred_at = args.occurred_at;
    absl::StatusOr<std::vector<v1::InfraEvent>> events = ingest::BuildDeployEvents(d);
    if (!events.ok()) return usage(std::string(events.status().message()));
    for (size_t i = 0; i < events->size(); ++i) {
      stats.Record();
      MappedItem item = ingest::Event((*events)[i]);
      stats.Item(item);
      if (!queue(item.event, positions[i])) return stop(failure.code, failure.message);
    }
    return stop(kExitOk, "");
  }

  ingest::ReaderLimits limits;
  limits.max_record_bytes = args.max_record_bytes;
  limits.max_document_bytes = args.max_document_bytes;
  limits.max_decompressed_bytes = args.max_decompressed_bytes;
  // This thread reads and maps; the pipe's serializes, signs and queues.
  ingest::EventPipe pipe(
      [&](const ingest::EventPipe::Item& item) { return queue(item.event, item.position); });
  // Ends the run early: what was pushed before is queued (or the pipe
  // stopped on its own failure, which then wins).
  auto end = [&](int code, const std::string& message) {
    if (!pipe.Finish()) return stop(failure.code, failure.message);
    return stop(code, message);
  };
  std::vector<std::string> files = args.files.empty() ? std::vector<std::string>{"-"} : args.files;
  // An input that ends early (unreadable file, corrupt or over-bounded
  // gzip, a document past its bound) is reported and the next input is
  // read; the run then exits 2. With --strict it ends the run.
  std::vector<std::string> failed_inputs;
  auto input_failed = [&](const std::string& message) {
    if (args.strict) return false;
    err << "ingest: " << message << "\n";
    failed_inputs.push_back(message);
    return true;
  };
  for (const std::string& file : files) {
    int fd = STDIN_FILENO;
    uint64_t total_bytes = 0;
    if (file != "-") {
      fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        const std::string message = absl::StrCat("--file ", file, ": ", std::strerror(errno));
        if (!input_failed(message)) return end(kExitUsage, message);
        continue;
      }
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        total_bytes = static_cast<uint64_t>(st.st_size);
    }
    Progress progress(err, ProgressWanted(args.progress), total_bytes);
    ingest::RecordReader reader(ingest::FdSource(fd, file == "-" ? "<stdin>" : file),
                                file == "-" ? "<stdin>" : file, mapper->container_keys(), limits);
    auto finish_file = [&] {
      progress.Finish();
      if (fd != STDIN_FILENO) close(fd);
    };
    ingest::Record r;
    uint64_t n = 0;
    while (reader.Next(&r)) {
      stats.Record();
      progress.Update(++n, r.input_bytes);
      if (!r.error.empty()) {
        stats.Unreadable();
        if (!problem(r.position, r.error)) {
          finish_file();
          return end(kExitUsage, absl::StrCat(r.position, ": ", r.error, " (--strict)"));
        }
        continue;
      }
      ingest::Mapping mapping = mapper->Map(r.json, r.raw);
      ingest::ApplyFilter(filter, &mapping);
      for (MappedItem& item : mapping) {
        stats.Item(item);
        std::string position =
            item.where.empty() ? r.position : absl::StrCat(r.position, ":", item.where);
        if (item.kind == MappedItem::Kind::kEvent) {
          if (!pipe.Push(std::move(item.event), std::move(position))) {
            finish_file();
            return end(kExitOk, "");
          }
        } else if (item.kind == MappedItem::Kind::kUnmapped) {
          if (!problem(position, absl::StrCat("unmapped: ", item.reason))) {
            finish_file();
            return end(kExitUsage,
                       absl::StrCat(position, ": unmapped: ", item.reason, " (--strict)"));
          }
        }
      }
    }
    finish_file();
    if (!reader.status().ok()) {
      const std::string message(reader.status().message());
      if (!input_failed(message)) return end(kExitUsage, message);
    }
  }
  if (!failed_inputs.empty()) {
    return end(kExitUsage, absl::StrCat(failed_inputs.size(), " of ", files.size(),
                                        " inputs ended early (named above); what they held "
                                        "before that point was processed"));
  }
  return end(kExitOk, "");
}

}  // namespace infratrail::cli
