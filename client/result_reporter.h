// The results of a BatchWriter run as `add` and `ingest` print them: one
// JSON line per logged entry, in input order, once durable
// ({"index","leaf_hash","duplicate"}, and "source_position" when asked),
// and with a receipt directory a verified <index>.tlog-proof file each.
#ifndef INFRATRAIL_CLIENT_RESULT_REPORTER_H_
#define INFRATRAIL_CLIENT_RESULT_REPORTER_H_

#include <deque>
#include <functional>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "client/log_client.h"

namespace infratrail::cli {

// Appends the result line of `r` ({"index","leaf_hash","duplicate"}, and
// "source_position" when `position` is given) and a newline to `out`.
void AppendResultLine(const AddResult& r, const std::string* position, std::string* out);

class ResultReporter {
 public:
  struct Options {
    std::string command = "";      // "add", "ingest": starts each message on err
    std::string receipt_dir = "";  // where receipts go; empty: none written
    bool print_position = false;   // add "source_position" to each line
    // Called for each result, in input order (say, to count it).
    std::function<void(const AddResult&)> on_result = nullptr;
  };

  ResultReporter(std::ostream& out, std::ostream& err, Options options);

  // Registers the next entry, by where it came from ("line 5",
  // "trail.json.gz:1:Records[3]"; may be empty): call before queuing it.
  void Expect(std::string position);

  // Where the first entry not yet reported came from ("" when none).
  std::string NextUnreported();

  // BatchWriter's result callback: prints `results`, the next entries
  // registered, and writes their receipts. A receipt is written atomically
  // (temporary file, rename) but not fsync'd: a lost one is fetched again
  // with `prove`. One that cannot be written is named on err and makes
  // failure_exit() kExitUsage.
  void Report(absl::Span<const AddResult> results);

  // kExitOk, or the exit code of the first failure Report met.
  int failure_exit();

 private:
  std::ostream& out_;
  std::ostream& err_;
  const Options options_;
  absl::Mutex mu_;
  std::deque<std::string> positions_ ABSL_GUARDED_BY(mu_);
  int failure_exit_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_RESULT_REPORTER_H_
