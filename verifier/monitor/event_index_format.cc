#include "verifier/monitor/event_index_format.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/encoding.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::event_index {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kParsed = 1;
constexpr uint8_t kHasTime = 2;
constexpr size_t kFingerprintSize = 1 + 4 + 8 + 4 * 4;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutString(std::string* out, absl::string_view s) {
  PutVarint(out, s.size());
  out->append(s.data(), s.size());
}

// Reads what Put* wrote; every Get fails (and stays failed) past the end.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  absl::string_view rest() const { return in_; }
  uint8_t Byte() {
    if (!Need(1)) return 0;
    const uint8_t b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return b;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    const uint32_t v = ReadUint32BigEndian(in_);
    in_.remove_prefix(4);
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    const uint64_t v = ReadUint64BigEndian(in_);
    in_.remove_prefix(8);
    return v;
  }
  absl::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    absl::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  absl::string_view String() {
    uint64_t n = 0;
    for (int shift = 0; ok_; shift += 7) {
      const uint8_t b = Byte();
      if (shift > 28) ok_ = false;  // lengths fit in 32 bits
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return Bytes(n);
  }

 private:
  bool Need(size_t n) {
    if (ok_ && in_.size() < n) ok_ = false;
    return ok_;
  }
  absl::string_view in_;
  bool ok_ = true;
};

std::string Prefixed(char tag, absl::string_view s) {
  std::string k(1, tag);
  PutString(&k, s);
  return k;
}

}  // namespace

std::string ZoneKey(uint64_t block) {
  std::string k(1, 'z');
  AppendUint64BigEndian(&k, block);
  return k;
}

void Zone::AddRange(int64_t least, int64_t greatest) {
  auto* begin = ranges_.data();
  auto* end = begin + count_;
  // The first range that ends at or after `least`: the new one goes before
  // it, or joins it and those after it that it overlaps.
  auto* at =
      std::lower_bound(begin, end, least, [](const auto& r, int64_t t) { return r.second < t; });
  if (at != end && at->first <= greatest) {
    at->first = std::min(at->first, least);
    at->second = std::max(at->second, greatest);
    auto* next = at + 1;
    while (next != end && next->first <= at->second)
      at->second = std::max(at->second, (next++)->second);
    count_ = static_cast<uint8_t>(std::copy(next, end, at + 1) - begin);
    return;
  }
  std::copy_backward(at, end, end + 1);
  *at = {least, greatest};
  if (++count_ <= kZoneRanges) return;
  // One too many: join the two closest neighbours.
  size_t join = 0;
  for (size_t i = 1; i + 1 < count_; ++i) {
    if (static_cast<uint64_t>(ranges_[i + 1].first) - static_cast<uint64_t>(ranges_[i].second) <
        static_cast<uint64_t>(ranges_[join + 1].first) -
            static_cast<uint64_t>(ranges_[join].second)) {
      join = i;
    }
  }
  ranges_[join].second = ranges_[join + 1].second;
  std::copy(begin + join + 2, begin + count_, begin + join + 1);
  --count_;
}

void Zone::Merge(const Zone& other) {
  for (uint8_t i = 0; i < other.count_; ++i)
    AddRange(other.ranges_[i].first, other.ranges_[i].second);
}

bool Zone::MayHold(int64_t lo, int64_t hi) const {
  for (uint8_t i = 0; i < count_; ++i) {
    if (ranges_[i].second >= lo && ranges_[i].first < hi) return true;
  }
  return false;
}

std::string Zone::Encode() const {
  std::string v(1, static_cast<char>(count_));
  for (uint8_t i = 0; i < count_; ++i) {
    AppendUint64BigEndian(&v, OffsetMicros(ranges_[i].first));
    AppendUint64BigEndian(&v, OffsetMicros(ranges_[i].second));
  }
  return v;
}

