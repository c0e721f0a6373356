#include "verifier/monitor/console.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/io/file_util.h"
#include "google/protobuf/util/json_util.h"
#include "infratrail/v1/event.pb.h"
#include "nlohmann/json.hpp"
#include "verifier/monitor/console_assets.h"
#include "verifier/monitor/event_index.h"
#include "verifier/monitor/finding.h"

namespace infratrail {
namespace {

constexpr absl::string_view kJson = "application/json";
// A query longer than this, or with a value longer than kMaxValue, is 400.
constexpr size_t kMaxQuery = 4096;
constexpr size_t kMaxValue = 1024;
// Evidence files are checkpoints and tiles; larger ones are not served.
constexpr size_t kMaxEvidenceFile = size_t{16} << 20;

// The page's policy: its own script and style only, nothing inline, and
// fetches to itself and to the logs' tile servers (the in-browser proof
// check reads the log directly).
std::string PagePolicy(const std::vector<std::shared_ptr<const ConsoleLogView>>& logs) {
  std::vector<std::string> connect = {"'self'"};
  for (const auto& v : logs) {
    if (v->tiles_url.empty()) continue;
    // scheme://host[:port] of the tiles URL.
    const size_t scheme_end = v->tiles_url.find("://");
    if (scheme_end == std::string::npos) continue;
    const size_t path = v->tiles_url.find('/', scheme_end + 3);
    std::string origin = v->tiles_url.substr(0, path);
    // Only what a source expression may hold: a space, ';' or a line break
    // in the configured URL would add sources or directives, or (CR, LF)
    // make the header be dropped.
    const bool plain = absl::c_all_of(origin, [](char c) {
      return absl::ascii_isalnum(c) ||
             absl::string_view(":/.-_[]").find(c) != absl::string_view::npos;
    });
    if (plain && std::find(connect.begin(), connect.end(), origin) == connect.end()) {
      connect.push_back(std::move(origin));
    }
  }
  return absl::StrCat(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src ",
      absl::StrJoin(connect, " "), "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
}

// Every reply of the console: for its own pages only (no CORS), as the
// findings and the policy's verdicts are the auditor's.
HttpReply OwnReply(int status, std::string body, absl::string_view content_type) {
  HttpReply r = TextReply(status, std::move(body), content_type);
  r.any_origin = false;
  return r;
}

HttpReply JsonReply(int status, const nlohmann::json& j) {
  return OwnReply(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  kJson);
}

HttpReply ErrorReply(int status, absl::string_view message) {
  return JsonReply(status, {{"error", std::string(message)}});
}

std::string Time(absl::Time t) {
  if (t == absl::InfinitePast()) return "";
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

nlohmann::json TimeOrNull(absl::Time t) {
  if (t == absl::InfinitePast()) return nullptr;
  return Time(t);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
absl::StatusOr<std::string> Decode(absl::string_view s, absl::string_view name) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": a '%' not followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The query's parameters, each named at most once and among `allowed`.
class Query {
 public:
  static absl::StatusOr<Query> Parse(absl::string_view raw,
                                     const std::vector<absl::string_view>& allowed) {
    if (raw.size() > kMaxQuery) {
      return absl::InvalidArgumentError(absl::StrCat("query longer than ", kMaxQuery, " bytes"));
    }
    Query q;
    for (absl::string_view part : absl::StrSplit(raw, '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(part, absl::MaxSplits('=', 1));
      absl::StatusOr<std::string> name = Decode(kv.first, "query parameter name");
      if (!name.ok()) return name.status();
      if (std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown query parameter \"", absl::CHexEscape(*name),
                         "\" (known: ", absl::StrJoin(allowed, ", "), ")"));
      }
      absl::StatusOr<std::string> value = Decode(kv.second, *name);
      if (!value.ok()) return value.status();
      if (value->size() > kMaxValue) {
        return absl::InvalidArgumentError(
            absl::StrCat(*name, ": longer than ", kMaxValue, " bytes"));
      }
      if (!q.values_.emplace(*name, *std::move(value)).second) {
        return absl::InvalidArgumentError(absl::StrCat(*name, ": given more than once"));
      }
    }
    return q;
  }

  // "" when absent (an empty value is the same as none).
  std::string Get(absl::string_view name) const {
    auto it = values_.find(std::string(name));
    return it == values_.end() ? "" : it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

absl::StatusOr<std::optional<absl::Time>> ParseTimeParam(const Query& q, absl::string_view name) {
  const std::string v = q.Get(name);
  if (v.empty()) return std::nullopt;
  absl::Time t;
  std::string err;
  // RFC 3339, or what an <input type="datetime-local"> or "date" sends
  // (taken as UTC).
  for (const char* format :
       {absl::RFC3339_full, "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, v, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(name, ": \"", absl::CHexEscape(v),
                   "\" is not a time (RFC 3339, or YYYY-MM-DD[THH:MM[:SS]] in UTC)"));
}

absl::StatusOr<uint64_t> ParseUintParam(const Query& q, absl::string_view name, uint64_t absent) {
  const std::string v = q.Get(name);
  if (v.empty()) return absent;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(v, &n) || !absl::ascii_isdigit(v[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", absl::CHexEscape(v), "\" is not a non-negative integer"));
  }
  return n;
}

absl::StatusOr<std::optional<int>> ParseKindParam(const Query& q) {
  const std::string v = q.Get("kind");
  if (v.empty()) return std::nullopt;
  v1::EventKind kind;
  if (v1::EventKind_Parse(v, &kind) && kind != v1::EVENT_KIND_UNSPECIFIED) {
    return static_cast<int>(kind);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kind: \"", absl::CHexEscape(v), "\" is not an event kind (PROVISION, ...)"));
}

// The paging and time parameters both searches take.
struct Window {
  std::optional<absl::Time> from, to;
  uint64_t before = UINT64_MAX;
  size_t limit = 50;
};

absl::StatusOr<Window> ParseWindow(const Query& q) {
  Window w;
  absl::StatusOr<std::optional<absl::Time>> from = ParseTimeParam(q, "from");
  if (!from.ok()) return from.status();
  absl::StatusOr<std::optional<absl::Time>> to = ParseTimeParam(q, "to");
  if (!to.ok()) return to.status();
  absl::StatusOr<uint64_t> before = ParseUintParam(q, "before", UINT64_MAX);
  if (!before.ok()) return before.status();
  absl::StatusOr<uint64_t> limit = ParseUintParam(q, "limit", 50);
  if (!limit.ok()) return limit.status();
  w.from = *from;
  w.to = *to;
  w.before = *before;
  w.limit = static_cast<size_t>(std::clamp<uint64_t>(*limit, 1, kMaxSearchLimit));
  return w;
}

std::string KindName(int kind) {
  const std::string& name = v1::EventKind_Name(static_cast<v1::EventKind>(kind));
  return name.empty() ? absl::StrCat(kind) : name;
}

// The log `log=` names, or the only one.
absl::StatusOr<std::shared_ptr<const ConsoleLogView>> PickLog(const ConsoleViews& views,
                                                              const Query& q) {
  std::vector<std::shared_ptr<const ConsoleLogView>> all = views.All();
  const std::string id = q.Get("log");
  if (id.empty()) {
    if (all.size() == 1) return all[0];
    return absl::InvalidArgumentError(
        all.empty()
            ? "no log has been verified yet"
            : "log: required when the monitor follows more than one log (see /api/v1/logs)");
  }
  for (auto& v : all) {
    if (HashToHex(Sha256(v->origin)) == id) return v;
  }
  return absl::NotFoundError(absl::StrCat("log: no log with id \"", absl::CHexEscape(id), "\""));
}

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    default:
      return 503;
  }
}

HttpReply StatusReply(const absl::Status& s) { return ErrorReply(HttpStatusOf(s), s.message()); }

nlohmann::json SeverityCountsJson(const SeverityCounts& c) {
  return {
      {"critical", c.critical}, {"alert", c.alert}, {"warning", c.warning}, {"notice", c.notice}};
}

nlohmann::json LogJson(const ConsoleLogView& v) {
  nlohmann::json j = {
      {"id", HashToHex(Sha256(v.origin))},
      {"origin", v.origin},
      {"log_url", v.log_url},
      {"tiles_url", v.tiles_url},
      {"log_key", v.log_key},
      {"witness_keys", v.witness_keys},
      {"witness_threshold", v.witness_threshold},
      {"verified_size", v.verified_size},
      {"log_size", v.log_size},
      {"lag", v.log_size > v.verified_size ? v.log_size - v.verified_size : 0},
      {"trusted_checkpoint", v.trusted_checkpoint},
      {"cosigned_by", v.cosigned_by},
      {"following_since", TimeOrNull(v.started)},
      {"last_round", TimeOrNull(v.last_round)},
      {"last_outcome", v.last_outcome},
      {"last_success", TimeOrNull(v.last_success)},
      {"operational_errors", v.operational_errors},
      {"last_operational", v.last_operational},
      {"last_operational_time", TimeOrNull(v.last_operational_time)},
      {"events_indexed", v.index != nullptr},
  };
  if (v.index != nullptr) {
    // Findings by severity per hour over the last day, for the chart.
    const absl::Time now = absl::Now();
    const absl::Time to = absl::FromUnixSeconds((absl::ToUnixSeconds(now) / 3600 + 1) * 3600);
    absl::StatusOr<std::vector<SeverityCounts>> h =
        v.index->FindingHistogram(to - absl::Hours(24), to, absl::Hours(1));
    nlohmann::json buckets = nlohmann::json::array();
    SeverityCounts total;
    if (h.ok()) {
      for (size_t i = 0; i < h->size(); ++i) {
        const SeverityCounts& c = (*h)[i];
        nlohmann::json b = SeverityCountsJson(c);
        b["start"] = Time(c.start);
        buckets.push_back(std::move(b));
        total.critical += c.critical;
        total.alert += c.alert;
        total.warning += c.warning;
        total.notice += c.notice;
      }
    }
    j["findings_last_24h"] = SeverityCountsJson(total);
    j["findings_by_hour"] = std::move(buckets);
  }
  return j;
}

// Evidence file names in `dir` (plain files only), sorted.
std::vector<std::string> EvidenceFiles(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || e->d_type == DT_DIR) continue;
    names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json FindingJson(const ConsoleLogView& v, const Finding& f) {
  nlohmann::json j = f.ToJson();
  if (!f.evidence.empty()) {
    j["evidence_files"] = EvidenceFiles(absl::StrCat(v.state_dir, "/", f.evidence));
  }
  return j;
}

nlohmann::json EventSummaryJson(const IndexedEvent& e) {
  nlohmann::json j = {
      {"index", e.index}, {"leaf_hash", HashToBase64(e.leaf_hash)}, {"parsed", e.parsed}};
  if (e.parsed) {
    j["kind"] = KindName(e.kind);
    j["provider"] = e.provider;
    j["type"] = e.type;
    j["resource_id"] = e.resource_id;
    j["actor"] = e.actor;
    j["occurred_at"] = e.occurred_at.has_value() ? nlohmann::json(Time(*e.occurred_at)) : nullptr;
  }
  return j;
}

// The event as proto3 JSON. An occurred_at proto3 JSON has no form for
// (beyond year 9999, nanos outside [0, 10^9)) is given as its raw seconds
// and nanos, rather than hiding every other field of the event. Null if it
// still cannot be printed.
nlohmann::json EventJson(v1::InfraEvent event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (google::protobuf::util::MessageToJsonString(event, &json, options).ok()) {
    return nlohmann::json::parse(json, nullptr, false);
  }
  if (!event.has_occurred_at()) return nullptr;
  const google::protobuf::Timestamp t = event.occurred_at();
  event.clear_occurred_at();
  json.clear();  // the failed print may have left part of its output
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) return nullptr;
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return nullptr;
  j["occurred_at"] = {{"seconds", absl::StrCat(t.seconds())}, {"nanos", t.nanos()}};
  return j;
}

HttpReply Logs(const ConsoleViews& views) {
  nlohmann::json logs = nlohmann::json::array();
  for (const auto& v : views.All()) logs.push_back(LogJson(*v));
  return JsonReply(200, {{"logs", std::move(logs)}, {"now", Time(absl::Now())}});
}

HttpReply Events(const ConsoleViews& views, absl::string_view raw_query) {
  absl::StatusOr<Query> q = Query::Parse(
      raw_query,
      {"log", "provider", "type", "resource_id", "actor", "kind", "from", "to", "before", "limit"});
  if (!q.ok()) return StatusReply(q.status());
  absl::StatusOr<std::shared_ptr<const ConsoleLogView>> log = PickLog(views, *q);
  if (!log.ok()) return StatusReply(log.status());
  if ((*log)->index == nullptr) {
    return ErrorReply(409, "this log's entries are not InfraEvents: no event index");
  }
  EventQuery eq;
  eq.provider = q->Get("provider");
  eq.type = q->Get("type");
  eq.resource_id = q->Get("resource_id");
  eq.actor = q->Get("actor");
  absl::StatusOr<std::optional<int>> kind = ParseKindParam(*q);
  if (!kind.ok()) return StatusReply(kind.status());
  eq.kind = *kind;
  absl::StatusOr<Window> w = ParseWindow(*q);
  if (!w.ok()) return StatusReply(w.status());
  eq.from = w->from;
  eq.to = w->to;
  eq.before = w->before;
  eq.limit = w->limit;
  eq.verified = (*log)->verified_size;
  absl::StatusOr<EventPage> page = (*log)->index->Search(eq);
  if (!page.ok()) return StatusReply(page.status());
  nlohmann::json events = nlohmann::json::array();
  for (const IndexedEvent& e : page->events) events.push_back(EventSummaryJson(e));
  return JsonReply(200,
                   {{"events", std::move(events)},
                    {"next_before",
                     page->next_before.has_value() ? nlohmann::json(*page->next_before) : nullptr},
                    {"examined", page->examined},
                    {"verified_size", (*log)->verified_size}});
}

HttpReply Event(const ConsoleViews& views, uint64_t index, absl::string_view raw_query) {
  absl::StatusOr<Query> q = Query::Parse(raw_query, {"log"});
  if (!q.ok()) return StatusReply(q.status());
  absl::StatusOr<std::shared_ptr<const ConsoleLogView>> log = PickLog(views, *q);
  if (!log.ok()) return StatusReply(log.status());
  const ConsoleLogView& v = **log;
  if (v.index == nullptr) {
    return ErrorReply(409, "this log's entries are not InfraEvents: no event index");
  }
  if (index >= v.verified_size) {
    return ErrorReply(404, absl::StrCat("entry ", index, " is not verified yet (verified size ",
                                        v.verified_size, ")"));
  }
  absl::StatusOr<std::optional<IndexedEvent>> e = v.index->Get(index);
  if (!e.ok()) return StatusReply(e.status());
  if (!e->has_value()) return ErrorReply(404, absl::StrCat("entry ", index, " is not indexed"));
  nlohmann::json j = EventSummaryJson(**e);
  j["entry"] = Base64Encode((*e)->entry);
  j["entry_bytes"] = (*e)->entry.size();
  v1::InfraEvent event;
  if ((*e)->parsed && event.ParseFromString((*e)->entry)) {
    if (nlohmann::json ej = EventJson(std::move(event)); !ej.is_null()) j["event"] = std::move(ej);
  }
  return JsonReply(200, j);
}

HttpReply Findings(const ConsoleViews& views, absl::string_view raw_query) {
  absl::StatusOr<Query> q = Query::Parse(raw_query, {"log", "severity", "rule", "kind", "resource",
                                                     "actor", "from", "to", "before", "limit"});
  if (!q.ok()) return StatusReply(q.status());
  absl::StatusOr<std::shared_ptr<const ConsoleLogView>> log = PickLog(views, *q);
  if (!log.ok()) return StatusReply(log.status());
  const ConsoleLogView& v = **log;
  if (v.index == nullptr) {
    return ErrorReply(409, "this log's entries are not InfraEvents: no finding history");
  }
  FindingQuery fq;
  if (const std::string s = q->Get("severity"); !s.empty()) {
    absl::StatusOr<Severity> sev = ParseSeverity(absl::AsciiStrToUpper(s));
    if (!sev.ok()) return ErrorReply(400, absl::StrCat("severity: ", sev.status().message()));
    fq.severity = *sev;
  }
  fq.rule = q->Get("rule");
  fq.kind = q->Get("kind");
  fq.resource = q->Get("resource");
  fq.actor = q->Get("actor");
  absl::StatusOr<Window> w = ParseWindow(*q);
  if (!w.ok()) return StatusReply(w.status());
  fq.from = w->from;
  fq.to = w->to;
  fq.before_seq = w->before;
  fq.limit = w->limit;
  absl::StatusOr<FindingPage> page = v.index->Findings(fq);
  if (!page.ok()) return StatusReply(page.status());
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : page->findings) findings.push_back(FindingJson(v, f));
  return JsonReply(200, {{"findings", std::move(findings)},
                         {"next_before", page->next_before_seq.has_value()
                                             ? nlohmann::json(*page->next_before_seq)
                                             : nullptr}});
}

