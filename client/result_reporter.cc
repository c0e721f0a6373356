#include "client/result_reporter.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "core/hash.h"
#include "nlohmann/json.hpp"

namespace infratrail::cli {

void AppendResultLine(const AddResult& r, const std::string* position, std::string* out) {
  // Built around nlohmann's string escaping (a file name that is not UTF-8
  // gets U+FFFD): a JSON object per entry cost as much as mapping the
  // record.
  absl::StrAppend(out, "{\"index\":", r.index, ",\"leaf_hash\":\"", HashToBase64(r.leaf_hash),
                  "\",\"duplicate\":", r.duplicate ? "true" : "false");
  if (position != nullptr) {
    absl::StrAppend(
        out, ",\"source_position\":",
        nlohmann::json(*position).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  *out += "}\n";
}

ResultReporter::ResultReporter(std::ostream& out, std::ostream& err, Options options)
    : out_(out), err_(err), options_(std::move(options)), failure_exit_(kExitOk) {}

void ResultReporter::Expect(std::string position) {
  absl::MutexLock lock(&mu_);
  positions_.push_back(std::move(position));
}

std::string ResultReporter::NextUnreported() {
  absl::MutexLock lock(&mu_);
  return positions_.empty() ? "" : positions_.front();
}

int ResultReporter::failure_exit() {
  absl::MutexLock lock(&mu_);
  return failure_exit_;
}

void ResultReporter::Report(absl::Span<const AddResult> results) {
  std::string text;
  text.reserve(results.size() * (options_.print_position ? 160 : 100));
  absl::MutexLock lock(&mu_);
  for (const AddResult& r : results) {
    std::string position = std::move(positions_.front());
    positions_.pop_front();
    if (options_.on_result) options_.on_result(r);
    if (r.receipt.has_value() && !options_.receipt_dir.empty()) {
      const std::string path = absl::StrCat(options_.receipt_dir, "/", r.index, ".tlog-proof");
      const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << r.receipt->Format();
      f.close();
      std::error_code ec;
      if (f) std::filesystem::rename(tmp, path, ec);
      if (!f || ec) {
        err_ << options_.command << ": " << (position.empty() ? "" : position + ": ")
             << "--receipt-dir: cannot write " << path << "\n";
        if (failure_exit_ == kExitOk) failure_exit_ = kExitUsage;
      }
    }
    AppendResultLine(r, options_.print_position ? &position : nullptr, &text);
  }
  out_ << text;
  out_.flush();
}

}  // namespace infratrail::cli
