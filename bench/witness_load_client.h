// The load phase of infratrail-witness-load: replays a corpus
// (bench/witness_load_corpus.h) as POST /add-checkpoint requests over
// keep-alive HTTP/1.1 connections to a tlog-witness, from one thread with
// epoll, and measures what comes back.
//
// Log i belongs to connection i % connections, and a connection has one
// request in flight, so a log's requests go strictly in order: its next body
// is sent only after the previous one was answered with 200. A connection
// with several logs takes them in turn. A log whose request fails in any way
// (non-200, malformed answer, connection lost) sends nothing more: the rest
// of its bodies would only be refused.
#ifndef INFRATRAIL_BENCH_WITNESS_LOAD_CLIENT_H_
#define INFRATRAIL_BENCH_WITNESS_LOAD_CLIENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace infratrail::witness_load {

struct RunOptions {
  std::string addr;  // HOST:PORT, [v6]:PORT
  int connections = 100;
  absl::Duration duration = absl::Seconds(10);
  // If set, every verify_every-th 200 answer's cosignatures are checked
  // against this witness key (type 0x04, or 0x01 taken as its cosignature key).
  std::string witness_vkey;
  int verify_every = 100;
  // How long in-flight requests may take to finish after the run stops.
  absl::Duration drain = absl::Seconds(5);
};

struct RunFailure {
  int log = 0;
  int request = 0;  // index in the log's bodies
  int status = 0;   // HTTP status, 0 if there was no valid answer
  std::string detail;
};

struct RunResult {
  int connections = 0;
  int logs = 0;
  // "duration", "bodies" (a log ran out: re-run setup with more
  // --requests-per-log), "errors" (every log stopped after a failure).
  std::string stop_reason;
  uint64_t requests = 0;  // answered, whatever the status
  double seconds = 0;     // from the first send to the last answer
  std::map<int, uint64_t> status_counts;
  // Failures that are not an HTTP status: "transport" (connection lost with
  // a request in flight), "timeout" (unanswered at the end of the drain),
  // "bad_response" (malformed HTTP, or a 200 body that is not signature
  // lines), "bad_cosignature".
  std::map<std::string, uint64_t> errors;
  uint64_t cosignatures_verified = 0;
  std::vector<uint32_t> latencies_us;  // sorted, one per answered request
  double client_cpu_seconds = 0;       // this process, getrusage, during the run
  std::optional<RunFailure> first_failure;

  // True iff every request was answered 200 with valid signature lines.
  bool ok() const;
};

// Loads the corpus in `dir`, connects, runs until the duration passes or a
// log has no bodies left, and drains. Errors: the corpus cannot be read
// (as BodyFile::Open / ReadManifest), the address does not resolve or accept
// a connection before the run (Unavailable), bad options (InvalidArgument).
// What goes wrong during the run is counted in the result, not returned.
absl::StatusOr<RunResult> RunLoad(const std::string& dir, const RunOptions& options);

}  // namespace infratrail::witness_load

#endif  // INFRATRAIL_BENCH_WITNESS_LOAD_CLIENT_H_
