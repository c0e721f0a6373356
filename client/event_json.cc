#include "client/event_json.h"

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/stringpiece.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "simdjson.h"

namespace infratrail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Well below protobuf's own limit of 100 (JSON parser and binary parser), so
// the fast path never accepts what protobuf would reject as too deep.
constexpr int kMaxDepth = 32;
// simdjson keeps buffers sized for the largest document it has parsed; longer
// lines go to protobuf rather than pin more memory in every thread.
constexpr size_t kMaxFastPathBytes = size_t{1} << 20;
// Duplicate fields are tracked in a bitset indexed by field; bigger messages
// fall back.
constexpr int kMaxFields = 256;

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// protobuf looks a key up by json_name first, then by proto field name.
// Messages are small, so a scan beats building an index.
const FieldDescriptor* FindField(const Descriptor* d, std::string_view key) {
  const int n = d->field_count();
  for (int i = 0; i < n; ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  for (int i = 0; i < n; ++i) {
    if (d->field(i)->name() == key) return d->field(i);
  }
  return nullptr;
}

bool IsWellKnownFile(const google::protobuf::FileDescriptor* file) {
  return std::string_view(file->name()).starts_with("google/protobuf/");
}

// protobuf's converter gives these types (and Timestamp, handled separately)
// special JSON forms.
bool IsOtherWellKnownType(const Descriptor* d) { return IsWellKnownFile(d->file()); }

// Only JSON integers: protobuf also takes 1.0, 1e2 and "5" for integer
// fields, which the fallback handles.
bool GetInt64(element v, int64_t* out) {
  const element_type t = v.type();
  if (t != element_type::INT64 && t != element_type::UINT64) return false;
  return v.get_int64().get(*out) == simdjson::SUCCESS;
}

bool GetUint64(element v, uint64_t* out) {
  const element_type t = v.type();
  if (t != element_type::INT64 && t != element_type::UINT64) return false;
  return v.get_uint64().get(*out) == simdjson::SUCCESS;
}

// TimeUtil::FromString CHECK-fails (aborts) when an offset moves a time
// outside [0001-01-01, 9999-12-31], which protobuf's JSON parser accepts.
// Offsets are under a day, so years 0002..9998 are always safe; the rest, and
// strings with NUL (ParseTime stops at the first one), fall back.
bool ParseTimestamp(std::string_view s, google::protobuf::Timestamp* ts) {
  if (s.size() < 4 || s.find('\0') != std::string_view::npos) return false;
  int year = 0;
  for (int i = 0; i < 4; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    year = year * 10 + (s[i] - '0');
  }
  if (year < 2 || year > 9998) return false;
  return google::protobuf::util::TimeUtil::FromString(std::string(s), ts);
}

// Fills messages from one parsed line. Each method returns false, leaving its
// message partly filled, where the fast path must fall back.
class Filler {
 public:
  // simdjson has validated the raw line as UTF-8, and the escapes other than
  // \u decode to ASCII, so only lines with \u need decoded strings checked.
  explicit Filler(absl::string_view json)
      : check_utf8_(json.find("\\u") != absl::string_view::npos) {}

  bool FillMessage(simdjson::dom::object obj, Message* msg, int depth);

 private:
  bool GetString(element v, std::string_view* out) const {
    return v.get_string().get(*out) == simdjson::SUCCESS && (!check_utf8_ || IsValidUtf8(*out));
  }
  bool SetSingularField(element v, const FieldDescriptor* f, Message* msg, const Reflection* r,
                        int depth);
  bool FillStringMap(element v, const FieldDescriptor* f, Message* msg, const Reflection* r);
  bool FillRepeatedMessage(element v, const FieldDescriptor* f, Message* msg, const Reflection* r,
                           int depth);

  const bool check_utf8_;
};

bool SetTimestampField(element v, const FieldDescriptor* f, Message* msg, const Reflection* r) {
  std::string_view text;
  google::protobuf::Timestamp ts;
  if (v.get_string().get(text) != simdjson::SUCCESS || !ParseTimestamp(text, &ts)) return false;
  Message* sub = r->MutableMessage(msg, f);
  const Descriptor* d = sub->GetDescriptor();
  const Reflection* sub_r = sub->GetReflection();
  sub_r->SetInt64(sub, d->FindFieldByNumber(google::protobuf::Timestamp::kSecondsFieldNumber),
                  ts.seconds());
  sub_r->SetInt32(sub, d->FindFieldByNumber(google::protobuf::Timestamp::kNanosFieldNumber),
                  ts.nanos());
  return true;
}

// Sets a singular (non-repeated) field from a non-null JSON value.
bool Filler::SetSingularField(element v, const FieldDescriptor* f, Message* msg,
                              const Reflection* r, int depth) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string_view s;
      if (f->type() != FieldDescriptor::TYPE_STRING || !GetString(v, &s)) return false;
      r->SetString(msg, f, std::string(s));
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return false;
      r->SetBool(msg, f, b);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t i = 0;
      if (!GetInt64(v, &i) || i < std::numeric_limits<int32_t>::min() ||
          i > std::numeric_limits<int32_t>::max()) {
        return false;
      }
      r->SetInt32(msg, f, static_cast<int32_t>(i));
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t i = 0;
      if (!GetInt64(v, &i)) return false;
      r->SetInt64(msg, f, i);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint64_t u = 0;
      if (!GetUint64(v, &u) || u > std::numeric_limits<uint32_t>::max()) return false;
      r->SetUInt32(msg, f, static_cast<uint32_t>(u));
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t u = 0;
      if (!GetUint64(v, &u)) return false;
      r->SetUInt64(msg, f, u);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::string_view name;
      // google.protobuf.NullValue takes null, not a name.
      if (IsWellKnownFile(f->enum_type()->file()) ||
          v.get_string().get(name) != simdjson::SUCCESS) {
        return false;
      }
      const auto* value = f->enum_type()->FindValueByName(std::string(name));
      if (value == nullptr) return false;
      r->SetEnumValue(msg, f, value->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* type = f->message_type();
      if (f->type() != FieldDescriptor::TYPE_MESSAGE) return false;
      if (type->full_name() == google::protobuf::Timestamp::descriptor()->full_name()) {
        return SetTimestampField(v, f, msg, r);
      }
      simdjson::dom::object obj;
      if (IsOtherWellKnownType(type) || v.get_object().get(obj) != simdjson::SUCCESS) {
        return false;
      }
      return FillMessage(obj, r->MutableMessage(msg, f), depth + 1);
    }
    default:  // float and double
      return false;
  }
}

