// Reading a yaml-cpp tree with errors that name the file, line, column and
// key: "FILE:LINE:COLUMN: KEY: what is wrong". Internal to the policy
// loader. yaml-cpp throws; callers run inside a try block that turns its
// exceptions into errors (policy_loader.cc), and these helpers never throw
// themselves.
#ifndef INFRATRAIL_VERIFIER_POLICY_YAML_READER_H_
#define INFRATRAIL_VERIFIER_POLICY_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {
namespace policy_internal {

// A map's entries, checked against the keys allowed there.
class YamlFields {
 public:
  // The value of `key`, or nullptr if the map does not have it.
  const YAML::Node* Get(absl::string_view key) const;

 private:
  friend class YamlReader;
  std::vector<std::pair<std::string, YAML::Node>> fields_;
};

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // InvalidArgument "FILE:LINE:COLUMN: KEY: what" at `mark` (1-based).
  absl::Status Error(const YAML::Mark& mark, absl::string_view key, absl::string_view what) const;
  absl::Status Error(const YAML::Node& at, absl::string_view key, absl::string_view what) const {
    return Error(at.Mark(), key, what);
  }

  // `node` must be a map whose keys are distinct scalars among `allowed`.
  absl::StatusOr<YamlFields> Fields(const YAML::Node& node, absl::string_view key,
                                    std::initializer_list<absl::string_view> allowed);
  // A scalar; valid UTF-8 (every string read from the file is, here and in
  // StringList: they end up in JSON findings).
  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view key) const;
  // Non-empty, without control characters: ids and names printed in reports.
  absl::StatusOr<std::string> Name(const YAML::Node& node, absl::string_view key) const;
  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view key) const;
  absl::StatusOr<int64_t> Int(const YAML::Node& node, absl::string_view key) const;
  // A non-empty sequence of scalars, or one scalar standing for a list of
  // one. Each item comes with its node, for errors about it.
  absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> StringList(const YAML::Node& node,
                                                                             absl::string_view key);
  // A non-empty sequence (for lists of maps).
  absl::Status Sequence(const YAML::Node& node, absl::string_view key, size_t max_items);

  const std::string& file() const { return file_; }

 private:
  // Counts list items and map keys against kMaxPolicyYamlNodes: aliases let
  // a small file name the same large list many times.
  absl::Status Visit(const YAML::Node& at, absl::string_view key, size_t n);

  std::string file_;
  size_t visited_ = 0;
};

}  // namespace policy_internal
}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_YAML_READER_H_
