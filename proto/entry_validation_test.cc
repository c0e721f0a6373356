#include "proto/entry_validation.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "proto/limits.h"

namespace infratrail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::util::MessageDifferencer;

constexpr char kField[] = "AddEvents: entries[3]";

std::string Deterministic(const v1::InfraEvent& e) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&coded);
  }
  return out;
}

// Every message-typed field set: a timestamp, three sub-messages, two map
// entries (inserted out of order) and two signatures.
v1::InfraEvent FullEvent() {
  v1::InfraEvent e;
  e.set_kind(v1::DEPLOY);
  e.mutable_occurred_at()->set_seconds(1795428000);
  e.mutable_occurred_at()->set_nanos(5);
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_id("i-1");
  e.mutable_actor()->set_principal("ci@example.com");
  e.mutable_actor()->set_via(v1::CI);
  e.mutable_source()->set_repository("github.com/example/app");
  e.set_artifact_digest("sha256:00");
  e.set_ticket("OPS-1");
  (*e.mutable_attributes())["zone"] = "b";
  (*e.mutable_attributes())["env"] = "prod";
  for (const char* name : {"emitter-a", "emitter-b"}) {
    v1::EmitterSignature* s = e.add_signatures();
    s->set_key_name(name);
    s->set_key_id(7);
    s->set_signature(std::string(64, 's'));
  }
  return e;
}

std::string Error(absl::string_view entry) {
  const absl::Status st = ValidateEntry(entry, kField);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  return std::string(st.message());
}

// protobuf wire-format pieces for hand-made encodings.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}
std::string Tag(int number, int wire_type) {
  return Varint((static_cast<uint64_t>(number) << 3) | wire_type);
}
std::string Len(int number, const std::string& payload) {
  return Tag(number, 2) + Varint(payload.size()) + payload;
}

struct Record {
  int number;
  std::string bytes;    // the whole record: tag, length, payload
  std::string payload;  // for length-delimited records
};

// The top-level records of a message whose fields are varints or
// length-delimited (as InfraEvent's are, but for fixed32 key_id inside
// signatures, which this never descends into).
std::vector<Record> Records(const std::string& msg) {
  std::vector<Record> out;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(msg.data()),
                                            static_cast<int>(msg.size()));
  while (in.CurrentPosition() < static_cast<int>(msg.size())) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    Record r{static_cast<int>(tag >> 3), "", ""};
    if ((tag & 7) == 2) {
      uint32_t len = 0;
      EXPECT_TRUE(in.ReadVarint32(&len));
      EXPECT_TRUE(in.ReadString(&r.payload, static_cast<int>(len)));
    } else {
      uint64_t v = 0;
      EXPECT_EQ(tag & 7, 0u);
      EXPECT_TRUE(in.ReadVarint64(&v));
    }
    r.bytes = msg.substr(start, in.CurrentPosition() - start);
    out.push_back(r);
  }
  return out;
}

TEST(ValidateEntry, AcceptsDeterministicallySerializedEvents) {
  EXPECT_TRUE(ValidateEntry(Deterministic(FullEvent()), kField).ok());
  v1::InfraEvent minimal;
  minimal.set_kind(v1::ACCESS);
  minimal.mutable_resource()->set_id("r");
  EXPECT_TRUE(ValidateEntry(Deterministic(minimal), kField).ok());
  // A present but empty message is a different event from an absent one
  // (proto3 JSON shows it as {}), so both are canonical.
  minimal.mutable_actor();
  minimal.mutable_occurred_at();
  EXPECT_TRUE(ValidateEntry(Deterministic(minimal), kField).ok());
}

TEST(ValidateEntry, ExistingRulesKeepTheirMessages) {
  v1::InfraEvent e = FullEvent();
  e.set_kind(v1::EVENT_KIND_UNSPECIFIED);
  EXPECT_EQ(Error(Deterministic(e)), "AddEvents: entries[3].kind: missing");
  e.set_kind(static_cast<v1::EventKind>(42));
  EXPECT_EQ(Error(Deterministic(e)), "AddEvents: entries[3].kind: unknown value 42");
  e = FullEvent();
  e.mutable_resource()->clear_id();
  EXPECT_EQ(Error(Deterministic(e)), "AddEvents: entries[3].resource.id: missing");
  EXPECT_EQ(Error(""), "AddEvents: entries[3].data: empty");
  EXPECT_EQ(Error("\xff"), "AddEvents: entries[3].data: not a serialized infratrail.v1.InfraEvent");
}