// map<string, string> from a JSON object whose keys are all different.
bool Filler::FillStringMap(element v, const FieldDescriptor* f, Message* msg, const Reflection* r) {
  const Descriptor* entry = f->message_type();
  const FieldDescriptor* key_field = entry->map_key();
  const FieldDescriptor* value_field = entry->map_value();
  simdjson::dom::object obj;
  if (key_field->type() != FieldDescriptor::TYPE_STRING ||
      value_field->type() != FieldDescriptor::TYPE_STRING ||
      v.get_object().get(obj) != simdjson::SUCCESS) {
    return false;
  }
  std::vector<std::string_view> keys;
  keys.reserve(obj.size());
  const Reflection* entry_r = nullptr;
  for (auto [key, value] : obj) {
    std::string_view s;
    if ((check_utf8_ && !IsValidUtf8(key)) || !GetString(value, &s)) return false;
    Message* e = r->AddMessage(msg, f);
    if (entry_r == nullptr) entry_r = e->GetReflection();
    entry_r->SetString(e, key_field, std::string(key));
    entry_r->SetString(e, value_field, std::string(s));
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) == keys.end();
}

bool Filler::FillRepeatedMessage(element v, const FieldDescriptor* f, Message* msg,
                                 const Reflection* r, int depth) {
  simdjson::dom::array arr;
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
      f->type() != FieldDescriptor::TYPE_MESSAGE || IsOtherWellKnownType(f->message_type()) ||
      v.get_array().get(arr) != simdjson::SUCCESS) {
    return false;
  }
  for (element item : arr) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) return false;
    if (!FillMessage(obj, r->AddMessage(msg, f), depth + 1)) return false;
  }
  return true;
}

bool Filler::FillMessage(simdjson::dom::object obj, Message* msg, int depth) {
  const Descriptor* d = msg->GetDescriptor();
  const Reflection* r = msg->GetReflection();
  if (depth > kMaxDepth || d->field_count() > kMaxFields) return false;
  // protobuf takes a repeated key (or a field by both of its names) and
  // merges, concatenates or keeps the last; rather than mimic that, fall back.
  std::bitset<kMaxFields> seen;
  for (auto [key, value] : obj) {
    const FieldDescriptor* f = FindField(d, key);
    if (f == nullptr || seen.test(f->index()) || f->containing_oneof() != nullptr ||
        value.is_null()) {
      return false;
    }
    seen.set(f->index());
    bool ok = false;
    if (f->is_map()) {
      ok = FillStringMap(value, f, msg, r);
    } else if (f->is_repeated()) {
      ok = FillRepeatedMessage(value, f, msg, r, depth);
    } else {
      ok = SetSingularField(value, f, msg, r, depth);
    }
    if (!ok) return false;
  }
  return true;
}

// Fills `*out`, which must be empty; on false its contents are unspecified.
bool TryFastPath(absl::string_view json, Message* out) {
  // JSON whitespace, then the object. This also keeps out a byte-order mark,
  // which protobuf rejects, should a future simdjson skip it.
  const size_t start = json.find_first_not_of(" \t\r\n");
  if (start == absl::string_view::npos || json[start] != '{') return false;
  thread_local simdjson::dom::parser parser(kMaxFastPathBytes);
  simdjson::dom::object root;
  // The DOM parser rejects anything after the value but whitespace, as
  // protobuf does ("Parsing terminated before end of input.").
  if (parser.parse(json.data(), json.size()).get_object().get(root) != simdjson::SUCCESS) {
    return false;
  }
  // JsonStringToMessage ends with a binary parse, which fails on missing
  // proto2 required fields.
  return Filler(json).FillMessage(root, out, 0) && out->IsInitialized();
}

absl::Status FromProtobufStatus(const google::protobuf::util::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // Both follow google.rpc.Code.
  return absl::Status(static_cast<absl::StatusCode>(status.code()), status.message().ToString());
}

}  // namespace

bool ParseEventJsonFastPathForTesting(absl::string_view json, v1::InfraEvent* event) {
  // A scratch message, so that falling back (and protobuf failing) leaves
  // `*event` as it was.
  v1::InfraEvent parsed;
  if (!TryFastPath(json, &parsed)) return false;
  event->Swap(&parsed);
  return true;
}

absl::Status ParseEventJson(absl::string_view json, v1::InfraEvent* event) {
  if (ParseEventJsonFastPathForTesting(json, event)) return absl::OkStatus();
  return FromProtobufStatus(google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), event));
}

}  // namespace infratrail
