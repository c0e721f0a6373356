// The event index's on-disk format (docs/event_index.md), its constants in
// one place: the keys of each column family, the records they map to, and
// the summary taken from an entry. Pure functions; no I/O.
//
// Strings inside keys are length-prefixed (a LEB128 varint, then the bytes),
// so any bytes, NUL included, make one unambiguous key, and no value's keys
// are a prefix of another value's. Integers in keys are big-endian so that
// key order is numeric order; times are offset by 2^63 to sort signed.
#ifndef INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_FORMAT_H_
#define INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_FORMAT_H_

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "verifier/monitor/event_index.h"
#include "verifier/monitor/finding.h"

namespace infratrail::v1 {
class InfraEvent;
}  // namespace infratrail::v1

namespace infratrail::event_index {

// Column families, in the order they are opened.
enum Cf : size_t {
  kMeta = 0,      // "default": kFormatKey, zone keys
  kEvents = 1,    // EventKey -> event record
  kPostings = 2,  // posting keys -> fingerprint
  kFindings = 3,  // FindingKey -> finding record; FindingTimeKey -> severity byte
};
inline constexpr const char* kCfNames[] = {"default", "events", "postings", "findings"};

inline constexpr char kFormatKey[] = "format";
inline constexpr char kFormatValue[] = "infratrail-event-index/1";

// Indices per zone (docs/event_index.md, "Zones").
inline constexpr uint64_t kZoneBlock = 1024;
// Time ranges a zone keeps at most.
inline constexpr size_t kZoneRanges = 8;

// The times of the events in one block [b * kZoneBlock, (b + 1) *
// kZoneBlock), so that a time query skips blocks: at most kZoneRanges
// disjoint ranges [least, greatest] of microseconds covering all of them.
// When a time falls outside every range it gets its own, and the two
// ranges with the smallest gap between them are joined when there are too
// many: a few events logged late or backfilled keep ranges of their own
// instead of stretching the block over days. A zone covers every time
// added to it; it may cover more.
class Zone {
 public:
  void Add(int64_t micros) { AddRange(micros, micros); }
  void Merge(const Zone& other);
  bool empty() const { return count_ == 0; }
  // False only if no time in [lo, hi) is covered.
  bool MayHold(int64_t lo, int64_t hi) const;

  std::string Encode() const;
  // False for a value that is not one Encode wrote.
  static bool Decode(absl::string_view value, Zone* zone);

 private:
  void AddRange(int64_t least, int64_t greatest);

  uint8_t count_ = 0;
  std::array<std::pair<int64_t, int64_t>, kZoneRanges + 1> ranges_ = {};  // sorted, disjoint
};

// Meta.
std::string ZoneKey(uint64_t block);  // 'z' BE64(block)

// Events: BE64(index).
std::string EventKey(uint64_t index);

// Postings: a prefix naming the value, then BE64(~index), so that a forward
// iterator meets the newest entries first.
std::string ResourcePrefix(absl::string_view resource_id);  // 'r' varint(len) bytes
std::string ActorPrefix(absl::string_view actor);           // 'a' varint(len) bytes
std::string KindPrefix(int kind);                           // 'k' BE32(kind as uint32)
std::string AllPrefix();                                    // 's': every entry
std::string PostingKey(absl::string_view prefix, uint64_t index);
// The index at the end of a posting key; false if it is shorter than 8 bytes.
bool PostingIndex(absl::string_view key, uint64_t* index);

// Findings.
std::string FindingKey(uint64_t seq);  // 'f' BE64(~seq): newest first
// The seq of a finding key; false if it is not one.
bool FindingSeq(absl::string_view key, uint64_t* seq);
std::string FindingTimeKey(int64_t micros, uint64_t seq);  // 't' BE64(micros + 2^63) BE64(seq)
inline constexpr char kFindingPrefix = 'f';
inline constexpr char kFindingTimePrefix = 't';

uint64_t OffsetMicros(int64_t micros);  // micros + 2^63, order-preserving
int64_t FromOffsetMicros(uint64_t v);

// The summary of an entry, in an IndexedEvent (index, leaf hash and entry
// untouched): parsed as the monitor parses it (InfraEvent::ParseFromArray),
// into `scratch`, a message reused from call to call.
void Summarize(absl::string_view entry, v1::InfraEvent* scratch, IndexedEvent* e);

// A posting's value: enough of the summary to test every filter without
// reading the event's record. Strings as 32-bit hashes: equal hashes only
// make an event a candidate; its record decides.
struct Fingerprint {
  bool parsed = false;
  bool has_time = false;
  uint32_t kind = 0;
  int64_t micros = 0;
  uint32_t provider = 0;
  uint32_t type = 0;
  uint32_t resource_id = 0;
  uint32_t actor = 0;
};
uint32_t FieldHash(absl::string_view s);
std::string EncodeFingerprint(const IndexedEvent& e);
bool DecodeFingerprint(absl::string_view value, Fingerprint* f);

// An event's record: version, flags, leaf hash, the summary, the entry
// (`entry`, not e.entry).
std::string EncodeEvent(const IndexedEvent& e, absl::string_view entry);
// DataLoss naming the index for a record that is not one we wrote.
absl::Status DecodeEvent(uint64_t index, absl::string_view value, IndexedEvent* e);

// A finding's record: version, severity, time and the filtered strings (so
// a query reads them without parsing JSON), then Finding::ToJson.
std::string EncodeFinding(const Finding& f);
struct FindingHeader {
  Severity severity = Severity::kCritical;
  int64_t micros = 0;
  absl::string_view rule;
  absl::string_view kind;
  absl::string_view resource;
  absl::string_view actor;
  absl::string_view json;
};
// DataLoss naming the seq for a record that is not one we wrote.
absl::Status DecodeFindingHeader(uint64_t seq, absl::string_view value, FindingHeader* h);

}  // namespace infratrail::event_index

#endif  // INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_FORMAT_H_
