// Policy::Evaluate: the rules run in file order over one event; see policy.h
// for the semantics and policy_loader.cc for how rules are compiled.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/emitter_signature.h"
#include "verifier/policy/policy_impl.h"

namespace infratrail {

absl::string_view PolicySeverityName(PolicySeverity s) {
  switch (s) {
    case PolicySeverity::kAlert:
      return "ALERT";
    case PolicySeverity::kWarning:
      return "WARNING";
    case PolicySeverity::kNotice:
      return "NOTICE";
  }
  return "UNKNOWN";
}

namespace policy_internal {
namespace {

// Events come from the log, written by whoever could submit: quote their
// strings escaped and bounded in messages.
std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 128;
  std::string q = absl::StrCat("\"", absl::CEscape(s.substr(0, kMax)));
  if (s.size() > kMax) q += "...";
  q += "\"";
  return q;
}

uint64_t Bit(int v) { return v >= 0 && v < 64 ? uint64_t{1} << v : 0; }

std::string ChannelText(v1::Channel c) {
  const std::string& name = v1::Channel_Name(c);
  return name.empty() ? absl::StrCat(static_cast<int>(c)) : name;
}

// An open enum: the log can hold a kind this build has no name for.
std::string KindText(v1::EventKind k) {
  const std::string& name = v1::EventKind_Name(k);
  return name.empty() ? absl::StrCat(static_cast<int>(k)) : name;
}

std::string ResourceText(const v1::InfraEvent& ev) {
  return absl::StrCat(Quote(ev.resource().provider()), "/", Quote(ev.resource().type()), "/",
                      Quote(ev.resource().id()));
}

bool Matches(const CompiledRule& r, const v1::InfraEvent& ev) {
  if (r.kinds != 0 && (Bit(ev.kind()) & r.kinds) == 0) return false;
  if (r.vias != 0 && (Bit(ev.actor().via()) & r.vias) == 0) return false;
  if (r.provider.given && !r.provider.globs.Match(ev.resource().provider())) return false;
  if (r.type.given && !r.type.globs.Match(ev.resource().type())) return false;
  if (r.resource_id.given && !r.resource_id.globs.Match(ev.resource().id())) return false;
  if (r.actor.given && !r.actor.globs.Match(ev.actor().principal())) return false;
  return true;
}

// The failed requirement's message, or nullopt when the signatures suffice.
std::optional<std::string> CheckSignatures(const SignatureRequirement& req,
                                           absl::string_view entry) {
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(entry, req.keys);
  if (!checks.ok()) return absl::StrCat("malformed signature records: ", checks.status().message());
  std::vector<bool> valid(req.keys.size(), false);
  std::vector<std::string> bad;
  size_t others = 0, repeated = 0;
  for (const EmitterSignatureCheck& c : *checks) {
    size_t k = 0;
    while (k < req.keys.size() &&
           (req.keys[k].name() != c.key_name || req.keys[k].key_id() != c.key_id))
      ++k;
    if (k == req.keys.size()) {
      ++others;
    } else if (c.result == EmitterSignatureResult::kRepeatedKey) {
      ++repeated;
    } else if (c.result == EmitterSignatureResult::kVerified) {
      valid[k] = true;
    } else {
      bad.push_back(req.keys[k].name());
    }
  }
  std::vector<std::string> good;
  for (size_t k = 0; k < req.keys.size(); ++k) {
    if (valid[k]) good.push_back(req.keys[k].name());
  }
  if (good.size() >= req.at_least) return std::nullopt;
  auto names = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string() : absl::StrCat(" (", absl::StrJoin(v, ", "), ")");
  };
  return absl::StrCat(req.at_least, " of the required ", req.keys.size(),
                      " signatures needed: ", good.size(), " valid", names(good), ", ", bad.size(),
                      " not verifying", names(bad), ", ", others, " by other keys",
                      repeated == 0 ? "" : absl::StrCat(", ", repeated, " repeated (not checked)"));
}

}  // namespace

namespace {

// `field` with \x01 as \x01\x01 and \0 as \x01\x02: no \0 is left to be
// taken for a separator. A field holding neither (every honest one) is
// itself, so keys already in a state keep their value.
absl::string_view KeyField(absl::string_view field, std::string* buffer) {
  if (field.find_first_of(absl::string_view("\0\x01", 2)) == absl::string_view::npos) return field;
  buffer->clear();
  for (char c : field) {
    if (c == '\0' || c == '\x01') {
      buffer->push_back('\x01');
      buffer->push_back(c == '\0' ? '\x02' : '\x01');
    } else {
      buffer->push_back(c);
    }
  }
  return *buffer;
}

}  // namespace