HttpReply Evidence(const ConsoleViews& views, uint64_t seq, absl::string_view name,
                   absl::string_view raw_query) {
  absl::StatusOr<Query> q = Query::Parse(raw_query, {"log"});
  if (!q.ok()) return StatusReply(q.status());
  absl::StatusOr<std::shared_ptr<const ConsoleLogView>> log = PickLog(views, *q);
  if (!log.ok()) return StatusReply(log.status());
  const ConsoleLogView& v = **log;
  if (v.index == nullptr) return ErrorReply(409, "no finding history for this log");
  FindingQuery fq;
  fq.before_seq = seq + 1;
  fq.limit = 1;
  absl::StatusOr<FindingPage> page = v.index->Findings(fq);
  if (!page.ok()) return StatusReply(page.status());
  if (page->findings.empty() || page->findings[0].seq != seq ||
      page->findings[0].evidence.empty()) {
    return ErrorReply(404, absl::StrCat("finding ", seq, " has no evidence"));
  }
  const std::string dir = absl::StrCat(v.state_dir, "/", page->findings[0].evidence);
  // Only a name the directory lists: never a path.
  const std::vector<std::string> files = EvidenceFiles(dir);
  if (std::find(files.begin(), files.end(), name) == files.end()) {
    return ErrorReply(404, absl::StrCat("finding ", seq, " has no evidence file \"",
                                        absl::CHexEscape(name), "\""));
  }
  absl::StatusOr<std::string> bytes =
      ReadRegularFileBounded(absl::StrCat(dir, "/", name), kMaxEvidenceFile);
  if (!bytes.ok()) return ErrorReply(503, bytes.status().message());
  return OwnReply(200, *std::move(bytes), "application/octet-stream");
}

