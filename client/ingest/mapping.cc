#include "client/ingest/mapping.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "proto/entry_validation.h"
#include "proto/limits.h"

namespace infratrail::ingest {

std::optional<simdjson::dom::element> Get(simdjson::dom::element e, std::string_view path) {
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  }
  if (e.is_null()) return std::nullopt;
  return e;
}

std::optional<std::string_view> GetString(simdjson::dom::element e, std::string_view path) {
  std::optional<simdjson::dom::element> v = Get(e, path);
  std::string_view s;
  if (!v.has_value() || v->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

std::string NoString(simdjson::dom::element e, std::string_view path) {
  std::optional<simdjson::dom::element> v = Get(e, path);
  if (!v.has_value()) return absl::StrCat(Av(path), ": missing");
  std::string_view what;
  switch (v->type()) {
    case simdjson::dom::element_type::STRING:
      return absl::StrCat(Av(path),
                          v->get_string().value_unsafe().empty() ? ": empty" : ": usable");
    case simdjson::dom::element_type::ARRAY:
      what = "an array";
      break;
    case simdjson::dom::element_type::OBJECT:
      what = "an object";
      break;
    case simdjson::dom::element_type::BOOL:
      what = "a boolean";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      return absl::StrCat(Av(path), ": missing");
    default:
      what = "a number";
      break;
  }
  return absl::StrCat(Av(path), ": ", Av(what), ", not a string");
}

std::optional<std::string> WrongType(simdjson::dom::element e,
                                     std::initializer_list<std::string_view> paths) {
  for (const std::string_view path : paths) {
    const std::optional<simdjson::dom::element> v = Get(e, path);
    if (!v.has_value() || v->is_null() || v->is_string()) continue;
    return NoString(e, path);
  }
  return std::nullopt;
}

std::optional<int64_t> GetInt(simdjson::dom::element e, std::string_view path) {
  std::optional<simdjson::dom::element> v = Get(e, path);
  if (!v.has_value()) return std::nullopt;
  int64_t i;
  if (v->get_int64().get(i) == simdjson::SUCCESS) return i;
  std::string_view s;
  if (v->get_string().get(s) == simdjson::SUCCESS && absl::SimpleAtoi(Av(s), &i)) return i;
  return std::nullopt;
}

absl::Status SetOccurredAt(std::string_view rfc3339, std::string_view field,
                           v1::InfraEvent* event) {
  absl::Time t;
  std::string err;
  // ParseTime reads a C string (a NUL would end it early) and skips
  // surrounding blanks; RFC 3339 has neither.
  const bool plain = !rfc3339.empty() && std::all_of(rfc3339.begin(), rfc3339.end(),
                                                     [](char c) { return c > 0x20 && c < 0x7F; });
  if (!plain || !absl::ParseTime(absl::RFC3339_full, std::string(rfc3339), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(field), ": \"", Excerpt(rfc3339), "\" is not an RFC 3339 timestamp"));
  }
  if (t < absl::FromUnixSeconds(kMinTimestampSeconds) ||
      t >= absl::FromUnixSeconds(kMaxTimestampSeconds + 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(field), ": \"", Excerpt(rfc3339), "\" is outside years 0001 to 9999"));
  }
  const int64_t seconds = absl::ToUnixSeconds(t);
  event->mutable_occurred_at()->set_seconds(seconds);
  event->mutable_occurred_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return absl::OkStatus();
}

std::string Sha256Hex(std::string_view bytes) { return HashToHex(Sha256(Av(bytes))); }

std::string EventToSortedJson(const v1::InfraEvent& event) {
  std::string json;
  const auto st = google::protobuf::util::MessageToJsonString(event, &json);
  if (!st.ok()) return nlohmann::json{{"error", st.ToString()}}.dump();
  return nlohmann::json::parse(json).dump();  // std::map: keys sorted
}

namespace {

MappedItem Outcome(MappedItem::Kind kind, std::string reason, std::string where) {
  MappedItem m;
  m.kind = kind;
  m.reason = std::move(reason);
  m.where = std::move(where);
  return m;
}

}  // namespace

