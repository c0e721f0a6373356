#include "verifier/monitor/finding.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace infratrail {

absl::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "CRITICAL";
    case Severity::kAlert:
      return "ALERT";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kNotice:
      return "NOTICE";
  }
  return "CRITICAL";
}

absl::StatusOr<Severity> ParseSeverity(absl::string_view name) {
  if (name == "CRITICAL") return Severity::kCritical;
  if (name == "ALERT") return Severity::kAlert;
  if (name == "WARNING") return Severity::kWarning;
  if (name == "NOTICE") return Severity::kNotice;
  return absl::InvalidArgumentError(
      absl::StrCat("severity \"", name, "\" is not CRITICAL, ALERT, WARNING or NOTICE"));
}

nlohmann::json Finding::ToJson() const {
  nlohmann::json j = {
      {"time", absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone())},
      {"severity", std::string(SeverityName(severity))},
      {"rule", rule},
      {"origin", origin},
      {"index", index.has_value() ? nlohmann::json(*index) : nlohmann::json(nullptr)},
      {"leaf_hash", leaf_hash},
      {"resource", resource},
      {"actor", actor},
      {"kind", kind},
      {"requirement", requirement},
      {"message", message},
      {"evidence", evidence},
      {"seq", seq},
  };
  return j;
}

absl::StatusOr<Finding> Finding::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("finding: not a JSON object");
  Finding f;
  auto str = [&](const char* key, std::string* out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("finding: \"", key, "\" is not a string"));
    }
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  std::string time, severity;
  for (auto [key, out] :
       std::initializer_list<std::pair<const char*, std::string*>>{{"time", &time},
                                                                   {"severity", &severity},
                                                                   {"rule", &f.rule},
                                                                   {"origin", &f.origin},
                                                                   {"leaf_hash", &f.leaf_hash},
                                                                   {"resource", &f.resource},
                                                                   {"actor", &f.actor},
                                                                   {"message", &f.message},
                                                                   {"evidence", &f.evidence}}) {
    if (absl::Status st = str(key, out); !st.ok()) return st;
  }
  // Added with the event policy: absent from findings spooled before.
  for (auto [key, out] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"kind", &f.kind}, {"requirement", &f.requirement}}) {
    if (j.contains(key)) {
      if (absl::Status st = str(key, out); !st.ok()) return st;
    }
  }
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, time, &f.time, &err)) {
    return absl::InvalidArgumentError(absl::StrCat("finding: \"time\": ", err));
  }
  absl::StatusOr<Severity> sev = ParseSeverity(severity);
  if (!sev.ok())
    return absl::InvalidArgumentError(absl::StrCat("finding: ", sev.status().message()));
  f.severity = *sev;
  auto index = j.find("index");
  if (index != j.end() && index->is_number_unsigned()) f.index = index->get<uint64_t>();
  auto seq = j.find("seq");
  if (seq == j.end() || !seq->is_number_unsigned()) {
    return absl::InvalidArgumentError("finding: \"seq\" is not an unsigned number");
  }
  f.seq = seq->get<uint64_t>();
  return f;
}

nlohmann::json OperationalEvent::ToJson(absl::Time time) const {
  return {{"time", absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone())},
          {"severity", "OPERATIONAL"},
          {"origin", origin},
          {"kind", kind},
          {"message", message}};
}

}  // namespace infratrail
