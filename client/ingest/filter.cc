#include "client/ingest/filter.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "verifier/policy/glob.h"
#include "verifier/policy/yaml_reader.h"

namespace infratrail::ingest {

using policy_internal::YamlFields;
using policy_internal::YamlReader;

struct EventFilter::Rule {
  std::string name;
  uint64_t kinds = 0;  // bit k: EventKind k; 0: any
  std::optional<GlobSet> actor, provider, type, id;
  std::vector<std::pair<std::string, GlobSet>> attributes;

  bool Matches(const v1::InfraEvent& e) const {
    if (kinds != 0) {
      // Proto enums are open: a kind past the mask's 64 bits is none of them.
      const int k = e.kind();
      if (k < 0 || k >= 64 || (kinds & (uint64_t{1} << k)) == 0) return false;
    }
    if (actor && !actor->Match(e.actor().principal())) return false;
    if (provider && !provider->Match(e.resource().provider())) return false;
    if (type && !type->Match(e.resource().type())) return false;
    if (id && !id->Match(e.resource().id())) return false;
    for (const auto& [key, globs] : attributes) {
      auto it = e.attributes().find(key);
      if (it == e.attributes().end() || !globs.Match(it->second)) return false;
    }
    return true;
  }
};

namespace {

constexpr size_t kMaxFilterFileBytes = 1 << 20;
constexpr size_t kMaxFilterRules = 1000;

// The default rules (docs/ingest.md): what a cluster's own machinery does
// all day, which says nothing about what people changed.
constexpr std::string_view kK8sDefaults = R"(rules:
  - name: system-controllers
    actor:
      - "system:node:*"
      - "system:kube-controller-manager"
      - "system:kube-scheduler"
      - "system:apiserver"
      - "system:serviceaccount:kube-system:*"
)";

class Loader {
 public:
  explicit Loader(const std::string& name) : r_(name) {}