std::optional<std::string> TerraformDeclaration(absl::string_view address) {
  auto name = [](absl::string_view* s) {
    size_t n = 0;
    while (n < s->size() && (absl::ascii_isalnum(static_cast<unsigned char>((*s)[n])) ||
                             (*s)[n] == '_' || (*s)[n] == '-')) {
      ++n;
    }
    absl::string_view out = s->substr(0, n);
    s->remove_prefix(n);
    return out;
  };
  // An instance key: [0] or ["a.b"], quotes escaped with a backslash.
  auto index = [](absl::string_view* s) {
    if (s->empty() || s->front() != '[') return true;
    bool quoted = false;
    for (size_t i = 1; i < s->size(); ++i) {
      const char c = (*s)[i];
      if (quoted && c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ']' && !quoted) {
        s->remove_prefix(i + 1);
        return true;
      }
    }
    return false;
  };
  absl::string_view s = address;
  while (absl::ConsumePrefix(&s, "module.")) {
    if (name(&s).empty() || !index(&s) || !absl::ConsumePrefix(&s, ".")) return std::nullopt;
  }
  absl::ConsumePrefix(&s, "data.");
  const absl::string_view type = name(&s);
  if (type.empty() || !absl::ConsumePrefix(&s, ".")) return std::nullopt;
  const absl::string_view resource = name(&s);
  if (resource.empty() || !index(&s) || !s.empty()) return std::nullopt;
  return absl::StrCat("\"", type, "\" \"", resource, "\"");
}

std::array<uint8_t, 16> ResourceKeyOf(Hasher* hasher, const v1::InfraEvent& ev) {
  constexpr absl::string_view kSep("\0", 1);
  // Strings from the log may hold \0: ("a\0b", "c") and ("a", "b\0c") must
  // not be one resource, or a DEPROVISION of one passes for the other's.
  std::string provider, type, id;
  const Hash h = hasher->Sha256({KeyField(ev.resource().provider(), &provider), kSep,
                                 KeyField(ev.resource().type(), &type), kSep,
                                 KeyField(ev.resource().id(), &id)});
  std::array<uint8_t, 16> key;
  std::copy_n(h.begin(), key.size(), key.begin());
  return key;
}

const std::array<uint8_t, 16>& PolicyImpl::ResourceKey(const v1::InfraEvent& ev) {
  if (!key_ready_) {
    key_ = ResourceKeyOf(&hasher_, ev);
    key_ready_ = true;
  }
  return key_;
}

bool PolicyImpl::Excepted(const PolicyEvent& e, size_t rule, absl::string_view requirement) const {
  if (exceptions_.empty() || e.leaf_hash == nullptr) return false;
  auto it = exceptions_.find(*e.leaf_hash);
  if (it == exceptions_.end()) return false;
  for (const Exception& x : it->second) {
    if (x.rule == rule && (!x.requirement.has_value() || *x.requirement == requirement))
      return true;
  }
  return false;
}

