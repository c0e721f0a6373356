// `infratrail ingest SOURCE`: audit trails operators already have, logged as
// InfraEvents (docs/ingest.md). Records come from files (gzipped or not),
// stdin, or with k8s-audit --listen from the Kubernetes audit webhook; each
// is mapped by the source's adapter (client/ingest/), filtered, signed with
// --sign-key, and sent through the same BatchWriter as `add`. One
// {"index","leaf_hash","duplicate","source_position"} line per logged event
// on stdout, in input order, once durable; skipped, unmapped and unreadable
// records are counted, listed on stderr and summed up at the end.
#ifndef INFRATRAIL_CLIENT_INGEST_COMMAND_H_
#define INFRATRAIL_CLIENT_INGEST_COMMAND_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli_common.h"
#include "client/ingest/adapters.h"
#include "proto/limits.h"

namespace infratrail::cli {

struct IngestArgs {
  ConnectionFlags conn;
  bool timeouts_given = false;  // --timeout or --retry-for on the command line
  std::string source;
  std::vector<std::string> files;  // none: stdin; "-" is stdin too
  ingest::MapperOptions mapper;
  // deploy
  std::vector<std::string> images;
  std::string environment;
  std::string occurred_at;
  // k8s-audit webhook
  std::string listen;
  std::string tls_cert, tls_key;
  size_t max_body_bytes = size_t{32} << 20;
  int workers = 4;
  unsigned max_connections = 32;  // --listen: memory is bounded by this × max_body_bytes
  // Filtering and errors.
  std::string filter;
  bool no_filter = false;
  bool strict = false;
  bool dry_run = false;
  size_t report_unmapped = 100;
  // Reading bounds.
  size_t max_record_bytes = size_t{16} << 20;
  size_t max_document_bytes = size_t{256} << 20;
  uint64_t max_decompressed_bytes = uint64_t{4} << 30;
  // Sending, as for `add`.
  std::vector<std::string> sign_keys;
  bool wait = false;
  std::string receipt_dir;
  size_t batch = kMaxEntriesPerAdd;
  size_t in_flight = 4;
  std::string linger = "5ms";
  std::string progress = "auto";
};

CLI::App* AddIngestCommand(CLI::App* app, IngestArgs* args);

// Runs it (stdin is file descriptor 0). Exit codes: 0 done (unmapped records are counted
// and listed, not an error, unless --strict), 1 verification failure, 2 bad
// flags or input (with --strict, the first unmapped or unreadable record),
// 3 server or network error.
int RunIngest(const IngestArgs& args, std::ostream& out, std::ostream& err);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_INGEST_COMMAND_H_
