#include "client/event_flags.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "core/check.h"
#include "core/encoding.h"
#include "proto/entry_validation.h"

namespace infratrail {
namespace {

struct KindName {
  absl::string_view name;
  v1::EventKind kind;
};
constexpr KindName kKinds[] = {
    {"provision", v1::PROVISION},
    {"deprovision", v1::DEPROVISION},
    {"access", v1::ACCESS},
    {"deploy", v1::DEPLOY},
    {"config_change", v1::CONFIG_CHANGE},
    {"key_create", v1::KEY_CREATE},
    {"key_rotate", v1::KEY_ROTATE},
    {"key_recovery", v1::KEY_RECOVERY},
    {"break_glass", v1::BREAK_GLASS},
    {"key_destroy", v1::KEY_DESTROY},
};

struct ChannelName {
  absl::string_view name;
  v1::Channel channel;
};
constexpr ChannelName kChannels[] = {
    {"console", v1::CONSOLE}, {"iac", v1::IAC}, {"ci", v1::CI}, {"api", v1::API}};

struct DigestAlgorithm {
  absl::string_view name;
  size_t hex_digits;
};
constexpr DigestAlgorithm kDigestAlgorithms[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};

absl::Status FlagError(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why));
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

bool IsUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

absl::StatusOr<v1::EventKind> ParseKind(absl::string_view text) {
  if (text.empty()) return FlagError("--kind", "required");
  const std::string key = absl::StrReplaceAll(absl::AsciiStrToLower(text), {{"-", "_"}});
  for (const KindName& k : kKinds) {
    if (k.name == key) return k.kind;
  }
  return FlagError("--kind", absl::StrCat("unknown event kind ", Quote(text), " (expected one of ",
                                          absl::StrJoin(kKinds, ", ",
                                                        [](std::string* out, const KindName& k) {
                                                          absl::StrAppend(out, k.name);
                                                        }),
                                          ")"));
}

absl::StatusOr<v1::Channel> ParseChannel(absl::string_view text) {
  const std::string key = absl::AsciiStrToLower(text);
  for (const ChannelName& c : kChannels) {
    if (c.name == key) return c.channel;
  }
  return FlagError("--via", absl::StrCat("unknown channel ", Quote(text),
                                         " (expected one of console, iac, ci, api)"));
}

absl::Status CheckDigest(absl::string_view digest) {
  const size_t colon = digest.find(':');
  const absl::string_view algorithm = digest.substr(0, colon);
  for (const DigestAlgorithm& a : kDigestAlgorithms) {
    if (colon == absl::string_view::npos || a.name != algorithm) continue;
    const absl::string_view hex = digest.substr(colon + 1);
    if (hex.size() != a.hex_digits) {
      return FlagError("--digest", absl::StrCat(Quote(digest), ": ", a.name, " needs ",
                                                a.hex_digits, " hex digits, got ", hex.size()));
    }
    for (char c : hex) {
      if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
        return FlagError("--digest", absl::StrCat(Quote(digest), ": digits must be lowercase hex"));
      }
    }
    return absl::OkStatus();
  }
  return FlagError("--digest", absl::StrCat(Quote(digest),
                                            " is not sha256:<hex>, sha384:<hex> or sha512:<hex>"));
}

// Fills `ts`; false if `t` is outside what a Timestamp can hold (which
// includes absl's infinite past and future; the range is ValidateEntry's).
bool ToTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  if (t < absl::FromUnixSeconds(kMinTimestampSeconds) ||
      t >= absl::FromUnixSeconds(kMaxTimestampSeconds + 1)) {
    return false;
  }
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds towards the infinite past
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return true;
}

absl::Status SetOccurredAt(absl::string_view text, absl::Time now, v1::InfraEvent* event) {
  if (text.empty()) {
    INFRATRAIL_CHECK(ToTimestamp(now, event->mutable_occurred_at())) << "now is " << now;
    return absl::OkStatus();
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return FlagError("--occurred-at",
                     absl::StrCat(Quote(text), " is not an RFC 3339 timestamp: ", err));
  }
  if (!ToTimestamp(t, event->mutable_occurred_at())) {
    return FlagError("--occurred-at", absl::StrCat(Quote(text), " is outside years 0001 to 9999"));
  }
  return absl::OkStatus();
}