// "/prefix<decimal>" → the number; nullopt if the rest is not one.
std::optional<uint64_t> NumberAfter(absl::string_view url, absl::string_view prefix,
                                    absl::string_view* rest) {
  if (!absl::ConsumePrefix(&url, prefix)) return std::nullopt;
  const size_t end = std::min(url.find('/'), url.size());
  uint64_t n = 0;
  const absl::string_view digits = url.substr(0, end);
  if (digits.empty() || digits.size() > 20 || !absl::c_all_of(digits, absl::ascii_isdigit) ||
      (digits.size() > 1 && digits[0] == '0') || !absl::SimpleAtoi(digits, &n)) {
    return std::nullopt;
  }
  *rest = url.substr(end);
  return n;
}

// A page: `/`, `/findings`, `/events`, `/events/<index>`.
bool IsPage(absl::string_view url) {
  absl::string_view rest;
  return url == "/" || url == "/findings" || url == "/events" ||
         (NumberAfter(url, "/events/", &rest).has_value() && rest.empty());
}

std::optional<HttpReply> Asset(absl::string_view url, const ConsoleViews& views) {
  absl::string_view file;
  if (IsPage(url)) {
    file = "index.html";
  } else if (absl::StartsWith(url, "/static/")) {
    file = url.substr(8);
  } else {
    return std::nullopt;
  }
  for (const ConsoleAsset& a : ConsoleAssets()) {
    if (a.name != file) continue;
    HttpReply r = OwnReply(200, std::string(a.bytes), a.content_type);
    r.cache_control = "no-cache";
    if (file == "index.html") r.content_security_policy = PagePolicy(views.All());
    return r;
  }
  return std::nullopt;
}

}  // namespace