TEST(ValidateEntry, AcceptsEntriesUpToTheSizeLimitAndNoLarger) {
  v1::InfraEvent e = FullEvent();
  // A little short, then grown byte by byte: the length prefix is a varint.
  e.set_justification(std::string(kMaxEntryBytes - e.ByteSizeLong() - 8, 'j'));
  while (e.ByteSizeLong() < kMaxEntryBytes) e.mutable_justification()->push_back('j');
  const std::string largest = Deterministic(e);
  ASSERT_EQ(largest.size(), kMaxEntryBytes);
  EXPECT_TRUE(ValidateEntry(largest, kField).ok());
  e.mutable_justification()->push_back('j');
  const std::string over = Deterministic(e);
  ASSERT_EQ(over.size(), kMaxEntryBytes + 1);
  EXPECT_EQ(Error(over), absl::StrCat(kField, ".data: ", kMaxEntryBytes + 1,
                                      " bytes exceeds the limit of ", kMaxEntryBytes));
}

TEST(ValidateEntry, RefusesUnknownTopLevelField) {
  const std::string canonical = Deterministic(FullEvent());
  // Field 99 after every known field: where protobuf itself would write it
  // back, so only the unknown-field rule catches it.
  EXPECT_EQ(Error(canonical + Tag(99, 0) + Varint(1)), "AddEvents: entries[3]: unknown field 99");
  EXPECT_EQ(Error(canonical + Len(99, "hidden")), "AddEvents: entries[3]: unknown field 99");
  // A known number with the wrong wire type is kept as an unknown field too.
  EXPECT_EQ(Error(canonical + Tag(8, 0) + Varint(1)),
            "AddEvents: entries[3].ticket: wire type 0, want 2");
}

// Descriptor-driven, so a message field added to event.proto is covered (or
// this test fails until FullEvent sets it).
TEST(ValidateEntry, RefusesUnknownFieldsInEveryNestedMessage) {
  const Descriptor* d = v1::InfraEvent::descriptor();
  const std::vector<Record> records = Records(Deterministic(FullEvent()));
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    SCOPED_TRACE(f->name());
    // Nested messages have no message fields of their own (but map entries'
    // and Timestamp's are scalars); extend the walk if that changes.
    for (int j = 0; j < f->message_type()->field_count(); ++j) {
      EXPECT_NE(f->message_type()->field(j)->type(), FieldDescriptor::TYPE_MESSAGE);
    }
    // The last record of the field (the second map entry or signature), with
    // unknown field 99 appended to its payload.
    int target = -1;
    int count = 0;
    for (size_t r = 0; r < records.size(); ++r) {
      if (records[r].number == f->number()) {
        target = static_cast<int>(r);
        ++count;
      }
    }
    ASSERT_GE(target, 0) << "FullEvent does not set " << f->name();
    std::string entry;
    for (size_t r = 0; r < records.size(); ++r) {
      entry += static_cast<int>(r) == target
                   ? Len(f->number(), records[r].payload + Tag(99, 0) + Varint(1))
                   : records[r].bytes;
    }
    std::string path = std::string(kField) + "." + f->name();
    if (f->is_repeated()) path += "[" + std::to_string(count - 1) + "]";
    EXPECT_EQ(Error(entry), path + ": unknown field 99");
  }
}