bool Zone::Decode(absl::string_view value, Zone* zone) {
  Reader r(value);
  const uint8_t count = r.Byte();
  Zone z;
  for (uint8_t i = 0; i < count && r.ok(); ++i) {
    const int64_t least = FromOffsetMicros(r.U64());
    const int64_t greatest = FromOffsetMicros(r.U64());
    // Sorted and disjoint, as AddRange keeps them.
    if (least > greatest || (i > 0 && least <= z.ranges_[i - 1].second)) return false;
    z.ranges_[i] = {least, greatest};
  }
  z.count_ = count;
  if (!r.ok() || !r.rest().empty() || count > kZoneRanges) return false;
  *zone = z;
  return true;
}

std::string EventKey(uint64_t index) {
  std::string k;
  AppendUint64BigEndian(&k, index);
  return k;
}

std::string ResourcePrefix(absl::string_view resource_id) { return Prefixed('r', resource_id); }
std::string ActorPrefix(absl::string_view actor) { return Prefixed('a', actor); }

std::string KindPrefix(int kind) {
  std::string k(1, 'k');
  AppendUint32BigEndian(&k, static_cast<uint32_t>(kind));
  return k;
}

std::string AllPrefix() { return "s"; }

std::string PostingKey(absl::string_view prefix, uint64_t index) {
  std::string k(prefix);
  AppendUint64BigEndian(&k, ~index);
  return k;
}

bool PostingIndex(absl::string_view key, uint64_t* index) {
  if (key.size() < 8) return false;
  *index = ~ReadUint64BigEndian(key.substr(key.size() - 8));
  return true;
}

std::string FindingKey(uint64_t seq) {
  std::string k(1, kFindingPrefix);
  AppendUint64BigEndian(&k, ~seq);
  return k;
}

bool FindingSeq(absl::string_view key, uint64_t* seq) {
  if (key.size() != 9 || key[0] != kFindingPrefix) return false;
  *seq = ~ReadUint64BigEndian(key.substr(1));
  return true;
}

std::string FindingTimeKey(int64_t micros, uint64_t seq) {
  std::string k(1, kFindingTimePrefix);
  AppendUint64BigEndian(&k, OffsetMicros(micros));
  AppendUint64BigEndian(&k, seq);
  return k;
}