void ConsoleViews::Publish(ConsoleLogView view) {
  auto v = std::make_shared<const ConsoleLogView>(std::move(view));
  absl::MutexLock l(&mu_);
  for (auto& old : views_) {
    if (old->origin == v->origin) {
      old = std::move(v);
      return;
    }
  }
  views_.push_back(std::move(v));
}

void ConsoleViews::Retain(const std::vector<std::string>& origins) {
  absl::MutexLock l(&mu_);
  views_.erase(std::remove_if(views_.begin(), views_.end(),
                              [&origins](const std::shared_ptr<const ConsoleLogView>& v) {
                                return std::find(origins.begin(), origins.end(), v->origin) ==
                                       origins.end();
                              }),
               views_.end());
}

std::vector<std::shared_ptr<const ConsoleLogView>> ConsoleViews::All() const {
  absl::MutexLock l(&mu_);
  return views_;
}

void AddConsoleRoutes(const ConsoleViews* views, HttpRouter* router) {
  router->Add([views](const HttpRequest& request) -> std::optional<HttpReply> {
    const absl::string_view url = request.url;
    if (url == "/api/v1/logs") return Logs(*views);
    if (url == "/api/v1/events") return Events(*views, request.query);
    if (url == "/api/v1/findings") return Findings(*views, request.query);
    absl::string_view rest;
    if (std::optional<uint64_t> index = NumberAfter(url, "/api/v1/events/", &rest)) {
      if (rest.empty()) return Event(*views, *index, request.query);
      return ErrorReply(404, "no such API path");
    }
    if (std::optional<uint64_t> seq = NumberAfter(url, "/api/v1/findings/", &rest)) {
      if (absl::ConsumePrefix(&rest, "/evidence/") && !rest.empty() &&
          rest.find('/') == absl::string_view::npos) {
        return Evidence(*views, *seq, rest, request.query);
      }
      return ErrorReply(404, "no such API path");
    }
    if (absl::StartsWith(url, "/api/")) return ErrorReply(404, "no such API path");
    return Asset(url, *views);
  });
}

}  // namespace infratrail
