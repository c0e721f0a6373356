#include "client/add_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/batch_writer.h"
#include "client/emitter_signature.h"
#include "client/event_json.h"
#include "client/key_arg.h"
#include "client/progress.h"
#include "client/result_reporter.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::cli {

CLI::App* AddAddCommand(CLI::App* app, AddArgs* a) {
  CLI::App* add = app->add_subcommand(
      "add",
      "Append events: proto3-JSON InfraEvent lines from stdin or --file, or one event built "
      "from --kind, --resource-id and friends. Prints {\"index\",\"leaf_hash\",\"duplicate\"} per "
      "event, in input order, once durable. Exit 0 ok, 1 verification failure, 2 bad flags or "
      "input, 3 server or network error.");
  AddConnectionFlags(add, &a->conn);
  add->add_option("--file", a->file, "JSON lines file (default: stdin)");
  add->add_option("--sign-key", a->sign_keys,
                  "Emitter key file (PRIVATE+KEY+...): sign each event before sending; "
                  "repeatable (one signature per key, e.g. independent approvers)");
  add->add_flag(
      "--wait", a->wait,
      "Wait until a verified checkpoint covers the events (needs --log-key or --witness-policy)");
  add->add_option("--receipt-dir", a->receipt_dir,
                  "With --wait: write a verified <index>.tlog-proof receipt per event here");
  add->add_option("--batch", a->batch, "Most events per request")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, kMaxEntriesPerAdd));
  add->add_option("--in-flight", a->in_flight, "Most requests outstanding at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  add->add_option("--linger", a->linger, "Send a partial batch once it is this old")
      ->capture_default_str();
  add->add_option("--progress", a->progress,
                  "Progress bar on stderr: auto (when stderr is a terminal), always, never")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  EventFlags& e = a->event;
  auto* g = add->add_option_group("event", "Build one event from flags instead of reading lines");
  g->add_option("--kind", e.kind,
                "provision, deprovision, access, deploy, config_change, key_create, key_rotate, "
                "key_recovery, break_glass, key_destroy");
  g->add_option("--resource-id", e.resource_id, "Provider's resource identifier (required)");
  g->add_option("--resource-type", e.resource_type, "e.g. vm, bucket, kms-key");
  g->add_option("--provider", e.provider, "e.g. aws, gcp, onprem-dc1");
  g->add_option("--actor", e.actor, "Principal who did it");
  g->add_option("--via", e.via, "console, iac, ci or api");
  g->add_option("--justification", e.justification, "Why (access, key recovery)");
  g->add_option("--ticket", e.ticket, "Ticket reference");
  g->add_option("--digest", e.digest, "Artifact digest sha256:<hex> (deploys)");
  g->add_option("--repo", e.repo, "Source repository");
  g->add_option("--commit", e.commit, "Source commit");
  g->add_option("--pipeline", e.pipeline, "Pipeline run identifier");
  g->add_option("--occurred-at", e.occurred_at, "RFC 3339 time (default: now)");
  g->add_option("--attr", e.attrs, "key=value attribute; repeatable");
  return add;
}

