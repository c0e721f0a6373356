#include "verifier/policy/yaml_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "verifier/policy/policy.h"

namespace infratrail {
namespace policy_internal {
namespace {

absl::string_view TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
  }
  return "something else";
}

// RFC 3629: no overlong forms, surrogates or code points above U+10FFFF.
// Strings of the policy end up in findings, which are JSON: a byte that is
// not UTF-8 would make writing the first one fail, again after every restart.
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t more = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xe0) == 0xc0) {
      more = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      more = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      more = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i - 1 < more) return false;
    for (size_t k = 1; k <= more; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += more + 1;
  }
  return true;
}

constexpr absl::string_view kNotUtf8 = "is not valid UTF-8 (save the file as UTF-8)";

}  // namespace

const YAML::Node* YamlFields::Get(absl::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return &v;
  }
  return nullptr;
}

absl::Status YamlReader::Error(const YAML::Mark& mark, absl::string_view key,
                               absl::string_view what) const {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  const int column = mark.is_null() ? 1 : mark.column + 1;
  return absl::InvalidArgumentError(
      absl::StrCat(file_, ":", line, ":", column, ": ", key, ": ", what));
}

absl::Status YamlReader::Visit(const YAML::Node& at, absl::string_view key, size_t n) {
  visited_ += n;
  if (visited_ > kMaxPolicyYamlNodes) {
    return Error(at, key,
                 absl::StrCat("the policy has more than ", kMaxPolicyYamlNodes,
                              " list items and keys (counting each use of an alias)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<YamlFields> YamlReader::Fields(const YAML::Node& node, absl::string_view key,
                                              std::initializer_list<absl::string_view> allowed) {
  if (!node.IsMap())
    return Error(node, key, absl::StrCat("expected a map, found ", TypeName(node)));
  if (absl::Status s = Visit(node, key, node.size()); !s.ok()) return s;
  YamlFields out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) return Error(k, key, absl::StrCat("a key is ", TypeName(k)));
    const std::string& name = k.Scalar();
    const std::string path = key.empty() ? name : absl::StrCat(key, ".", name);
    bool known = false;
    for (absl::string_view a : allowed) known = known || a == name;
    if (!known) {
      return Error(k, path,
                   absl::StrCat("unknown key; expected one of ", absl::StrJoin(allowed, ", ")));
    }
    if (out.Get(name) != nullptr) return Error(k, path, "duplicate key");
    out.fields_.emplace_back(name, it->second);
  }
  return out;
}

absl::StatusOr<std::string> YamlReader::String(const YAML::Node& node,
                                               absl::string_view key) const {
  if (!node.IsScalar())
    return Error(node, key, absl::StrCat("expected a string, found ", TypeName(node)));
  if (!IsUtf8(node.Scalar())) return Error(node, key, kNotUtf8);
  return node.Scalar();
}

absl::StatusOr<std::string> YamlReader::Name(const YAML::Node& node, absl::string_view key) const {
  absl::StatusOr<std::string> s = String(node, key);
  if (!s.ok()) return s;
  if (s->empty()) return Error(node, key, "is empty");
  for (char c : *s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error(node, key, "holds a control character");
  }
  return s;
}

absl::StatusOr<bool> YamlReader::Bool(const YAML::Node& node, absl::string_view key) const {
  bool b = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, b))
    return Error(node, key, "expected true or false");
  return b;
}

absl::StatusOr<int64_t> YamlReader::Int(const YAML::Node& node, absl::string_view key) const {
  int64_t v = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, v))
    return Error(node, key, "expected an integer");
  return v;
}

absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> YamlReader::StringList(
    const YAML::Node& node, absl::string_view key) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (node.IsScalar()) {
    if (!IsUtf8(node.Scalar())) return Error(node, key, kNotUtf8);
    out.emplace_back(node.Scalar(), node);
    return out;
  }
  if (!node.IsSequence()) {
    return Error(node, key,
                 absl::StrCat("expected a string or a list of strings, found ", TypeName(node)));
  }
  if (node.size() == 0) return Error(node, key, "empty list");
  if (absl::Status s = Visit(node, key, node.size()); !s.ok()) return s;
  out.reserve(node.size());
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    const YAML::Node item = *it;
    if (!item.IsScalar()) {
      return Error(item, absl::StrCat(key, "[", i, "]"),
                   absl::StrCat("expected a string, found ", TypeName(item)));
    }
    if (!IsUtf8(item.Scalar())) return Error(item, absl::StrCat(key, "[", i, "]"), kNotUtf8);
    out.emplace_back(item.Scalar(), item);
  }
  return out;
}

absl::Status YamlReader::Sequence(const YAML::Node& node, absl::string_view key, size_t max_items) {
  if (!node.IsSequence())
    return Error(node, key, absl::StrCat("expected a list, found ", TypeName(node)));
  if (node.size() > max_items)
    return Error(node, key,
                 absl::StrCat(node.size(), " items, more than the limit of ", max_items));
  return Visit(node, key, node.size());
}

}  // namespace policy_internal
}  // namespace infratrail
