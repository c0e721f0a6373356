#include "proto/entry_validation.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"
#include "infratrail/v1/event.pb.h"
#include "proto/limits.h"

namespace infratrail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

absl::Status Invalid(absl::string_view field, absl::string_view part, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, part, ": ", what));
}

absl::Status CheckTimestamp(const google::protobuf::Timestamp& ts, absl::string_view field) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds) {
    return Invalid(
        field, ".seconds",
        absl::StrCat(ts.seconds(), " out of range [", kMinTimestampSeconds, ", ",
                     kMaxTimestampSeconds, "] (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"));
  }
  if (ts.nanos() < 0 || ts.nanos() > kMaxTimestampNanos) {
    return Invalid(field, ".nanos",
                   absl::StrCat(ts.nanos(), " out of range [0, ", kMaxTimestampNanos, "]"));
  }
  return absl::OkStatus();
}

// True if `m` holds unknown fields of its own.
bool HasOwnUnknownFields(const google::protobuf::Message& m) {
  return !m.GetReflection()->GetUnknownFields(m).empty();
}

// True if the parser kept unknown fields anywhere it keeps them. Unknown
// fields inside map entries are dropped by the parser, so the byte comparison
// catches those.
bool HasUnknownFields(const v1::InfraEvent& e) {
  if (HasOwnUnknownFields(e)) return true;
  if (e.has_occurred_at() && HasOwnUnknownFields(e.occurred_at())) return true;
  if (e.has_resource() && HasOwnUnknownFields(e.resource())) return true;
  if (e.has_actor() && HasOwnUnknownFields(e.actor())) return true;
  if (e.has_source() && HasOwnUnknownFields(e.source())) return true;
  return std::any_of(e.signatures().begin(), e.signatures().end(),
                     [](const v1::EmitterSignature& s) { return HasOwnUnknownFields(s); });
}

// True if `data` is exactly the deterministic serialization of `e`, which was
// parsed from it.
bool IsCanonical(const v1::InfraEvent& e, absl::string_view data) {
  const size_t size = e.ByteSizeLong();  // caches sizes for the write below
  if (size != data.size()) return false;
  // Entries are at most 64 KiB; one buffer per thread, never shrunk.
  thread_local std::string buffer;
  if (buffer.size() < size) buffer.resize(size);
  google::protobuf::io::ArrayOutputStream out(buffer.data(), static_cast<int>(size));
  {
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    e.SerializeWithCachedSizes(&coded);
    if (coded.HadError() || coded.ByteCount() != static_cast<int64_t>(size)) return false;
  }
  return std::memcmp(buffer.data(), data.data(), size) == 0;
}

// Reads a varint at `*pos`; `*minimal` is false for an encoding longer than it
// needs to be (a last byte of zero after the first).
bool ReadVarint(absl::string_view s, size_t* pos, uint64_t* value, bool* minimal) {
  *value = 0;
  for (int i = 0; i < 10 && *pos < s.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(s[(*pos)++]);
    *value |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *minimal = i == 0 || b != 0;
      return true;
    }
  }
  return false;
}

// False for varints the parser narrows to another value: 32-bit fields read
// only the low 32 bits (negative int32 and enum values are written
// sign-extended to 64), sint32 likewise, and a bool is 0 or 1.
bool IsCanonicalVarintValue(const FieldDescriptor* f, uint64_t v) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_ENUM:
      return static_cast<int64_t>(v) == static_cast<int32_t>(static_cast<uint32_t>(v));
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_SINT32:
      return v <= UINT32_MAX;
    case FieldDescriptor::TYPE_BOOL:
      return v <= 1;
    default:
      return true;
  }
}