TEST(ValidateEntry, RefusesTimestampsOutsideTheProtoRange) {
  v1::InfraEvent e = FullEvent();
  e.mutable_occurred_at()->set_seconds(400000000000);
  EXPECT_EQ(Error(Deterministic(e)),
            "AddEvents: entries[3].occurred_at.seconds: 400000000000 out of range "
            "[-62135596800, 253402300799] (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)");
  e.mutable_occurred_at()->set_seconds(kMinTimestampSeconds - 1);
  EXPECT_NE(Error(Deterministic(e)).find("occurred_at.seconds: -62135596801 out of range"),
            std::string::npos);
  e.mutable_occurred_at()->set_seconds(0);
  e.mutable_occurred_at()->set_nanos(2000000000);
  EXPECT_EQ(Error(Deterministic(e)),
            "AddEvents: entries[3].occurred_at.nanos: 2000000000 out of range [0, 999999999]");
  e.mutable_occurred_at()->set_nanos(-1);
  EXPECT_EQ(Error(Deterministic(e)),
            "AddEvents: entries[3].occurred_at.nanos: -1 out of range [0, 999999999]");
  // The edges themselves are valid.
  e.mutable_occurred_at()->set_seconds(kMinTimestampSeconds);
  e.mutable_occurred_at()->set_nanos(0);
  EXPECT_TRUE(ValidateEntry(Deterministic(e), kField).ok());
  e.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds);
  e.mutable_occurred_at()->set_nanos(kMaxTimestampNanos);
  EXPECT_TRUE(ValidateEntry(Deterministic(e), kField).ok());
}

TEST(ValidateEntry, RefusesEnumValuesTheSchemaDoesNotName) {
  v1::InfraEvent e = FullEvent();
  e.mutable_actor()->set_via(static_cast<v1::Channel>(42));
  EXPECT_EQ(Error(Deterministic(e)), "AddEvents: entries[3].actor.via: unknown value 42");
  e.mutable_actor()->set_via(static_cast<v1::Channel>(-1));
  EXPECT_EQ(Error(Deterministic(e)), "AddEvents: entries[3].actor.via: unknown value -1");
}

// Each variant parses to exactly the canonical event, so without this rule
// one event could be logged under many byte strings (and leaf hashes).
TEST(ValidateEntry, RefusesEveryOtherEncodingOfTheSameEvent) {
  v1::InfraEvent e;
  e.set_kind(v1::ACCESS);
  e.mutable_resource()->set_id("r");
  (*e.mutable_attributes())["a"] = "1";
  (*e.mutable_attributes())["b"] = "2";
  const std::string kind = Tag(1, 0) + Varint(v1::ACCESS);
  const std::string resource = Len(3, Len(3, "r"));
  const std::string attr_a = Len(9, Len(1, "a") + Len(2, "1"));
  const std::string attr_b = Len(9, Len(1, "b") + Len(2, "2"));
  const std::string canonical = kind + resource + attr_a + attr_b;
  ASSERT_EQ(canonical, Deterministic(e));
  ASSERT_TRUE(ValidateEntry(canonical, kField).ok());

  struct Case {
    std::string bytes;
    std::string error;
  };
  const std::vector<Case> cases = {
      {resource + kind + attr_a + attr_b,
       "AddEvents: entries[3].kind: after field 3 (fields must be in field-number order)"},
      {kind + kind + resource + attr_a + attr_b,
       "AddEvents: entries[3].kind: written more than once"},
      {Tag(1, 0) + std::string("\x83\x00", 2) + resource + attr_a + attr_b,
       "AddEvents: entries[3].kind: non-minimal varint"},
      {std::string("\x88\x00", 2) + Varint(v1::ACCESS) + resource + attr_a + attr_b,
       "AddEvents: entries[3]: tag encoded with a non-minimal varint"},
      {kind + Tag(3, 2) + std::string("\x83\x00", 2) + Len(3, "r") + attr_a + attr_b,
       "AddEvents: entries[3].resource: length encoded with a non-minimal varint"},
      {kind + resource + Len(7, "") + attr_a + attr_b,
       "AddEvents: entries[3].justification: default value written"},
      {kind + Len(3, Len(1, "") + Len(3, "r")) + attr_a + attr_b,
       "AddEvents: entries[3].resource.provider: default value written"},
      {kind + resource + attr_b + attr_a,
       "AddEvents: entries[3].attributes[1]: key \"a\" after key \"b\" (map entries must be "
       "sorted by key, each key once)"},
      {kind + resource + Len(9, Len(2, "1") + Len(1, "a")) + attr_b,
       "AddEvents: entries[3].attributes[0].key: after field 2 (fields must be in field-number "
       "order)"},
      {kind + resource + Len(9, Len(1, "a") + Len(2, "0")) + attr_a + attr_b,
       "AddEvents: entries[3].attributes[1]: key \"a\" after key \"a\" (map entries must be "
       "sorted by key, each key once)"},
      // The parser drops unknown fields inside map entries, so only the byte
      // comparison sees this one.
      {kind + resource + Len(9, Len(1, "a") + Len(2, "1") + Tag(3, 0) + Varint(1)) + attr_b,
       "AddEvents: entries[3].attributes[0]: unknown field 3"},
      // A sub-message split in two merges on parsing.
      {kind + Len(3, "") + resource + attr_a + attr_b,
       "AddEvents: entries[3].resource: written more than once"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    v1::InfraEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(c.bytes));
    EXPECT_TRUE(MessageDifferencer::Equals(parsed, e));
    EXPECT_EQ(Error(c.bytes), c.error);
  }

  // Deterministic serialization writes an empty map value; leaving it out
  // parses to the same event.
  v1::InfraEvent empty_value;
  empty_value.set_kind(v1::ACCESS);
  empty_value.mutable_resource()->set_id("r");
  (*empty_value.mutable_attributes())["a"] = "";
  ASSERT_EQ(Deterministic(empty_value), kind + resource + Len(9, Len(1, "a") + Len(2, "")));
  const std::string no_value = kind + resource + Len(9, Len(1, "a"));
  v1::InfraEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(no_value));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, empty_value));
  EXPECT_EQ(Error(no_value),
            "AddEvents: entries[3].attributes[0]: value not written (map entries are written with "
            "key and value)");
}

