#include "verifier/policy/digest_allowlist.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/io/file_util.h"

namespace infratrail {
namespace {

constexpr absl::string_view kPrefix = "sha256:";

int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "sha256:<64 lowercase hex>" to its 32 bytes; false for anything else.
bool ParseDigest(absl::string_view text, std::array<uint8_t, 32>* out) {
  if (text.size() != kPrefix.size() + 64 || !absl::StartsWith(text, kPrefix)) return false;
  text.remove_prefix(kPrefix.size());
  for (size_t i = 0; i < 32; ++i) {
    const int hi = LowerHexValue(text[2 * i]);
    const int lo = LowerHexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

DigestAllowlist::Stamp DigestAllowlist::StampOf(const std::string& path) {
  struct stat st;
  Stamp s;
  if (::stat(path.c_str(), &st) != 0) return s;
  s.present = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

absl::StatusOr<absl::flat_hash_set<DigestAllowlist::Digest>> DigestAllowlist::Read(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadRegularFileBounded(path, kMaxDigestFileBytes);
  if (!text.ok()) return absl::InvalidArgumentError(std::string(text.status().message()));
  absl::flat_hash_set<Digest> set;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    Digest d;
    if (!ParseDigest(line, &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": not \"sha256:\" and 64 lowercase hex digits: \"",
                       absl::CEscape(line.substr(0, 80)), line.size() > 80 ? "..." : "", "\""));
    }
    set.insert(d);
  }
  return set;
}

absl::StatusOr<DigestAllowlist> DigestAllowlist::Load(const std::string& path) {
  DigestAllowlist list;
  list.path_ = path;
  // Stamp before reading: a change racing the read then shows as a change at
  // the next check (one extra reload) instead of going unnoticed.
  list.stamp_ = StampOf(path);
  absl::StatusOr<absl::flat_hash_set<Digest>> set = Read(path);
  if (!set.ok()) return set.status();
  list.digests_ = *std::move(set);
  return list;
}

bool DigestAllowlist::Contains(absl::string_view digest) const {
  Digest d;
  return ParseDigest(digest, &d) && digests_.contains(d);
}

void DigestAllowlist::MaybeReload(absl::Time now, absl::Duration recheck,
                                  std::vector<std::string>* operational) {
  if (now - last_check_ < recheck) return;
  last_check_ = now;
  const Stamp stamp = StampOf(path_);
  if (stamp == stamp_) return;
  stamp_ = stamp;
  if (!stamp.present) {
    operational->push_back(absl::StrCat("artifact_digest_in: ", path_,
                                        " is gone; the allowlist read before stays in force"));
    return;
  }
  absl::StatusOr<absl::flat_hash_set<Digest>> set = Read(path_);
  if (!set.ok()) {
    operational->push_back(absl::StrCat("artifact_digest_in: reloading ", path_, ": ",
                                        set.status().message(),
                                        "; the allowlist read before stays in force"));
    return;
  }
  digests_ = *std::move(set);
}

}  // namespace infratrail