absl::Status SetAttributes(const std::vector<std::string>& attrs, v1::InfraEvent* event) {
  auto& map = *event->mutable_attributes();
  for (const std::string& attr : attrs) {
    const size_t eq = attr.find('=');
    if (eq == std::string::npos) {
      return FlagError("--attr", absl::StrCat(Quote(attr), " is not key=value"));
    }
    if (eq == 0) return FlagError("--attr", absl::StrCat(Quote(attr), " has an empty key"));
    if (!IsUtf8(attr)) return FlagError("--attr", absl::StrCat(Quote(attr), " is not valid UTF-8"));
    std::string key = attr.substr(0, eq);
    if (map.count(key) != 0) return FlagError("--attr", absl::StrCat("duplicate key ", Quote(key)));
    map[std::move(key)] = attr.substr(eq + 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::InfraEvent> BuildEvent(const EventFlags& flags, absl::Time now) {
  v1::InfraEvent event;
  absl::StatusOr<v1::EventKind> kind = ParseKind(flags.kind);
  if (!kind.ok()) return kind.status();
  event.set_kind(*kind);
  if (flags.resource_id.empty()) return FlagError("--resource-id", "required");

  // Text copied verbatim into proto3 string fields, which must be UTF-8.
  const std::pair<absl::string_view, const std::string*> text_flags[] = {
      {"--resource-id", &flags.resource_id},
      {"--resource-type", &flags.resource_type},
      {"--provider", &flags.provider},
      {"--actor", &flags.actor},
      {"--justification", &flags.justification},
      {"--ticket", &flags.ticket},
      {"--repo", &flags.repo},
      {"--commit", &flags.commit},
      {"--pipeline", &flags.pipeline},
  };
  for (const auto& [flag, value] : text_flags) {
    if (!IsUtf8(*value)) return FlagError(flag, "not valid UTF-8");
  }
  event.mutable_resource()->set_id(flags.resource_id);
  event.mutable_resource()->set_type(flags.resource_type);
  event.mutable_resource()->set_provider(flags.provider);

  if (!flags.actor.empty()) event.mutable_actor()->set_principal(flags.actor);
  if (!flags.via.empty()) {
    absl::StatusOr<v1::Channel> via = ParseChannel(flags.via);
    if (!via.ok()) return via.status();
    event.mutable_actor()->set_via(*via);
  }
  if (!flags.repo.empty()) event.mutable_source()->set_repository(flags.repo);
  if (!flags.commit.empty()) event.mutable_source()->set_commit(flags.commit);
  if (!flags.pipeline.empty()) event.mutable_source()->set_pipeline(flags.pipeline);

  if (!flags.digest.empty()) {
    if (absl::Status s = CheckDigest(flags.digest); !s.ok()) return s;
    event.set_artifact_digest(flags.digest);
  }
  event.set_justification(flags.justification);
  event.set_ticket(flags.ticket);
  if (absl::Status s = SetOccurredAt(flags.occurred_at, now, &event); !s.ok()) return s;
  if (absl::Status s = SetAttributes(flags.attrs, &event); !s.ok()) return s;
  return event;
}

std::string SerializeEvent(const v1::InfraEvent& event) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  return out;
}

bool AnyEventFlagSet(const EventFlags& flags) {
  for (const std::string* s :
       {&flags.kind, &flags.resource_id, &flags.resource_type, &flags.provider, &flags.actor,
        &flags.via, &flags.justification, &flags.ticket, &flags.digest, &flags.repo, &flags.commit,
        &flags.pipeline, &flags.occurred_at}) {
    if (!s->empty()) return true;
  }
  return !flags.attrs.empty();
}

}  // namespace infratrail
