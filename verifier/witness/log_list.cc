#include "verifier/witness/log_list.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/encoding.h"
#include "core/hash.h"

namespace infratrail {
namespace {

// The order of a log's lines; a keyword may not come after a later one.
enum class Field { kVkey = 0, kOrigin = 1, kBastion = 2, kQpd = 3, kContact = 4 };

bool SameKeys(const std::vector<NoteVerifier>& a, const std::vector<NoteVerifier>& b) {
  if (a.size() != b.size()) return false;
  std::vector<std::string> x, y;
  for (const NoteVerifier& k : a) x.push_back(k.vkey());
  for (const NoteVerifier& k : b) y.push_back(k.vkey());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

}  // namespace

absl::StatusOr<LogList> ParseLogList(absl::string_view text, absl::string_view source) {
  LogList out;
  size_t line_no = 0;
  bool header = false;
  // The log being read: its key, its origin (once known) and the last field.
  struct Pending {
    NoteVerifier key;
    std::string origin;
    uint64_t qpd = 0;
    std::string contact;
    Field last = Field::kVkey;
    size_t line = 0;
  };
  std::vector<Pending> pending;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", what));
  };
  if (text.size() > kMaxLogListBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than the limit of ", kMaxLogListBytes, " bytes"));
  }
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!header) {
      if (line != "logs/v0") return error("expected the header line \"logs/v0\"");
      header = true;
      continue;
    }
    const size_t space = line.find(' ');
    const absl::string_view keyword = line.substr(0, space);
    const absl::string_view value =
        space == absl::string_view::npos ? absl::string_view() : line.substr(space + 1);
    if (keyword == "vkey") {
      absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(value);
      if (!key.ok()) return error(absl::StrCat("vkey: ", key.status().message()));
      Pending p{.key = *std::move(key), .origin = "", .contact = "", .line = line_no};
      p.origin = p.key.name();
      pending.push_back(std::move(p));
      continue;
    }
    Field field;
    if (keyword == "origin") {
      field = Field::kOrigin;
    } else if (keyword == "bastion") {
      field = Field::kBastion;
    } else if (keyword == "qpd") {
      field = Field::kQpd;
    } else if (keyword == "contact") {
      field = Field::kContact;
    } else {
      if (pending.empty()) return error(absl::StrCat("\"", keyword, "\" before any vkey line"));
      ++out.ignored_lines;
      continue;
    }
    if (pending.empty()) return error(absl::StrCat("\"", keyword, "\" before any vkey line"));
    Pending& p = pending.back();
    if (static_cast<int>(field) <= static_cast<int>(p.last)) {
      return error(absl::StrCat("\"", keyword, "\" out of order or repeated (expected vkey, ",
                                "origin, bastion, qpd, contact)"));
    }
    p.last = field;
    if (value.empty()) return error(absl::StrCat(keyword, ": empty value"));
    switch (field) {
      case Field::kOrigin:
        if (value != "none") {
          if (value.front() == ' ' || value.back() == ' ') {
            return error("origin: leading or trailing space");
          }
          p.origin = std::string(value);
        }
        break;
      case Field::kQpd:
        if (!absl::SimpleAtoi(value, &p.qpd) || value.front() == '+' || value.front() == '-') {
          return error(absl::StrCat("qpd: \"", value, "\" is not a number of requests per day"));
        }
        break;
      case Field::kContact:
        p.contact = std::string(value);
        break;
      case Field::kVkey:
      case Field::kBastion:
        break;
    }
  }
  if (!header) return error("expected the header line \"logs/v0\"");
  // One log per origin, keys gathered, in order of first appearance.
  absl::flat_hash_map<std::string, size_t> index;
  for (Pending& p : pending) {
    if (p.origin.size() > kMaxOriginBytes) {
      line_no = p.line;
      return error(absl::StrCat("origin: ", p.origin.size(), " bytes, more than the ",
                                kMaxOriginBytes, " a witness takes"));
    }
    auto [it, inserted] = index.try_emplace(p.origin, out.logs.size());
    if (inserted) {
      out.logs.push_back(WitnessLog{
          .origin = p.origin, .keys = {}, .qpd = p.qpd, .contact = std::move(p.contact)});
    }
    WitnessLog& log = out.logs[it->second];
    if (log.qpd == 0) log.qpd = p.qpd;
    if (log.contact.empty()) log.contact = std::move(p.contact);
    const bool duplicate = std::any_of(log.keys.begin(), log.keys.end(),
                                       [&](const auto& k) { return k.vkey() == p.key.vkey(); });
    if (!duplicate) log.keys.push_back(std::move(p.key));
  }
  return out;
}

