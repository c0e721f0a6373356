#include "verifier/monitor/monitor_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "nlohmann/json.hpp"

namespace infratrail {
namespace {

using json = nlohmann::json;

constexpr int kStateVersion = 1;

json Hashes(const std::vector<Hash>& hs) {
  json a = json::array();
  for (const Hash& h : hs) a.push_back(HashToBase64(h));
  return a;
}

json Rows(const std::array<std::vector<Hash>, kMaxTileLevel + 1>& rows) {
  json a = json::array();
  for (const auto& r : rows) a.push_back(Hashes(r));
  return a;
}

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("state.json: \"", field, "\": ", why));
}

absl::StatusOr<std::vector<Hash>> ReadHashes(const json& a, absl::string_view field) {
  if (!a.is_array()) return Bad(field, "not an array");
  std::vector<Hash> out;
  for (const json& e : a) {
    if (!e.is_string()) return Bad(field, "not an array of strings");
    absl::StatusOr<Hash> h = HashFromBase64(e.get<std::string>(), field);
    if (!h.ok()) return Bad(field, h.status().message());
    out.push_back(*h);
  }
  return out;
}

absl::Status ReadRows(const json& a, absl::string_view field,
                      std::array<std::vector<Hash>, kMaxTileLevel + 1>* rows) {
  if (!a.is_array() || a.size() != rows->size()) return Bad(field, "not one array per tile level");
  for (size_t i = 0; i < rows->size(); ++i) {
    absl::StatusOr<std::vector<Hash>> r = ReadHashes(a[i], field);
    if (!r.ok()) return r.status();
    if (r->size() >= kTileWidth) return Bad(field, "a row of a full tile");
    (*rows)[i] = *std::move(r);
  }
  return absl::OkStatus();
}

absl::Status ReadPosition(const json& j, absl::string_view prefix, uint64_t* next,
                          CompactRange* range,
                          std::array<std::vector<Hash>, kMaxTileLevel + 1>* rows) {
  const std::string n = absl::StrCat(prefix, "next");
  if (!j.contains(n) || !j[n].is_number_unsigned()) return Bad(n, "not an unsigned number");
  *next = j[n].get<uint64_t>();
  absl::StatusOr<std::vector<Hash>> hashes =
      ReadHashes(j.value(absl::StrCat(prefix, "range"), json()), absl::StrCat(prefix, "range"));
  if (!hashes.ok()) return hashes.status();
  absl::StatusOr<CompactRange> r = CompactRange::FromHashes(0, *next, *std::move(hashes));
  if (!r.ok()) return Bad(absl::StrCat(prefix, "range"), r.status().message());
  *range = *std::move(r);
  return ReadRows(j.value(absl::StrCat(prefix, "rows"), json()), absl::StrCat(prefix, "rows"),
                  rows);
}

}  // namespace

std::string EncodeMonitorState(const MonitorState& s) {
  json spool = json::array();
  for (const SpooledFinding& f : s.spool) {
    json e = f.finding.ToJson();
    e["_channels"] = f.channels;
    spool.push_back(std::move(e));
  }
  json j = {
      {"version", kStateVersion},
      {"log_key", s.log_key},
      {"trusted_note", s.audit.trusted_note},
      {"target_note", s.audit.target_note},
      {"next", s.audit.next},
      {"range", Hashes(s.audit.range.hashes())},
      {"rows", Rows(s.audit.rows)},
      {"trusted_next", s.audit.trusted_next},
      {"trusted_range", Hashes(s.audit.trusted_range.hashes())},
      {"trusted_rows", Rows(s.audit.trusted_rows)},
      {"raised", s.audit.raised},
      {"next_seq", s.next_seq},
      {"stale_raised", s.stale_raised},
      {"spool", std::move(spool)},
      {"last_success", s.last_success == absl::InfinitePast()
                           ? json(nullptr)
                           : json(absl::ToUnixSeconds(s.last_success))},
      {"policy", s.policy.Encode()},
  };
  // Mostly the same: written only while an audit toward a target is
  // under way.
  if (!(s.policy_trusted == s.policy)) j["policy_trusted"] = s.policy_trusted.Encode();
  return j.dump(1) + "\n";
}