MappedItem Skipped(std::string reason, std::string where) {
  return Outcome(MappedItem::Kind::kSkipped, std::move(reason), std::move(where));
}

MappedItem Unmapped(std::string reason, std::string where) {
  return Outcome(MappedItem::Kind::kUnmapped, std::move(reason), std::move(where));
}

MappedItem Event(v1::InfraEvent event, std::string where) {
  MappedItem m;
  m.kind = MappedItem::Kind::kEvent;
  m.event = std::move(event);
  m.where = std::move(where);
  return m;
}

std::string Excerpt(std::string_view s, size_t max) {
  size_t n = s.size();
  if (n > max) {
    n = max;
    // Back off to the start of a UTF-8 sequence.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  // Control characters are escaped: an input's value must not forge a line
  // of our stderr or drive the terminal.
  std::string out;
  out.reserve(n + 3);
  for (const char c : s.substr(0, n)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      out += absl::StrFormat("\\x%02x", u);
    } else {
      out += c;
    }
  }
  if (n < s.size()) out += "...";
  return out;
}

std::string FirstOverlongValue(
    absl::Span<const std::pair<std::string_view, std::string_view>> values) {
  for (const auto& [field, value] : values) {
    if (value.size() > kMaxValueBytes) {
      return absl::StrCat(Av(field), ": ", value.size(), " bytes, more than ", kMaxValueBytes,
                          ": \"", Excerpt(value), "\"");
    }
  }
  return "";
}

bool HasVerb(std::string_view name, std::string_view verb) {
  if (verb.empty() || name.size() < verb.size()) return false;
  if (absl::ascii_tolower(static_cast<unsigned char>(name[0])) !=
          absl::ascii_tolower(static_cast<unsigned char>(verb[0])) ||
      name.compare(1, verb.size() - 1, verb.substr(1)) != 0) {
    return false;
  }
  return name.size() == verb.size() ||
         absl::ascii_isupper(static_cast<unsigned char>(name[verb.size()]));
}

bool HasAnyVerb(std::string_view name, absl::Span<const std::string_view> verbs) {
  for (std::string_view v : verbs) {
    if (HasVerb(name, v)) return true;
  }
  return false;
}

absl::Status ValidateMappedEvent(const v1::InfraEvent& event, absl::string_view data,
                                 absl::string_view field) {
  if (data.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".data: empty"));
  if (data.size() > kMaxEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".data: ", data.size(),
                                                   " bytes exceeds the limit of ", kMaxEntryBytes));
  }
  if (event.signatures_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".signatures: a signed event goes through ValidateEntry"));
  }
  if (absl::Status st = ValidateEventFields(event, field); !st.ok()) return st;
  // The schema's strings (ingest's tests check this list against it).
  const std::pair<std::string_view, const std::string*> strings[] = {
      {".resource.provider", &event.resource().provider()},
      {".resource.type", &event.resource().type()},
      {".resource.id", &event.resource().id()},
      {".actor.principal", &event.actor().principal()},
      {".source.repository", &event.source().repository()},
      {".source.commit", &event.source().commit()},
      {".source.pipeline", &event.source().pipeline()},
      {".artifact_digest", &event.artifact_digest()},
      {".justification", &event.justification()},
      {".ticket", &event.ticket()},
  };
  auto utf8 = [](const std::string& s) { return simdjson::validate_utf8(s.data(), s.size()); };
  for (const auto& [name, value] : strings) {
    if (!utf8(*value))
      return absl::InvalidArgumentError(absl::StrCat(field, Av(name), ": not UTF-8"));
  }
  for (const auto& [key, value] : event.attributes()) {
    if (!utf8(key) || !utf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".attributes[", Excerpt(key), "]: not UTF-8"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateToSend(const v1::InfraEvent& event, absl::string_view data, bool signed_data) {
  return signed_data ? ValidateEntry(data, "event") : ValidateMappedEvent(event, data, "event");
}

}  // namespace infratrail::ingest