uint64_t OffsetMicros(int64_t micros) {
  return static_cast<uint64_t>(micros) ^ (uint64_t{1} << 63);
}
int64_t FromOffsetMicros(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

void Summarize(absl::string_view entry, v1::InfraEvent* scratch, IndexedEvent* e) {
  v1::InfraEvent& ev = *scratch;
  ev.Clear();
  e->parsed = ev.ParseFromArray(entry.data(), static_cast<int>(entry.size()));
  if (!e->parsed) return;
  e->kind = static_cast<int>(ev.kind());
  e->provider = ev.resource().provider();
  e->type = ev.resource().type();
  e->resource_id = ev.resource().id();
  e->actor = ev.actor().principal();
  if (ev.has_occurred_at()) {
    const absl::Time t = absl::FromUnixSeconds(ev.occurred_at().seconds()) +
                         absl::Nanoseconds(ev.occurred_at().nanos());
    e->occurred_at = absl::FromUnixMicros(absl::ToUnixMicros(t));
  }
}

uint32_t FieldHash(absl::string_view s) {
  // FNV-1a, 64 bits folded to 32: stable across builds, unlike absl::Hash.
  uint64_t h = 14695981039346656037u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211u;
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

std::string EncodeFingerprint(const IndexedEvent& e) {
  std::string v;
  if (!e.parsed) {
    v.push_back(0);
    return v;
  }
  v.reserve(kFingerprintSize);
  v.push_back(static_cast<char>(kParsed | (e.occurred_at ? kHasTime : 0)));
  AppendUint32BigEndian(&v, static_cast<uint32_t>(e.kind));
  AppendUint64BigEndian(&v, e.occurred_at ? OffsetMicros(absl::ToUnixMicros(*e.occurred_at)) : 0);
  for (const std::string* s : {&e.provider, &e.type, &e.resource_id, &e.actor}) {
    AppendUint32BigEndian(&v, FieldHash(*s));
  }
  return v;
}

bool DecodeFingerprint(absl::string_view value, Fingerprint* f) {
  *f = Fingerprint{};
  if (value.size() == 1 && value[0] == 0) return true;
  if (value.size() != kFingerprintSize) return false;
  Reader r(value);
  const uint8_t flags = r.Byte();
  f->parsed = (flags & kParsed) != 0;
  f->has_time = (flags & kHasTime) != 0;
  f->kind = r.U32();
  f->micros = FromOffsetMicros(r.U64());
  f->provider = r.U32();
  f->type = r.U32();
  f->resource_id = r.U32();
  f->actor = r.U32();
  return f->parsed && r.ok();
}

std::string EncodeEvent(const IndexedEvent& e, absl::string_view entry) {
  std::string v;
  v.reserve(2 + kHashSize + 13 + e.provider.size() + e.type.size() + e.resource_id.size() +
            e.actor.size() + 4 + entry.size());
  v.push_back(static_cast<char>(kRecordVersion));
  v.push_back(static_cast<char>((e.parsed ? kParsed : 0) | (e.occurred_at ? kHasTime : 0)));
  v.append(AsBytes(e.leaf_hash).data(), kHashSize);
  if (e.parsed) {
    AppendUint32BigEndian(&v, static_cast<uint32_t>(e.kind));
    if (e.occurred_at) AppendUint64BigEndian(&v, OffsetMicros(absl::ToUnixMicros(*e.occurred_at)));
    for (const std::string* s : {&e.provider, &e.type, &e.resource_id, &e.actor}) PutString(&v, *s);
  }
  v.append(entry.data(), entry.size());
  return v;
}

absl::Status DecodeEvent(uint64_t index, absl::string_view value, IndexedEvent* e) {
  Reader r(value);
  const uint8_t version = r.Byte();
  const uint8_t flags = r.Byte();
  absl::string_view leaf = r.Bytes(kHashSize);
  if (r.ok() && version == kRecordVersion) {
    *e = IndexedEvent{};
    e->index = index;
    std::memcpy(e->leaf_hash.data(), leaf.data(), kHashSize);
    e->parsed = (flags & kParsed) != 0;
    if (e->parsed) {
      e->kind = static_cast<int>(r.U32());
      if ((flags & kHasTime) != 0) e->occurred_at = absl::FromUnixMicros(FromOffsetMicros(r.U64()));
      for (std::string* s : {&e->provider, &e->type, &e->resource_id, &e->actor}) {
        *s = std::string(r.String());
      }
    }
    e->entry = std::string(r.rest());
    if (r.ok()) return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat("event index: the record of entry ", index, " is not one this version wrote"));
}

std::string EncodeFinding(const Finding& f) {
  std::string v;
  v.push_back(static_cast<char>(kRecordVersion));
  v.push_back(static_cast<char>(f.severity));
  AppendUint64BigEndian(&v, OffsetMicros(absl::ToUnixMicros(f.time)));
  for (const std::string* s : {&f.rule, &f.kind, &f.resource, &f.actor}) PutString(&v, *s);
  v.append(f.ToJson().dump());
  return v;
}

absl::Status DecodeFindingHeader(uint64_t seq, absl::string_view value, FindingHeader* h) {
  Reader r(value);
  const uint8_t version = r.Byte();
  const uint8_t severity = r.Byte();
  h->micros = FromOffsetMicros(r.U64());
  h->rule = r.String();
  h->kind = r.String();
  h->resource = r.String();
  h->actor = r.String();
  h->json = r.rest();
  if (!r.ok() || version != kRecordVersion || severity > static_cast<uint8_t>(Severity::kNotice)) {
    return absl::DataLossError(
        absl::StrCat("event index: the record of finding ", seq, " is not one this version wrote"));
  }
  h->severity = static_cast<Severity>(severity);
  return absl::OkStatus();
}

}  // namespace infratrail::event_index
