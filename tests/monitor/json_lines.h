// What the monitor and `policy test` print: one JSON object per line.
#ifndef INFRATRAIL_TESTS_MONITOR_JSON_LINES_H_
#define INFRATRAIL_TESTS_MONITOR_JSON_LINES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace infratrail::testing {

// Every line of `text` that parses as a JSON object.
inline std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    nlohmann::json j =
        nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_MONITOR_JSON_LINES_H_
