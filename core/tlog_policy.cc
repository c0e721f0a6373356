#include "core/tlog_policy.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

// One item of a line and the 1-based column it starts at.
struct Item {
  absl::string_view text;
  size_t column;
};

std::vector<Item> SplitItems(absl::string_view line) {
  std::vector<Item> items;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) items.push_back(Item{line.substr(start, i - start), start + 1});
  }
  return items;
}

bool IsCheckpointKey(SigType t) {
  return t == SigType::kEd25519 || t == SigType::kEcdsa || t == SigType::kRfc6962TreeHead;
}

}  // namespace

absl::StatusOr<TlogPolicy> TlogPolicy::Parse(absl::string_view text, absl::string_view source) {
  TlogPolicy policy;
  size_t line_no = 0;
  auto error = [&](size_t column, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ":", column, ": ", what));
  };
  if (text.size() > kMaxPolicyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than the limit of ", kMaxPolicyBytes, " bytes"));
  }
  // Names of witnesses and groups -> node index (witnesses first).
  absl::flat_hash_map<std::string, int> names;
  absl::flat_hash_set<int> used_as_member;
  absl::flat_hash_set<std::string> log_keys, witness_keys;
  bool have_quorum = false;
  std::vector<Group> groups;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size();
    const absl::string_view line = text.substr(start, end - start);
    ++line_no;
    start = end + 1;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c != '\t' && (c < 0x20 || c == 0x7f)) {
        return error(i + 1, absl::StrCat("control character 0x", absl::Hex(c, absl::kZeroPad2),
                                         " (only tab and newline are allowed)"));
      }
    }
    const std::vector<Item> items = SplitItems(line);
    if (items.empty() || items[0].text[0] == '#') continue;
    const absl::string_view keyword = items[0].text;
    auto define = [&](const Item& name) -> absl::Status {
      if (name.text == "none") return error(name.column, "the name \"none\" is reserved");
      if (names.contains(name.text)) {
        return error(name.column, absl::StrCat("\"", name.text, "\" is already defined"));
      }
      return absl::OkStatus();
    };
    if (keyword == "log") {
      if (items.size() < 2 || items.size() > 3) {
        return error(items[0].column, "expected \"log <vkey> [<url>]\"");
      }
      absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(items[1].text);
      if (!key.ok()) return error(items[1].column, absl::StrCat("vkey: ", key.status().message()));
      if (!IsCheckpointKey(key->type())) {
        return error(items[1].column,
                     "a log key must be a checkpoint signing key (type 0x01, "
                     "0x02 or 0x05), not a cosignature key");
      }
      if (!log_keys.insert(key->public_key()).second) {
        return error(items[1].column, "a log with this public key is already listed");
      }
      if (policy.logs_.size() == kMaxPolicyLogs) {
        return error(items[0].column, absl::StrCat("more than ", kMaxPolicyLogs, " logs"));
      }
      policy.logs_.push_back(TlogPolicyLog{
          *std::move(key), items.size() == 3 ? std::string(items[2].text) : std::string()});
    } else if (keyword == "witness") {
      if (items.size() < 3 || items.size() > 4) {
        return error(items[0].column, "expected \"witness <name> <vkey> [<url>]\"");
      }
      if (absl::Status s = define(items[1]); !s.ok()) return s;
      absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(items[2].text);
      if (!key.ok()) return error(items[2].column, absl::StrCat("vkey: ", key.status().message()));
      if (key->type() == SigType::kEd25519) key = key->AsCosignatureVerifier();
      if (!key.ok() || key->type() != SigType::kCosignatureV1) {
        return error(items[2].column,
                     "a witness key must be a cosignature/v1 key (type 0x04, or "
                     "an Ed25519 0x01 key)");
      }
      if (!witness_keys.insert(key->public_key()).second) {
        return error(items[2].column, "a witness with this public key is already listed");
      }
      if (policy.witnesses_.size() == kMaxPolicyWitnesses) {
        return error(items[0].column,
                     absl::StrCat("more than ", kMaxPolicyWitnesses, " witnesses"));
      }
      names[items[1].text] = static_cast<int>(policy.witnesses_.size());
      policy.witnesses_.push_back(
          TlogPolicyWitness{std::string(items[1].text), *std::move(key),
                            items.size() == 4 ? std::string(items[3].text) : std::string()});
    } else if (keyword == "group") {
      if (items.size() < 4) {
        return error(items[0].column, "expected \"group <name> all|any|<k> <member>...\"");
      }
      if (absl::Status s = define(items[1]); !s.ok()) return s;
      if (groups.size() == kMaxPolicyGroups) {
        return error(items[0].column, absl::StrCat("more than ", kMaxPolicyGroups, " groups"));
      }
      Group g;
      g.name = std::string(items[1].text);
      absl::flat_hash_set<int> here;
      for (size_t m = 3; m < items.size(); ++m) {
        if (items[m].text == "none") {
          return error(items[m].column, "\"none\" cannot be a group member");
        }
        auto it = names.find(items[m].text);
        if (it == names.end()) {
          return error(items[m].column,
                       absl::StrCat("\"", items[m].text, "\" is not defined on an earlier line"));
        }
        if (!here.insert(it->second).second || !used_as_member.insert(it->second).second) {
          return error(items[m].column, absl::StrCat("\"", items[m].text,
                                                     "\" is already a group member (a name may "
                                                     "be a member once in the whole policy)"));
        }
        g.members.push_back(it->second);
      }
      const absl::string_view k = items[2].text;
      const size_t n = g.members.size();
      if (k == "all") {
        g.k = n;
      } else if (k == "any") {
        g.k = 1;
      } else if (k.empty() ||
                 !std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
                 !absl::SimpleAtoi(k, &g.k)) {
        return error(items[2].column,
                     absl::StrCat("threshold \"", k, "\": expected all, any or a decimal number"));
      } else if (g.k < 1 || g.k > n) {
        return error(items[2].column,
                     absl::StrCat("threshold ", k, " is not between 1 and the ", n, " members"));
      }
      names[items[1].text] = static_cast<int>(kMaxPolicyWitnesses + groups.size());
      groups.push_back(std::move(g));
    } else if (keyword == "quorum") {
      if (items.size() != 2) return error(items[0].column, "expected \"quorum <name>|none\"");
      if (have_quorum) return error(items[0].column, "a second quorum line");
      have_quorum = true;
      if (items[1].text == "none") {
        policy.quorum_ = -1;
      } else {
        auto it = names.find(items[1].text);
        if (it == names.end()) {
          return error(items[1].column,
                       absl::StrCat("\"", items[1].text, "\" is not defined on an earlier line"));
        }
        policy.quorum_ = it->second;
      }
    } else {
      return error(items[0].column, absl::StrCat("unknown keyword \"", keyword,
                                                 "\" (expected log, witness, group or quorum)"));
    }
  }
  if (!have_quorum) return absl::InvalidArgumentError(absl::StrCat(source, ": no quorum line"));
  // Group nodes were numbered from kMaxPolicyWitnesses; renumber them to
  // follow the witnesses.
  const int shift = static_cast<int>(kMaxPolicyWitnesses - policy.witnesses_.size());
  auto renumber = [&](int node) {
    return node >= static_cast<int>(kMaxPolicyWitnesses) ? node - shift : node;
  };
  for (Group& g : groups) {
    for (int& m : g.members) m = renumber(m);
  }
  if (policy.quorum_ >= 0) policy.quorum_ = renumber(policy.quorum_);
  policy.groups_ = std::move(groups);
  return policy;
}

bool TlogPolicy::NodeSatisfied(int node, const absl::flat_hash_set<std::string>& cosigned) const {
  if (node < static_cast<int>(witnesses_.size())) {
    return cosigned.contains(witnesses_[static_cast<size_t>(node)].name);
  }
  const Group& g = groups_[static_cast<size_t>(node) - witnesses_.size()];
  size_t met = 0;
  for (int m : g.members) met += NodeSatisfied(m, cosigned) ? 1 : 0;
  return met >= g.k;
}

bool TlogPolicy::Satisfied(const absl::flat_hash_set<std::string>& cosigned) const {
  return quorum_ < 0 || NodeSatisfied(quorum_, cosigned);
}

}  // namespace infratrail