// The first departure from canonical form in `msg`, a message of type `d`
// at `path`, or "" if none is found. Only for error messages: the byte
// comparison with deterministic serialization is what decides. The schema
// has no recursive messages, so depth is bounded by it.
std::string Explain(absl::string_view msg, const Descriptor* d, const std::string& path) {
  const bool map_entry = d->options().map_entry();
  int prev = 0;
  int index = 0;  // of the current record within its repeated field
  bool has_prev_key = false;
  std::string prev_key;
  bool seen_key = false;
  bool seen_value = false;
  size_t pos = 0;
  while (pos < msg.size()) {
    uint64_t tag = 0;
    bool minimal = true;
    if (!ReadVarint(msg, &pos, &tag, &minimal)) return absl::StrCat(path, ": truncated tag");
    if (!minimal) return absl::StrCat(path, ": tag encoded with a non-minimal varint");
    const int number = static_cast<int>(tag >> 3);
    const auto wire_type = static_cast<WireFormatLite::WireType>(tag & 7);
    const FieldDescriptor* f = d->FindFieldByNumber(number);
    if (f == nullptr) return absl::StrCat(path, ": unknown field ", number);
    const std::string fpath = absl::StrCat(path, ".", f->name());
    // Proto3 writes repeated scalars packed.
    const auto want = f->is_packed() ? WireFormatLite::WIRETYPE_LENGTH_DELIMITED
                                     : WireFormatLite::WireTypeForFieldType(
                                           static_cast<WireFormatLite::FieldType>(f->type()));
    if (wire_type != want) {
      return absl::StrCat(fpath, ": wire type ", static_cast<int>(wire_type), ", want ",
                          static_cast<int>(want));
    }
    if (number < prev) {
      return absl::StrCat(fpath, ": after field ", prev, " (fields must be in field-number order)");
    }
    if (number == prev && !f->is_repeated()) return absl::StrCat(fpath, ": written more than once");
    index = number == prev ? index + 1 : 0;
    prev = number;
    seen_key = seen_key || number == 1;
    seen_value = seen_value || number == 2;
    // Proto3 leaves out fields without presence that hold their default; map
    // entries are the exception (key and value are always written).
    const bool omit_default = !map_entry && !f->is_repeated() && !f->has_presence();
    auto default_written = [&fpath] { return absl::StrCat(fpath, ": default value written"); };
    switch (wire_type) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t v = 0;
        if (!ReadVarint(msg, &pos, &v, &minimal)) return absl::StrCat(fpath, ": truncated");
        if (!minimal) return absl::StrCat(fpath, ": non-minimal varint");
        if (!IsCanonicalVarintValue(f, v)) {
          return absl::StrCat(fpath, ": varint ", v, " is not how its type writes any value");
        }
        if (v == 0 && omit_default) return default_written();
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED32:
      case WireFormatLite::WIRETYPE_FIXED64: {
        const size_t n = wire_type == WireFormatLite::WIRETYPE_FIXED32 ? 4 : 8;
        if (msg.size() - pos < n) return absl::StrCat(fpath, ": truncated");
        const absl::string_view v = msg.substr(pos, n);
        pos += n;
        if (omit_default && v.find_first_not_of('\0') == absl::string_view::npos) {
          return default_written();
        }
        break;
      }
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint64_t len = 0;
        if (!ReadVarint(msg, &pos, &len, &minimal) || len > msg.size() - pos) {
          return absl::StrCat(fpath, ": truncated");
        }
        if (!minimal) return absl::StrCat(fpath, ": length encoded with a non-minimal varint");
        const absl::string_view payload = msg.substr(pos, len);
        pos += len;
        if (f->type() != FieldDescriptor::TYPE_MESSAGE) {
          if (len == 0 && omit_default) return default_written();
          break;
        }
        const std::string sub = f->is_repeated() ? absl::StrCat(fpath, "[", index, "]") : fpath;
        if (std::string why = Explain(payload, f->message_type(), sub); !why.empty()) return why;
        // A canonical map entry starts with its key; string keys ascend.
        if (f->is_map() && f->message_type()->map_key()->type() == FieldDescriptor::TYPE_STRING &&
            !payload.empty() && payload[0] == '\x0a') {
          size_t p = 1;
          uint64_t key_len = 0;
          if (ReadVarint(payload, &p, &key_len, &minimal) && key_len <= payload.size() - p) {
            const std::string key(payload.substr(p, key_len));
            if (has_prev_key && key <= prev_key) {
              return absl::StrCat(sub, ": key \"", key, "\" after key \"", prev_key,
                                  "\" (map entries must be sorted by key, each key once)");
            }
            has_prev_key = true;
            prev_key = key;
          }
        }
        break;
      }
      default:
        return absl::StrCat(fpath, ": group wire type");
    }
  }
  if (map_entry && !(seen_key && seen_value)) {
    return absl::StrCat(path, ": ", seen_key ? "value" : "key",
                        " not written (map entries are written with key and value)");
  }
  return "";
}

}  // namespace

absl::Status ValidateEventFields(const v1::InfraEvent& event, absl::string_view field) {
  if (event.kind() == v1::EVENT_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".kind: missing"));
  }
  if (!v1::EventKind_IsValid(event.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".kind: unknown value ", static_cast<int>(event.kind())));
  }
  if (event.resource().id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".resource.id: missing"));
  }
  // A reader of a newer or older schema would see only a number.
  if (!v1::Channel_IsValid(event.actor().via())) {
    return Invalid(field, ".actor.via",
                   absl::StrCat("unknown value ", static_cast<int>(event.actor().via())));
  }
  if (event.has_occurred_at()) {
    if (absl::Status st = CheckTimestamp(event.occurred_at(), absl::StrCat(field, ".occurred_at"));
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEntry(absl::string_view data, absl::string_view field) {
  if (data.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".data: empty"));
  if (data.size() > kMaxEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".data: ", data.size(),
                                                   " bytes exceeds the limit of ", kMaxEntryBytes));
  }
  // One message per thread, reused: parsing into it keeps the map's buckets
  // and top-level string buffers (at most an entry's size, 64 KiB, per
  // thread), about a sixth of the cost of validating a typical entry.
  thread_local v1::InfraEvent event;
  if (!event.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".data: not a serialized infratrail.v1.InfraEvent"));
  }
  if (absl::Status st = ValidateEventFields(event, field); !st.ok()) return st;
  if (HasUnknownFields(event) || !IsCanonical(event, data)) {
    std::string why = Explain(data, v1::InfraEvent::descriptor(), std::string(field));
    if (why.empty()) {
      why = absl::StrCat(field, ": not in canonical form (serialize deterministically)");
    }
    return absl::InvalidArgumentError(why);
  }
  return absl::OkStatus();
}

}  // namespace infratrail