std::string FormatLogList(const std::vector<WitnessLog>& logs) {
  std::string out = "logs/v0\n";
  for (const WitnessLog& log : logs) {
    for (const NoteVerifier& key : log.keys) {
      absl::StrAppend(&out, "\nvkey ", key.vkey(), "\n");
      if (log.origin != key.name()) absl::StrAppend(&out, "origin ", log.origin, "\n");
      if (log.qpd != 0) absl::StrAppend(&out, "qpd ", log.qpd, "\n");
      if (!log.contact.empty()) absl::StrAppend(&out, "contact ", log.contact, "\n");
    }
  }
  return out;
}

absl::StatusOr<MergeReport> KnownLogs::Merge(const LogList& list, const Persist& persist) {
  MergeReport report;
  std::vector<const WitnessLog*> added;
  absl::MutexLock l(&mu_);
  for (const WitnessLog& log : list.logs) {
    if (auto it = by_origin_.find(log.origin); it != by_origin_.end()) {
      if (!SameKeys(it->second->keys, log.keys)) {
        report.refused.push_back(
            absl::StrCat(log.origin, ": listed with other keys than the ones it is known by; kept ",
                         it->second->keys.front().vkey(), " (a known log is never re-keyed)"));
      }
      continue;
    }
    const bool own_key = std::any_of(log.keys.begin(), log.keys.end(), [&](const auto& k) {
      return k.public_key() == witness_public_key_;
    });
    if (own_key) {
      report.refused.push_back(
          absl::StrCat(log.origin,
                       ": uses the witness's own key; a witness never cosigns for "
                       "its own key"));
      continue;
    }
    added.push_back(&log);
  }
  if (added.empty()) return report;
  if (persist) {
    std::vector<WitnessLog> all;
    all.reserve(logs_.size() + added.size());
    for (const auto& log : logs_) all.push_back(*log);
    for (const WitnessLog* log : added) all.push_back(*log);
    if (absl::Status s = persist(all); !s.ok()) return s;
  }
  for (const WitnessLog* log : added) {
    auto owned = std::make_unique<WitnessLog>(*log);
    const WitnessLog* p = owned.get();
    logs_.push_back(std::move(owned));
    by_origin_[p->origin] = p;
    const Hash h = Sha256(p->origin);
    by_hash_[HexEncode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()))] = p;
    report.added.push_back(p->origin);
  }
  return report;
}

const WitnessLog* KnownLogs::Find(absl::string_view origin) const {
  absl::MutexLock l(&mu_);
  auto it = by_origin_.find(origin);
  return it == by_origin_.end() ? nullptr : it->second;
}

const WitnessLog* KnownLogs::FindByOriginHash(absl::string_view hex) const {
  absl::MutexLock l(&mu_);
  auto it = by_hash_.find(hex);
  return it == by_hash_.end() ? nullptr : it->second;
}

size_t KnownLogs::size() const {
  absl::MutexLock l(&mu_);
  return logs_.size();
}

std::vector<WitnessLog> KnownLogs::Snapshot() const {
  absl::MutexLock l(&mu_);
  std::vector<WitnessLog> out;
  out.reserve(logs_.size());
  for (const auto& log : logs_) out.push_back(*log);
  return out;
}

}  // namespace infratrail
