// Policy::Load and Policy::Parse: the YAML file (policy.h) compiled into
// CompiledRules. Every check on the file happens here, so that Evaluate
// meets only rules that make sense. yaml-cpp throws; its exceptions are
// caught in Loader::Run and go no further.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/io/file_util.h"
#include "verifier/policy/policy_impl.h"
#include "verifier/policy/yaml_reader.h"

namespace infratrail {
namespace policy_internal {
namespace {

// As client/key_arg.h's limit for key files: keys are ~100 bytes.
constexpr size_t kMaxPolicyKeyFileBytes = 64 << 10;

// Finds whether the text holds a second document, without building it.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { mark_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  const YAML::Mark& mark() const { return mark_; }

 private:
  YAML::Mark mark_;
};

// The names a rule's violations can carry, for checking exceptions.
std::vector<absl::string_view> RequirementNames(const CompiledRule& r) {
  std::vector<absl::string_view> names;
  if (r.justification) names.push_back("justification");
  if (r.ticket) names.push_back("ticket");
  if (r.require_vias != 0) names.push_back("via");
  if (r.require_actor.given) names.push_back("actor");
  if (r.digests != nullptr) names.push_back("artifact_digest_in");
  if (r.signatures.has_value()) names.push_back("signatures");
  if (r.source_in_repo.has_value()) names.push_back("source_in_repo");
  if (r.deprovision_follows_provision) names.push_back("deprovision_follows_provision");
  if (r.notify) names.push_back("notify");
  return names;
}

class Loader {
 public:
  Loader(const std::string& name, const std::string& dir, const PolicyOptions& options)
      : r_(name), dir_(dir), options_(options), policy_(std::make_unique<PolicyImpl>()) {
    policy_->options_ = options;
  }

  absl::StatusOr<std::unique_ptr<PolicyImpl>> Run(absl::string_view yaml) {
    if (yaml.size() > kMaxPolicyFileBytes) {
      return r_.Error(
          YAML::Mark::null_mark(), "policy",
          absl::StrCat(yaml.size(), " bytes, more than the limit of ", kMaxPolicyFileBytes));
    }
    const std::string text(yaml);
    try {
      // YAML::Load and not LoadAll, which can loop forever on some inputs: a
      // second document is found by asking the parser for exactly one more.
      const YAML::Node root = YAML::Load(text);
      std::istringstream in(text);
      YAML::Parser parser(in);
      DocumentCounter docs;
      if (parser.HandleNextDocument(docs) && parser.HandleNextDocument(docs))
        return r_.Error(docs.mark(), "policy", "more than one YAML document");
      if (absl::Status s = Top(root); !s.ok()) return s;
    } catch (const YAML::Exception& e) {
      return r_.Error(e.mark, "malformed YAML", e.msg);
    } catch (const std::exception& e) {
      return r_.Error(YAML::Mark::null_mark(), "malformed YAML", e.what());
    }
    return std::move(policy_);
  }

 private:
  // Lexically normal, so that rules naming one file differently ("a.txt",
  // "./a.txt") share it.
  std::string Resolve(absl::string_view path) const {
    std::filesystem::path p{std::string(path)};
    if (!dir_.empty() && p.is_relative()) p = std::filesystem::path(dir_) / p;
    return p.lexically_normal().string();
  }