absl::Status PolicyImpl::EvaluateRule(size_t index, const PolicyEvent& e, const PolicyState& state,
                                      std::vector<PolicyViolation>* out, uint64_t* suppressed) {
  const CompiledRule& r = rules_[index];
  const v1::InfraEvent& ev = *e.event;
  if (!Matches(r, ev)) return absl::OkStatus();

  // Messages are built only for violations that are reported.
  auto fail = [&](absl::string_view requirement, PolicySeverity severity, auto&& message) {
    if (Excepted(e, index, requirement)) {
      ++*suppressed;
      return;
    }
    out->push_back(PolicyViolation{r.id, severity, std::string(requirement), message()});
  };

  if (r.justification && ev.justification().empty())
    fail("justification", r.severity, [] { return std::string("justification is empty"); });
  if (r.ticket && ev.ticket().empty())
    fail("ticket", r.severity, [] { return std::string("ticket is empty"); });
  if (r.require_vias != 0 && (Bit(ev.actor().via()) & r.require_vias) == 0) {
    fail("via", r.severity, [&] {
      return absl::StrCat("actor.via ", ChannelText(ev.actor().via()), " is not one of ",
                          r.require_vias_text);
    });
  }
  if (r.require_actor.given && !r.require_actor.globs.Match(ev.actor().principal())) {
    fail("actor", r.severity, [&] {
      return absl::StrCat("actor.principal ", Quote(ev.actor().principal()), " matches none of ",
                          r.require_actor.globs.Describe());
    });
  }
  if (r.digests != nullptr) {
    if (!now_.has_value()) now_ = absl::Now();
    r.digests->MaybeReload(*now_, options_.digest_recheck, &operational_);
    if (ev.artifact_digest().empty()) {
      fail("artifact_digest_in", r.severity, [&] {
        return absl::StrCat("artifact_digest is empty; it must be one of ", r.digests->path());
      });
    } else if (!r.digests->Contains(ev.artifact_digest())) {
      fail("artifact_digest_in", r.severity, [&] {
        return absl::StrCat("artifact_digest ", Quote(ev.artifact_digest()), " is not in ",
                            r.digests->path());
      });
    }
  }
  if (r.signatures.has_value()) {
    if (std::optional<std::string> msg = CheckSignatures(*r.signatures, e.entry))
      fail("signatures", r.severity, [&] { return *std::move(msg); });
  }
  if (r.source_in_repo.has_value()) {
    const RepoRequirement& repo = *r.source_in_repo;
    std::string why;
    if (ev.source().repository() != repo.repository) {
      why = absl::StrCat("source.repository ", Quote(ev.source().repository()), " is not ",
                         repo.repository);
    } else if (ev.source().commit().empty()) {
      why = "source.commit is empty";
    } else {
      auto annotate = [&](const absl::Status& s) {
        return absl::Status(s.code(), absl::StrCat("policy rule ", r.id, ": source_in_repo ",
                                                   repo.clone, ": ", s.message()));
      };
      absl::StatusOr<RepoChecker::Result> reach =
          repo.checker->CommitReachable(ev.source().commit());
      if (!reach.ok()) return annotate(reach.status());
      if (!reach->ok) {
        why = reach->reason.empty()
                  ? absl::StrCat("source.commit ", Quote(ev.source().commit()),
                                 " is not reachable from ", repo.ref, " in ", repo.clone)
                  : reach->reason;
      } else if (repo.declares_resource.has_value()) {
        // An event from `infratrail ingest terraform` names the resource by
        // its address; the files declare it as `resource "TYPE" "NAME"`.
        std::optional<std::string> declaration;
        if (const auto it = ev.attributes().find("terraform.address");
            it != ev.attributes().end() && it->second == ev.resource().id()) {
          declaration = TerraformDeclaration(ev.resource().id());
        }
        absl::StatusOr<RepoChecker::Result> decl =
            repo.checker->Declares(ev.source().commit(), *repo.declares_resource,
                                   declaration.has_value() ? *declaration : ev.resource().id());
        if (!decl.ok()) return annotate(decl.status());
        if (!decl->ok) {
          why = decl->reason.empty()
                    ? absl::StrCat("resource.id ", Quote(ev.resource().id()),
                                   declaration.has_value()
                                       ? absl::StrCat(" (Terraform: ", *declaration, ")")
                                       : "",
                                   " is not declared under ", *repo.declares_resource,
                                   " at commit ", Quote(ev.source().commit()))
                    : decl->reason;
        }
      }
    }
    if (!why.empty()) fail("source_in_repo", r.severity, [&] { return std::move(why); });
  }
  if (r.deprovision_follows_provision && ev.kind() == v1::DEPROVISION &&
      !state.live.contains(ResourceKey(ev))) {
    fail("deprovision_follows_provision", r.severity, [&] {
      return absl::StrCat("DEPROVISION of ", ResourceText(ev), " without an earlier PROVISION");
    });
  }
  if (r.notify) {
    fail("notify", PolicySeverity::kNotice, [&] {
      return absl::StrCat(KindText(ev.kind()), " of ", ResourceText(ev), " by ",
                          Quote(ev.actor().principal()), " via ", ChannelText(ev.actor().via()));
    });
  }
  return absl::OkStatus();
}

absl::Status PolicyImpl::Evaluate(const PolicyEvent& e, PolicyState* state,
                                  std::vector<PolicyViolation>* out) {
  if (e.event == nullptr) return absl::InvalidArgumentError("Policy::Evaluate: no event");
  key_ready_ = false;
  now_.reset();
  const size_t out_size = out->size();
  uint64_t suppressed = 0;
  for (size_t i = 0; i < rules_.size(); ++i) {
    absl::Status s = EvaluateRule(i, e, *state, out, &suppressed);
    if (!s.ok()) {
      // Nothing of this attempt stays: the caller evaluates the event again.
      out->resize(out_size);
      return s;
    }
  }
  suppressed_ += suppressed;
  // After the rules, so that a DEPROVISION is checked against the resources
  // live before it.
  if (e.event->kind() == v1::PROVISION) {
    state->live.insert(ResourceKey(*e.event));
  } else if (e.event->kind() == v1::DEPROVISION) {
    state->live.erase(ResourceKey(*e.event));
  }
  return absl::OkStatus();
}

std::vector<std::string> PolicyImpl::TakeOperational() { return std::exchange(operational_, {}); }

}  // namespace policy_internal
}  // namespace infratrail