// 32-bit fields keep the low 32 bits of a longer varint, so these parse to
// the canonical event too.
TEST(ValidateEntry, RefusesVarintsTheParserNarrows) {
  v1::InfraEvent e;
  e.set_kind(v1::ACCESS);
  e.mutable_resource()->set_id("r");
  const std::string rest = Deterministic(e).substr(2);
  const std::string wide = Tag(1, 0) + Varint((uint64_t{1} << 32) | v1::ACCESS) + rest;
  v1::InfraEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(wide));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, e));
  EXPECT_EQ(Error(wide),
            "AddEvents: entries[3].kind: varint 4294967299 is not how its type writes any value");
}

// Random damage to a canonical entry: whatever is accepted is exactly the
// deterministic serialization of what it parses to, without unknown fields,
// and every refusal names the entry and says why (never the catch-all, which
// would mean the explanation missed a rule).
TEST(ValidateEntry, RandomlyDamagedEntriesAreAcceptedOnlyWhenCanonical) {
  // Most damaged entries fail to parse, and protobuf logs each one.
  google::protobuf::LogSilencer silence;
  std::mt19937 rng(20261201);
  auto uniform = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const std::vector<Record> records = Records(Deterministic(FullEvent()));
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<Record> shuffled = records;
    switch (uniform(4)) {
      case 0:
        std::swap(shuffled[uniform(shuffled.size())], shuffled[uniform(shuffled.size())]);
        break;
      case 1:
        shuffled.insert(shuffled.begin() + static_cast<long>(uniform(shuffled.size())),
                        shuffled[uniform(shuffled.size())]);
        break;
      case 2:
        shuffled.erase(shuffled.begin() + static_cast<long>(uniform(shuffled.size())));
        break;
      default:
        break;
    }
    std::string entry;
    for (const Record& r : shuffled) entry += r.bytes;
    for (size_t n = uniform(3); n > 0 && !entry.empty(); --n) {
      const size_t at = uniform(entry.size());
      switch (uniform(3)) {
        case 0:
          entry[at] = static_cast<char>(uniform(256));
          break;
        case 1:
          entry.insert(at, 1, static_cast<char>(uniform(256)));
          break;
        default:
          entry.erase(at, 1);
          break;
      }
    }
    SCOPED_TRACE(absl::BytesToHexString(entry));
    const absl::Status st = ValidateEntry(entry, kField);
    if (st.ok()) {
      ++accepted;
      v1::InfraEvent parsed;
      ASSERT_TRUE(parsed.ParseFromString(entry));
      v1::InfraEvent known = parsed;
      known.DiscardUnknownFields();
      EXPECT_EQ(Deterministic(known), entry);
      continue;
    }
    ++refused;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(st.message(), kField)) << st;
    EXPECT_FALSE(absl::StrContains(st.message(), "not in canonical form")) << st;
  }
  EXPECT_GE(accepted, 500);
  EXPECT_GE(refused, 5000);
}

}  // namespace
}  // namespace infratrail