  absl::Status Top(const YAML::Node& root) {
    if (!root.IsMap()) return r_.Error(root, "policy", "expected a map with version and rules");
    absl::StatusOr<YamlFields> f = r_.Fields(root, "", {"version", "rules", "exceptions"});
    if (!f.ok()) return f.status();
    const YAML::Node* version = f->Get("version");
    if (version == nullptr) return r_.Error(root, "version", "missing; this format is version: 1");
    absl::StatusOr<int64_t> v = r_.Int(*version, "version");
    if (!v.ok()) return v.status();
    if (*v != 1) return r_.Error(*version, "version", absl::StrCat(*v, " is not 1"));

    const YAML::Node* rules = f->Get("rules");
    if (rules == nullptr) return r_.Error(root, "rules", "missing");
    if (absl::Status s = r_.Sequence(*rules, "rules", kMaxPolicyRules); !s.ok()) return s;
    if (rules->size() == 0) return r_.Error(*rules, "rules", "empty list");
    size_t i = 0;
    for (auto it = rules->begin(); it != rules->end(); ++it, ++i) {
      if (absl::Status s = Rule(*it, absl::StrCat("rules[", i, "]")); !s.ok()) return s;
    }

    if (const YAML::Node* ex = f->Get("exceptions")) {
      if (ex->IsNull()) return absl::OkStatus();
      if (absl::Status s = r_.Sequence(*ex, "exceptions", kMaxPolicyExceptions); !s.ok()) return s;
      i = 0;
      for (auto it = ex->begin(); it != ex->end(); ++it, ++i) {
        if (absl::Status s = Exception(*it, absl::StrCat("exceptions[", i, "]")); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Rule(const YAML::Node& node, const std::string& key) {
    absl::StatusOr<YamlFields> f =
        r_.Fields(node, key, {"id", "severity", "description", "match", "require", "notify"});
    if (!f.ok()) return f.status();
    CompiledRule rule;
    const YAML::Node* id = f->Get("id");
    if (id == nullptr) return r_.Error(node, key + ".id", "missing");
    absl::StatusOr<std::string> name = r_.Name(*id, key + ".id");
    if (!name.ok()) return name.status();
    if (auto it = rule_index_.find(*name); it != rule_index_.end()) {
      return r_.Error(
          *id, key + ".id",
          absl::StrCat("duplicate rule id \"", *name, "\" (also rules[", it->second, "])"));
    }
    rule.id = *name;
    if (const YAML::Node* sev = f->Get("severity")) {
      absl::StatusOr<std::string> s = r_.String(*sev, key + ".severity");
      if (!s.ok()) return s.status();
      if (*s == "ALERT") {
        rule.severity = PolicySeverity::kAlert;
      } else if (*s == "WARNING") {
        rule.severity = PolicySeverity::kWarning;
      } else {
        return r_.Error(*sev, key + ".severity",
                        absl::StrCat("\"", absl::CEscape(*s), "\" is not ALERT or WARNING"));
      }
    }
    if (const YAML::Node* d = f->Get("description")) {
      absl::StatusOr<std::string> s = r_.String(*d, key + ".description");
      if (!s.ok()) return s.status();
      rule.description = *s;
    }
    if (const YAML::Node* m = f->Get("match")) {
      if (absl::Status s = Match(*m, key + ".match", &rule); !s.ok()) return s;
    }
    if (const YAML::Node* req = f->Get("require")) {
      if (absl::Status s = Require(*req, key + ".require", &rule); !s.ok()) return s;
    }
    if (const YAML::Node* n = f->Get("notify")) {
      absl::StatusOr<bool> b = r_.Bool(*n, key + ".notify");
      if (!b.ok()) return b.status();
      rule.notify = *b;
    }
    if (RequirementNames(rule).empty()) {
      return r_.Error(node, key,
                      absl::StrCat("rule \"", rule.id,
                                   "\" has neither a requirement in force nor notify: true"));
    }
    rule_index_[rule.id] = policy_->rules_.size();
    policy_->rules_.push_back(std::move(rule));
    return absl::OkStatus();
  }

  absl::Status Match(const YAML::Node& node, const std::string& key, CompiledRule* rule) {
    absl::StatusOr<YamlFields> f = r_.Fields(
        node, key, {"kind", "resource_provider", "resource_type", "resource_id", "via", "actor"});
    if (!f.ok()) return f.status();
    if (const YAML::Node* n = f->Get("kind")) {
      if (absl::Status s = Enum(*n, key + ".kind", true, &rule->kinds, nullptr); !s.ok()) return s;
    }
    if (const YAML::Node* n = f->Get("via")) {
      if (absl::Status s = Enum(*n, key + ".via", false, &rule->vias, nullptr); !s.ok()) return s;
    }
    const std::pair<const char*, GlobMatch*> globs[] = {{"resource_provider", &rule->provider},
                                                        {"resource_type", &rule->type},
                                                        {"resource_id", &rule->resource_id},
                                                        {"actor", &rule->actor}};
    for (const auto& [name, out] : globs) {
      if (const YAML::Node* n = f->Get(name)) {
        if (absl::Status s = Globs(*n, absl::StrCat(key, ".", name), out); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // EventKind (kinds) or Channel names to a bitmask, bit k for value k.
  absl::Status Enum(const YAML::Node& node, const std::string& key, bool kinds, uint64_t* mask,
                    std::string* text) {
    auto items = r_.StringList(node, key);
    if (!items.ok()) return items.status();
    std::vector<std::string> names;
    for (const auto& [name, at] : *items) {
      int value = 0;
      if (kinds) {
        v1::EventKind k;
        if (v1::EventKind_Parse(name, &k)) value = k;
      } else {
        v1::Channel c;
        if (v1::Channel_Parse(name, &c)) value = c;
      }
      if (value <= 0 || value >= 64) {
        return r_.Error(at, key,
                        absl::StrCat("unknown ", kinds ? "event kind" : "channel", " \"",
                                     absl::CEscape(name), "\"; expected one of ",
                                     kinds ? "PROVISION, DEPROVISION, ACCESS, DEPLOY, "
                                             "CONFIG_CHANGE, KEY_CREATE, KEY_ROTATE, "
                                             "KEY_RECOVERY, BREAK_GLASS, KEY_DESTROY"
                                           : "CONSOLE, IAC, CI, API"));
      }
      *mask |= uint64_t{1} << value;
      names.push_back(name);
    }
    if (text != nullptr) *text = absl::StrJoin(names, ", ");
    return absl::OkStatus();
  }

  absl::Status Globs(const YAML::Node& node, const std::string& key, GlobMatch* out) {
    auto items = r_.StringList(node, key);
    if (!items.ok()) return items.status();
    for (const auto& [pattern, at] : *items) {
      absl::StatusOr<Glob> g = Glob::Compile(pattern);
      if (!g.ok()) return r_.Error(at, key, g.status().message());
      out->globs.Add(*std::move(g));
    }
    out->given = true;
    return absl::OkStatus();
  }

  absl::Status Require(const YAML::Node& node, const std::string& key, CompiledRule* rule) {
    absl::StatusOr<YamlFields> f =
        r_.Fields(node, key,
                  {"justification", "ticket", "via", "actor", "artifact_digest_in", "signatures",
                   "source_in_repo", "deprovision_follows_provision"});
    if (!f.ok()) return f.status();
    const std::pair<const char*, bool*> flags[] = {
        {"justification", &rule->justification},
        {"ticket", &rule->ticket},
        {"deprovision_follows_provision", &rule->deprovision_follows_provision}};
    for (const auto& [name, out] : flags) {
      if (const YAML::Node* n = f->Get(name)) {
        absl::StatusOr<bool> b = r_.Bool(*n, absl::StrCat(key, ".", name));
        if (!b.ok()) return b.status();
        *out = *b;
      }
    }
    if (const YAML::Node* n = f->Get("via")) {
      if (absl::Status s =
              Enum(*n, key + ".via", false, &rule->require_vias, &rule->require_vias_text);
          !s.ok())
        return s;
    }
    if (const YAML::Node* n = f->Get("actor")) {
      if (absl::Status s = Globs(*n, key + ".actor", &rule->require_actor); !s.ok()) return s;
    }
    if (const YAML::Node* n = f->Get("artifact_digest_in")) {
      if (absl::Status s = Digests(*n, key + ".artifact_digest_in", rule); !s.ok()) return s;
    }
    if (const YAML::Node* n = f->Get("signatures")) {
      if (absl::Status s = Signatures(*n, key + ".signatures", rule); !s.ok()) return s;
    }
    if (const YAML::Node* n = f->Get("source_in_repo")) {
      if (absl::Status s = Repo(*n, key + ".source_in_repo", rule); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Digests(const YAML::Node& node, const std::string& key, CompiledRule* rule) {
    absl::StatusOr<std::string> path = r_.Name(node, key);
    if (!path.ok()) return path.status();
    const std::string resolved = Resolve(*path);
    if (auto it = allowlists_.find(resolved); it != allowlists_.end()) {
      rule->digests = it->second;
      return absl::OkStatus();
    }
    absl::StatusOr<DigestAllowlist> list = DigestAllowlist::Load(resolved);
    if (!list.ok()) return r_.Error(node, key, list.status().message());
    policy_->allowlists_.push_back(std::make_unique<DigestAllowlist>(*std::move(list)));
    rule->digests = allowlists_[resolved] = policy_->allowlists_.back().get();
    return absl::OkStatus();
  }

  absl::Status Signatures(const YAML::Node& node, const std::string& key, CompiledRule* rule) {
    absl::StatusOr<YamlFields> f = r_.Fields(node, key, {"keys", "at_least"});
    if (!f.ok()) return f.status();
    const YAML::Node* keys = f->Get("keys");
    if (keys == nullptr) return r_.Error(node, key + ".keys", "missing");
    auto items = r_.StringList(*keys, key + ".keys");
    if (!items.ok()) return items.status();
    SignatureRequirement req;
    for (const auto& [arg, at] : *items) {
      std::string text = arg;
      if (absl::StartsWith(arg, "@")) {
        absl::StatusOr<std::string> file =
            ReadRegularFileBounded(Resolve(arg.substr(1)), kMaxPolicyKeyFileBytes);
        if (!file.ok()) return r_.Error(at, key + ".keys", file.status().message());
        text = *file;
      }
      absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(absl::StripAsciiWhitespace(text));
      if (!v.ok()) {
        return r_.Error(at, key + ".keys",
                        absl::StrCat("key \"", absl::CEscape(arg.substr(0, 128)),
                                     "\" does not parse: ", v.status().message()));
      }
      if (v->type() != SigType::kEd25519)
        return r_.Error(at, key + ".keys",
                        absl::StrCat("key ", v->name(), " is not Ed25519 (type 0x01)"));
      for (const NoteVerifier& o : req.keys) {
        if (o.name() == v->name() && o.key_id() == v->key_id())
          return r_.Error(at, key + ".keys", absl::StrCat("key ", v->name(), " is listed twice"));
      }
      req.keys.push_back(*std::move(v));
    }
    req.at_least = req.keys.size();
    if (const YAML::Node* n = f->Get("at_least")) {
      absl::StatusOr<int64_t> v = r_.Int(*n, key + ".at_least");
      if (!v.ok()) return v.status();
      if (*v < 1 || static_cast<uint64_t>(*v) > req.keys.size()) {
        return r_.Error(*n, key + ".at_least",
                        absl::StrCat(*v, " is not between 1 and the ", req.keys.size(), " keys"));
      }
      req.at_least = static_cast<size_t>(*v);
    }
    rule->signatures = std::move(req);
    return absl::OkStatus();
  }

  absl::Status Repo(const YAML::Node& node, const std::string& key, CompiledRule* rule) {
    absl::StatusOr<YamlFields> f =
        r_.Fields(node, key, {"repository", "clone", "ref", "declares_resource"});
    if (!f.ok()) return f.status();
    RepoRequirement req;
    const std::pair<const char*, std::string*> required[] = {
        {"repository", &req.repository}, {"clone", &req.clone}, {"ref", &req.ref}};
    for (const auto& [name, out] : required) {
      const YAML::Node* n = f->Get(name);
      if (n == nullptr) return r_.Error(node, absl::StrCat(key, ".", name), "missing");
      absl::StatusOr<std::string> s = r_.Name(*n, absl::StrCat(key, ".", name));
      if (!s.ok()) return s.status();
      *out = *s;
    }
    if (const YAML::Node* n = f->Get("declares_resource")) {
      absl::StatusOr<std::string> s = r_.String(*n, key + ".declares_resource");
      if (!s.ok()) return s.status();
      req.declares_resource = *s;
    }
    req.clone = Resolve(req.clone);
    if (!options_.open_repo) {
      return absl::FailedPreconditionError(
          r_.Error(node, key,
                   absl::StrCat("rule \"", rule->id,
                                "\" needs the IaC repository's clone, and this monitor cannot "
                                "open one (no PolicyOptions::open_repo)"))
              .message());
    }
    auto repo_key = std::make_pair(req.clone, req.ref);
    if (auto it = repos_.find(repo_key); it != repos_.end()) {
      req.checker = it->second;
    } else {
      absl::StatusOr<std::unique_ptr<RepoChecker>> checker =
          options_.open_repo(RepoSpec{req.repository, req.clone, req.ref});
      if (!checker.ok()) {
        return absl::Status(checker.status().code(),
                            r_.Error(node, key, checker.status().message()).message());
      }
      if (*checker == nullptr) return r_.Error(node, key, "open_repo returned no checker");
      policy_->repos_.push_back(*std::move(checker));
      req.checker = repos_[repo_key] = policy_->repos_.back().get();
    }
    rule->source_in_repo = std::move(req);
    return absl::OkStatus();
  }

  absl::Status Exception(const YAML::Node& node, const std::string& key) {
    absl::StatusOr<YamlFields> f =
        r_.Fields(node, key, {"leaf_hash", "rule", "requirement", "reason"});
    if (!f.ok()) return f.status();
    for (const char* name : {"leaf_hash", "rule", "reason"}) {
      if (f->Get(name) == nullptr) return r_.Error(node, absl::StrCat(key, ".", name), "missing");
    }
    absl::StatusOr<std::string> b64 = r_.String(*f->Get("leaf_hash"), key + ".leaf_hash");
    if (!b64.ok()) return b64.status();
    absl::StatusOr<Hash> leaf = HashFromBase64(*b64, "leaf_hash");
    if (!leaf.ok())
      return r_.Error(*f->Get("leaf_hash"), key + ".leaf_hash", leaf.status().message());
    absl::StatusOr<std::string> rule = r_.Name(*f->Get("rule"), key + ".rule");
    if (!rule.ok()) return rule.status();
    auto it = rule_index_.find(*rule);
    if (it == rule_index_.end())
      return r_.Error(*f->Get("rule"), key + ".rule",
                      absl::StrCat("no rule has id \"", *rule, "\""));
    policy_internal::Exception x;
    x.rule = it->second;
    absl::StatusOr<std::string> reason = r_.String(*f->Get("reason"), key + ".reason");
    if (!reason.ok()) return reason.status();
    if (absl::StripAsciiWhitespace(*reason).empty())
      return r_.Error(*f->Get("reason"), key + ".reason", "is empty");
    x.reason = *reason;
    if (const YAML::Node* n = f->Get("requirement")) {
      absl::StatusOr<std::string> req = r_.Name(*n, key + ".requirement");
      if (!req.ok()) return req.status();
      const std::vector<absl::string_view> names = RequirementNames(policy_->rules_[x.rule]);
      if (std::find(names.begin(), names.end(), *req) == names.end()) {
        return r_.Error(*n, key + ".requirement",
                        absl::StrCat("rule \"", *rule, "\" has no requirement \"", *req,
                                     "\"; it has ", absl::StrJoin(names, ", ")));
      }
      x.requirement = *req;
    }
    policy_->exceptions_[*leaf].push_back(std::move(x));
    return absl::OkStatus();
  }

  YamlReader r_;
  std::string dir_;
  const PolicyOptions& options_;
  std::unique_ptr<PolicyImpl> policy_;
  absl::flat_hash_map<std::string, size_t> rule_index_;
  absl::flat_hash_map<std::string, DigestAllowlist*> allowlists_;
  absl::flat_hash_map<std::pair<std::string, std::string>, RepoChecker*> repos_;
};

}  // namespace
}  // namespace policy_internal

absl::StatusOr<std::unique_ptr<Policy>> Policy::Parse(absl::string_view yaml,
                                                      const std::string& name,
                                                      const std::string& dir,
                                                      const PolicyOptions& options) {
  policy_internal::Loader loader(name, dir, options);
  absl::StatusOr<std::unique_ptr<policy_internal::PolicyImpl>> p = loader.Run(yaml);
  if (!p.ok()) return p.status();
  return std::unique_ptr<Policy>(*std::move(p));
}

absl::StatusOr<std::unique_ptr<Policy>> Policy::Load(const std::string& path,
                                                     const PolicyOptions& options) {
  absl::StatusOr<std::string> text = ReadFileBounded(path, kMaxPolicyFileBytes);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", text.status().message()));
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  return Parse(*text, path, dir, options);
}

}  // namespace infratrail