absl::StatusOr<MonitorState> DecodeMonitorState(absl::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("state.json: not a JSON object");
  }
  if (j.value("version", 0) != kStateVersion) {
    return Bad("version", absl::StrCat("expected ", kStateVersion));
  }
  MonitorState s;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"log_key", &s.log_key},
                          {"trusted_note", &s.audit.trusted_note},
                          {"target_note", &s.audit.target_note}}) {
    if (!j.contains(key) || !j[key].is_string()) return Bad(key, "not a string");
    *out = j[key].get<std::string>();
  }
  if (absl::Status st = ReadPosition(j, "", &s.audit.next, &s.audit.range, &s.audit.rows);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = ReadPosition(j, "trusted_", &s.audit.trusted_next, &s.audit.trusted_range,
                                     &s.audit.trusted_rows);
      !st.ok()) {
    return st;
  }
  if (s.audit.trusted_next > s.audit.next) return Bad("trusted_next", "beyond next");
  // The auditor reads these notes without re-checking them: a state file
  // edited by hand must not get that far.
  for (auto [key, note, size_must] :
       {std::tuple<const char*, const std::string*, uint64_t>{"trusted_note", &s.audit.trusted_note,
                                                              s.audit.trusted_next},
        {"target_note", &s.audit.target_note, s.audit.next}}) {
    if (note->empty()) continue;
    absl::StatusOr<Note> n = ParseNote(*note);
    if (!n.ok()) return Bad(key, n.status().message());
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(n->text);
    if (!cp.ok()) return Bad(key, cp.status().message());
    const bool trusted = std::string_view(key) == "trusted_note";
    if (trusted ? cp->size != size_must : cp->size < size_must) {
      return Bad(key,
                 absl::StrCat("size ", cp->size, " does not match the audit position ", size_must));
    }
  }
  if (!j.contains("raised") || !j["raised"].is_array()) return Bad("raised", "not an array");
  for (const json& r : j["raised"]) {
    if (!r.is_string()) return Bad("raised", "not an array of strings");
    s.audit.raised.push_back(r.get<std::string>());
  }
  if (!j.contains("next_seq") || !j["next_seq"].is_number_unsigned()) {
    return Bad("next_seq", "not an unsigned number");
  }
  s.next_seq = j["next_seq"].get<uint64_t>();
  if (!j.contains("spool") || !j["spool"].is_array()) return Bad("spool", "not an array");
  for (const json& e : j["spool"]) {
    absl::StatusOr<Finding> f = Finding::FromJson(e);
    if (!f.ok()) return Bad("spool", f.status().message());
    SpooledFinding sf;
    sf.finding = *std::move(f);
    if (e.contains("_channels") && e["_channels"].is_array()) {
      for (const json& c : e["_channels"]) {
        if (c.is_string()) sf.channels.push_back(c.get<std::string>());
      }
    }
    s.spool.push_back(std::move(sf));
  }
  // Absent from states written before the event policy: nothing known.
  if (j.contains("policy")) {
    if (!j["policy"].is_string()) return Bad("policy", "not a string");
    absl::StatusOr<PolicyState> p = PolicyState::Decode(j["policy"].get<std::string>());
    if (!p.ok()) return Bad("policy", p.status().message());
    s.policy = *std::move(p);
    s.policy_trusted = s.policy;
  }
  if (j.contains("policy_trusted")) {
    if (!j["policy_trusted"].is_string()) return Bad("policy_trusted", "not a string");
    absl::StatusOr<PolicyState> p = PolicyState::Decode(j["policy_trusted"].get<std::string>());
    if (!p.ok()) return Bad("policy_trusted", p.status().message());
    s.policy_trusted = *std::move(p);
  }
  s.stale_raised = j.value("stale_raised", false);
  if (j.contains("last_success") && j["last_success"].is_number_integer()) {
    s.last_success = absl::FromUnixSeconds(j["last_success"].get<int64_t>());
  }
  return s;
}

absl::StatusOr<StateDir> StateDir::Open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("state dir ", dir, ": mkdir: ", std::strerror(errno)));
  }
  const std::string lock = absl::StrCat(dir, "/lock");
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(lock, ": open: ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another monitor holds ", lock, "; one state dir serves one monitor"));
    }
    return absl::FailedPreconditionError(absl::StrCat(lock, ": flock: ", std::strerror(err)));
  }
  return StateDir(dir, fd);
}

StateDir::StateDir(StateDir&& other) noexcept
    : dir_(std::move(other.dir_)), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

StateDir::~StateDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::StatusOr<MonitorState> StateDir::Load() const {
  absl::StatusOr<std::string> text = ReadFileToString(absl::StrCat(dir_, "/state.json"));
  if (!text.ok()) return text.status();
  return DecodeMonitorState(*text);
}

absl::Status StateDir::Save(const MonitorState& state) const {
  // Commit point: once the rename is durable, the new trusted checkpoint,
  // position and spooled findings are all in effect; before it, none is
  // (a crash re-audits from the previous commit and re-finds the same).
  return WriteFileAtomic(absl::StrCat(dir_, "/state.json"), EncodeMonitorState(state), 0600);
}

absl::StatusOr<std::string> StateDir::WriteEvidence(const std::string& name,
                                                    const std::vector<EvidenceFile>& files) const {
  const std::string top = absl::StrCat(dir_, "/evidence");
  const std::string rel = absl::StrCat("evidence/", name);
  const std::string path = absl::StrCat(dir_, "/", rel);
  for (const std::string& d : {top, path}) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat(d, ": mkdir: ", std::strerror(errno)));
    }
  }
  for (const EvidenceFile& f : files) {
    if (absl::Status s = WriteFileAtomic(absl::StrCat(path, "/", f.name), f.bytes, 0600,
                                         /*sync_directory=*/false);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = SyncDirectory(path); !s.ok()) return s;
  if (absl::Status s = SyncDirectory(top); !s.ok()) return s;
  return rel;
}

}  // namespace infratrail
