#include "client/ingest/deploy.h"

#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/ingest/mapping.h"
#include "core/encoding.h"

namespace infratrail::ingest {
namespace {

// distribution/reference: NameTotalLengthMax, and a tag's 128 bytes.
constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxTagBytes = 128;
constexpr size_t kSha256HexDigits = 64;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

absl::Status Invalid(std::string_view why) { return absl::InvalidArgumentError(Av(why)); }

// alpha-numeric [separator alpha-numeric]*, separator := [_.] | __ | [-]+
bool IsPathComponent(std::string_view c) {
  size_t i = 0;
  while (true) {
    const size_t start = i;
    while (i < c.size() && IsLowerAlnum(c[i])) ++i;
    if (i == start) return false;  // empty, or a separator at an edge or doubled
    if (i == c.size()) return true;
    if (c.substr(i, 2) == "__") {
      i += 2;
    } else if (c[i] == '.' || c[i] == '_') {
      ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
  }
}

// domain-component ['.' domain-component]* or [IPv6], then [':' port].
absl::Status CheckRegistry(std::string_view r) {
  if (r.empty()) return Invalid("empty registry");
  std::string_view host = r;
  std::string_view port;
  if (!r.empty() && r[0] == '[') {
    const size_t close = r.find(']');
    if (close == std::string_view::npos) return Invalid("registry: unterminated [IPv6 address]");
    const std::string_view ip = r.substr(1, close - 1);
    if (ip.empty() || ip.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return Invalid(absl::StrCat("registry \"", Av(r), "\": not an IPv6 address in brackets"));
    }
    host = {};
    if (close + 1 < r.size()) {
      if (r[close + 1] != ':') return Invalid(absl::StrCat("registry \"", Av(r), "\": bad port"));
      port = r.substr(close + 2);
      if (port.empty()) return Invalid(absl::StrCat("registry \"", Av(r), "\": empty port"));
    }
  } else if (const size_t colon = r.find(':'); colon != std::string_view::npos) {
    host = r.substr(0, colon);
    port = r.substr(colon + 1);
    if (port.empty()) return Invalid(absl::StrCat("registry \"", Av(r), "\": empty port"));
  }
  if (!port.empty() && port.find_first_not_of("0123456789") != std::string_view::npos) {
    return Invalid(absl::StrCat("registry \"", Av(r), "\": port is not a number"));
  }
  if (r[0] == '[') return absl::OkStatus();
  for (absl::string_view label : absl::StrSplit(Av(host), '.')) {
    const bool ok = !label.empty() && absl::ascii_isalnum(label.front()) &&
                    absl::ascii_isalnum(label.back()) &&
                    label.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-") == std::string_view::npos;
    if (!ok) {
      return Invalid(absl::StrCat("registry \"", Av(r),
                                  "\": not a host name (letters, digits and inner '-', "
                                  "separated by '.')"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDigest(std::string_view d) {
  const size_t colon = d.find(':');
  if (colon == std::string_view::npos) {
    return Invalid(absl::StrCat("digest \"", Excerpt(d), "\": not algorithm:hex"));
  }
  const std::string_view algorithm = d.substr(0, colon);
  const std::string_view hex = d.substr(colon + 1);
  if (algorithm != "sha256") {
    return Invalid(absl::StrCat("digest algorithm \"", Excerpt(algorithm, 20),
                                "\" is not supported (only sha256)"));
  }
  if (hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Invalid("sha256 digest: not lowercase hex");
  }
  if (hex.size() != kSha256HexDigits) {
    return Invalid(absl::StrCat("sha256 digest has ", hex.size(), " hex digits, not 64"));
  }
  return absl::OkStatus();
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = DecodeUtf8(Av(s), i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace

absl::StatusOr<ImageRef> ParseImageRef(std::string_view ref) {
  if (ref.empty()) return Invalid("empty image reference");
  const size_t at = ref.find('@');
  if (at == std::string_view::npos) {
    return Invalid(
        "no digest (deploy by digest, NAME@sha256:<64 hex>: a tag can be moved to other "
        "content, the digest is what an auditor rebuilds and compares)");
  }
  ImageRef out;
  if (absl::Status s = CheckDigest(ref.substr(at + 1)); !s.ok()) return s;
  out.digest = std::string(ref.substr(at + 1));

  std::string_view name = ref.substr(0, at);
  const size_t colon = name.rfind(':');
  if (colon != std::string_view::npos &&
      (name.rfind('/') == std::string_view::npos || colon > name.rfind('/'))) {
    const std::string_view tag = name.substr(colon + 1);
    if (tag.empty() || tag.size() > kMaxTagBytes || !IsWordChar(tag[0]) ||
        tag.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string_view::npos) {
      return Invalid(
          absl::StrCat("tag \"", Excerpt(tag, 40),
                       "\": not 1 to 128 of [A-Za-z0-9_.-], starting with no '.' or '-'"));
    }
    out.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) return Invalid("no repository name before the digest");
  if (name.size() > kMaxNameBytes) {
    return Invalid(absl::StrCat("name is ", name.size(), " bytes, over ", kMaxNameBytes));
  }

  // docker's split: the first component is a registry only if it looks like one.
  std::string_view path = name;
  out.registry = "docker.io";
  if (const size_t slash = name.find('/'); slash != std::string_view::npos) {
    const std::string_view first = name.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        absl::AsciiStrToLower(Av(first)) != Av(first)) {
      if (absl::Status s = CheckRegistry(first); !s.ok()) return s;
      out.registry = first == "index.docker.io" ? "docker.io" : std::string(first);
      path = name.substr(slash + 1);
    }
  }
  if (path.empty()) return Invalid("no repository path after the registry");
  for (absl::string_view c : absl::StrSplit(Av(path), '/')) {
    if (IsPathComponent(std::string_view(c.data(), c.size()))) continue;
    if (absl::AsciiStrToLower(c) != c && IsPathComponent(absl::AsciiStrToLower(c))) {
      return Invalid(absl::StrCat("repository \"", Excerpt(path), "\" must be lowercase"));
    }
    return Invalid(absl::StrCat("repository \"", Excerpt(path),
                                "\": each /-separated part is lowercase letters and digits, "
                                "joined by '.', '_', '__' or '-'"));
  }
  out.repository = std::string(path);
  if (out.registry == "docker.io" && out.repository.find('/') == std::string::npos) {
    out.repository = absl::StrCat("library/", out.repository);
  }
  return out;
}

absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions& options) {
  return BuildDeployEvents(options, absl::Now());
}

absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions& options,
                                                              absl::Time now) {
  const auto flag_error = [](std::string_view flag, std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(Av(flag), ": ", Av(why)));
  };
  if (options.images.empty()) {
    return flag_error("--image", "required (at least one image reference, or --file)");
  }
  for (auto [flag, value, why] :
       {std::tuple{"--repository", &options.repository, "the repository the image was built from"},
        std::tuple{"--commit", &options.commit, "the commit the image was built from"},
        std::tuple{"--pipeline", &options.pipeline, "the pipeline run that deployed it"}}) {
    if (value->empty()) return flag_error(flag, absl::StrCat("required (", why, ")"));
  }
  for (auto [flag, value] :
       {std::pair{"--repository", &options.repository}, std::pair{"--commit", &options.commit},
        std::pair{"--pipeline", &options.pipeline},
        std::pair{"--environment", &options.environment}, std::pair{"--actor", &options.actor}}) {
    if (!IsUtf8(*value)) return flag_error(flag, "not valid UTF-8");
  }
  v1::InfraEvent common;
  common.set_kind(v1::DEPLOY);
  if (!options.occurred_at.empty()) {
    if (absl::Status s = SetOccurredAt(options.occurred_at, "--occurred-at", &common); !s.ok()) {
      return s;
    }
  } else {
    const int64_t seconds = absl::ToUnixSeconds(now);
    common.mutable_occurred_at()->set_seconds(seconds);
    common.mutable_occurred_at()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(seconds))));
  }
  common.mutable_resource()->set_provider("oci");
  common.mutable_resource()->set_type("container-image");
  common.mutable_source()->set_repository(options.repository);
  common.mutable_source()->set_commit(options.commit);
  common.mutable_source()->set_pipeline(options.pipeline);
  common.mutable_actor()->set_principal(options.actor);
  common.mutable_actor()->set_via(v1::CI);
  if (!options.environment.empty()) {
    (*common.mutable_attributes())["deploy.environment"] = options.environment;
  }

  std::vector<v1::InfraEvent> events;
  for (const std::string& image : options.images) {
    absl::StatusOr<ImageRef> ref = ParseImageRef(image);
    if (!ref.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--image \"", Excerpt(image), "\": ", ref.status().message()));
    }
    v1::InfraEvent ev = common;
    ev.set_artifact_digest(ref->digest);
    ev.mutable_resource()->set_id(ref->Name());
    (*ev.mutable_attributes())["deploy.image"] = image;
    events.push_back(std::move(ev));
  }
  return events;
}

std::vector<std::string> ImageRefLines(std::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    out.emplace_back(line.data(), line.size());
  }
  return out;
}

}  // namespace infratrail::ingest