int RunAdd(const AddArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
  const bool from_flags = AnyEventFlagSet(args.event);
  if (from_flags && !args.file.empty()) {
    err << "add: --file: cannot be combined with event flags (--kind, --resource-id, ...)\n";
    return kExitUsage;
  }
  if (args.wait && !args.conn.verifies()) {
    err << "add: --wait: needs --log-key or --witness-policy (the checkpoint and proofs are "
           "verified)\n";
    return kExitUsage;
  }
  if (!args.receipt_dir.empty() && !args.wait) {
    err << "add: --receipt-dir: needs --wait (a receipt needs a checkpoint)\n";
    return kExitUsage;
  }
  absl::StatusOr<absl::Duration> linger = ParseDurationArg(args.linger, "--linger");
  if (!linger.ok()) {
    err << "add: " << linger.status().message() << "\n";
    return kExitUsage;
  }
  if (!args.receipt_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.receipt_dir, ec);
    if (ec) {
      err << "add: --receipt-dir " << args.receipt_dir << ": " << ec.message() << "\n";
      return kExitUsage;
    }
  }
  std::vector<NoteSigner> signers;
  for (const std::string& file : args.sign_keys) {
    absl::StatusOr<NoteSigner> key = ReadSignerKeyFile(file, "--sign-key");
    if (!key.ok()) {
      err << "add: " << key.status().message() << "\n";
      return kExitUsage;
    }
    signers.push_back(*std::move(key));
  }
  absl::StatusOr<std::unique_ptr<LogClient>> client = Connect(args.conn, err, "add");
  if (!client.ok()) {
    err << "add: " << client.status().message() << "\n";
    return kExitUsage;
  }

  ResultReporter reporter(out, err, {.command = "add", .receipt_dir = args.receipt_dir});
  BatchWriterOptions wopts;
  wopts.max_batch_entries = args.batch;
  wopts.max_in_flight = args.in_flight;
  wopts.linger = *linger;
  wopts.wait = args.wait;
  absl::StatusOr<std::unique_ptr<BatchWriter>> writer = BatchWriter::Create(
      client->get(), wopts, [&](uint64_t, absl::Span<const AddResult> r) { reporter.Report(r); });
  if (!writer.ok()) {
    err << "add: " << writer.status().message() << "\n";
    return kExitUsage;
  }

  // Stops the import: everything queued before is sent and reported first.
  auto stop = [&](int code, const std::string& message) {
    absl::Status st = (*writer)->Flush();
    if (!st.ok()) {
      const std::string at = reporter.NextUnreported();
      err << "add: " << (at.empty() ? "" : absl::StrCat("stopped at ", at, ": ")) << st.message()
          << "\n";
      return ExitCodeFor(st);
    }
    if (!message.empty()) err << "add: " << message << "\n";
    return code;
  };
  // Queues one event's bytes from input line `line`.
  auto queue = [&](std::string bytes, int line) -> int {
    for (const NoteSigner& signer : signers) {
      absl::StatusOr<std::string> signed_bytes = SignEvent(bytes, signer);
      if (!signed_bytes.ok()) {
        return stop(kExitUsage,
                    absl::StrCat("line ", line, ": --sign-key: ", signed_bytes.status().message()));
      }
      bytes = *std::move(signed_bytes);
    }
    reporter.Expect(line > 0 ? absl::StrCat("line ", line) : "");
    // Validated by the writer, before anything of it is queued.
    absl::StatusOr<uint64_t> seq = (*writer)->Add(
        std::move(bytes), line > 0 ? absl::StrCat("line ", line, ": event") : "event");
    // A refused event's message; a writer stopped by an earlier batch is
    // reported by stop() itself.
    if (!seq.ok()) return stop(ExitCodeFor(seq.status()), std::string(seq.status().message()));
    return kExitOk;
  };

  if (from_flags) {
    absl::StatusOr<v1::InfraEvent> event = BuildEvent(args.event, absl::Now());
    if (!event.ok()) {
      err << "add: " << event.status().message() << "\n";
      return kExitUsage;
    }
    if (int rc = queue(SerializeEvent(*event), 0); rc != kExitOk) return rc;
    return stop(kExitOk, "");
  }

  uint64_t total_bytes = 0;
  if (!args.file.empty()) {
    struct stat st;
    if (stat(args.file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total_bytes = static_cast<uint64_t>(st.st_size);
    }
  }
  Progress progress(err, ProgressWanted(args.progress), total_bytes);
  std::string line;
  int line_no = 0;
  uint64_t bytes_read = 0;
  uint64_t events = 0;
  v1::InfraEvent event;
  while (std::getline(in, line)) {
    ++line_no;
    bytes_read += line.size() + 1;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::Status st = ParseEventJson(line, &event);
    if (!st.ok()) {
      progress.Finish();
      // protobuf's message may go on to quote the input over several lines.
      const absl::string_view why = st.message().substr(0, st.message().find('\n'));
      return stop(kExitUsage, absl::StrCat("line ", line_no, ": not an InfraEvent: ", why));
    }
    if (int rc = queue(SerializeEvent(event), line_no); rc != kExitOk) {
      progress.Finish();
      return rc;
    }
    progress.Update(++events, bytes_read);
  }
  const int rc = stop(kExitOk, "");
  progress.Finish();
  if (rc != kExitOk) return rc;
  return reporter.failure_exit();
}

}  // namespace infratrail::cli