  absl::Status Top(const YAML::Node& root, std::vector<std::unique_ptr<EventFilter::Rule>>* out) {
    if (!root.IsMap()) return r_.Error(root, "filter", "expected a map with rules");
    absl::StatusOr<YamlFields> f = r_.Fields(root, "", {"rules"});
    if (!f.ok()) return f.status();
    const YAML::Node* rules = f->Get("rules");
    if (rules == nullptr) return r_.Error(root, "rules", "missing");
    if (rules->IsNull()) return absl::OkStatus();  // `rules:` alone: no rules
    if (absl::Status s = r_.Sequence(*rules, "rules", kMaxFilterRules); !s.ok()) return s;
    absl::flat_hash_set<std::string> names;
    size_t i = 0;
    for (auto it = rules->begin(); it != rules->end(); ++it, ++i) {
      const std::string key = absl::StrCat("rules[", i, "]");
      absl::StatusOr<std::unique_ptr<EventFilter::Rule>> rule = Rule(*it, key);
      if (!rule.ok()) return rule.status();
      if (!names.insert((*rule)->name).second) {
        return r_.Error(*it, key + ".name", absl::StrCat("\"", (*rule)->name, "\" used twice"));
      }
      out->push_back(*std::move(rule));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::unique_ptr<EventFilter::Rule>> Rule(const YAML::Node& node,
                                                          const std::string& key) {
    absl::StatusOr<YamlFields> f = r_.Fields(node, key,
                                             {"name", "kind", "actor", "resource_provider",
                                              "resource_type", "resource_id", "attributes"});
    if (!f.ok()) return f.status();
    auto rule = std::make_unique<EventFilter::Rule>();
    const YAML::Node* name = f->Get("name");
    if (name == nullptr) return r_.Error(node, key + ".name", "missing");
    absl::StatusOr<std::string> n = r_.Name(*name, key + ".name");
    if (!n.ok()) return n.status();
    rule->name = *n;
    bool any = false;
    if (const YAML::Node* k = f->Get("kind")) {
      auto items = r_.StringList(*k, key + ".kind");
      if (!items.ok()) return items.status();
      for (const auto& [text, at] : *items) {
        v1::EventKind kind;
        if (!v1::EventKind_Parse(text, &kind) || kind == v1::EVENT_KIND_UNSPECIFIED) {
          return r_.Error(at, key + ".kind",
                          absl::StrCat("\"", text, "\" is not an event kind (PROVISION, ...)"));
        }
        rule->kinds |= uint64_t{1} << kind;
      }
      any = true;
    }
    const std::pair<const char*, std::optional<GlobSet>*> globs[] = {
        {"actor", &rule->actor},
        {"resource_provider", &rule->provider},
        {"resource_type", &rule->type},
        {"resource_id", &rule->id}};
    for (const auto& [field, out] : globs) {
      if (const YAML::Node* g = f->Get(field)) {
        absl::StatusOr<GlobSet> set = Globs(*g, absl::StrCat(key, ".", field));
        if (!set.ok()) return set.status();
        *out = *std::move(set);
        any = true;
      }
    }
    if (const YAML::Node* a = f->Get("attributes")) {
      if (!a->IsMap() || a->size() == 0) {
        return r_.Error(*a, key + ".attributes", "expected a map of attribute: [globs]");
      }
      for (auto it = a->begin(); it != a->end(); ++it) {
        absl::StatusOr<std::string> attr = r_.Name(it->first, key + ".attributes");
        if (!attr.ok()) return attr.status();
        absl::StatusOr<GlobSet> set = Globs(it->second, absl::StrCat(key, ".attributes.", *attr));
        if (!set.ok()) return set.status();
        rule->attributes.emplace_back(*attr, *std::move(set));
      }
      any = true;
    }
    if (!any) {
      return r_.Error(node, key,
                      "matches every event: give at least one of kind, actor, resource_provider, "
                      "resource_type, resource_id, attributes");
    }
    return rule;
  }

  absl::StatusOr<GlobSet> Globs(const YAML::Node& node, const std::string& key) {
    auto items = r_.StringList(node, key);
    if (!items.ok()) return items.status();
    GlobSet set;
    for (const auto& [pattern, at] : *items) {
      absl::StatusOr<Glob> g = Glob::Compile(pattern);
      if (!g.ok()) return r_.Error(at, key, g.status().message());
      set.Add(*std::move(g));
    }
    return set;
  }

  YamlReader r_;
};

}  // namespace

EventFilter::EventFilter() = default;
EventFilter::~EventFilter() = default;
EventFilter::EventFilter(EventFilter&&) noexcept = default;
EventFilter& EventFilter::operator=(EventFilter&&) noexcept = default;

absl::StatusOr<EventFilter> EventFilter::Parse(std::string_view yaml, const std::string& name) {
  EventFilter filter;
  Loader loader(name);
  try {
    // Every document, so that rules after a "---" (two files joined) are
    // refused rather than dropped without a word.
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml));
    for (size_t i = 1; i < docs.size(); ++i) {
      if (docs[i].IsNull()) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", docs[i].Mark().line + 1, ":", docs[i].Mark().column + 1,
                       ": filter: more than one YAML document (---): put every rule in the first"));
    }
    const YAML::Node root = docs.empty() ? YAML::Node() : docs[0];
    if (absl::Status s = loader.Top(root, &filter.rules_); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": malformed YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": malformed YAML: ", e.what()));
  }
  return filter;
}

absl::StatusOr<EventFilter> EventFilter::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBounded(path, kMaxFilterFileBytes);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat("--filter: ", text.status().message()));
  return Parse(*text, path);
}

EventFilter EventFilter::DefaultFor(std::string_view adapter) {
  if (adapter != "k8s-audit") return EventFilter();
  absl::StatusOr<EventFilter> f = Parse(kK8sDefaults, "default k8s-audit filter");
  return f.ok() ? *std::move(f) : EventFilter();
}

const std::string* EventFilter::Match(const v1::InfraEvent& event) const {
  for (const auto& r : rules_) {
    if (r->Matches(event)) return &r->name;
  }
  return nullptr;
}

std::vector<std::string> EventFilter::rule_names() const {
  std::vector<std::string> names;
  for (const auto& r : rules_) names.push_back(r->name);
  return names;
}

}  // namespace infratrail::ingest
