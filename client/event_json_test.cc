#include "client/event_json.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/event_flags.h"  // SerializeEvent: deterministic bytes
#include "client/testing/typical_event.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"

namespace infratrail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::util::MessageDifferencer;

// What the caller's message holds before parsing: success must replace it,
// failure must leave it as it was.
v1::InfraEvent Prefilled() {
  v1::InfraEvent e;
  e.set_justification("before");
  (*e.mutable_attributes())["old"] = "value";
  return e;
}

// Parses `json` into Prefilled() three ways (protobuf, ParseEventJson, the
// fast path alone) and checks they agree. Returns whether the fast path took
// the input.
bool ExpectSameAsProtobuf(const std::string& json) {
  SCOPED_TRACE(json.size() > 300 ? json.substr(0, 300) + "..." : json);
  v1::InfraEvent want = Prefilled();
  const auto want_status = google::protobuf::util::JsonStringToMessage(json, &want);

  v1::InfraEvent got = Prefilled();
  const absl::Status got_status = ParseEventJson(json, &got);
  EXPECT_EQ(static_cast<int>(got_status.code()), static_cast<int>(want_status.code()));
  EXPECT_EQ(std::string(got_status.message()), want_status.message().ToString());
  EXPECT_TRUE(MessageDifferencer::Equals(got, want));
  EXPECT_EQ(SerializeEvent(got), SerializeEvent(want));

  v1::InfraEvent fast = Prefilled();
  const bool handled = ParseEventJsonFastPathForTesting(json, &fast);
  EXPECT_TRUE(!handled || want_status.ok()) << "fast path accepted what protobuf rejects";
  EXPECT_TRUE(MessageDifferencer::Equals(fast, handled ? want : Prefilled()));
  return handled;
}

// Random InfraEvent JSON, driven by the descriptor so that fields added to
// event.proto are covered too. Mostly what the fast path takes, with some of
// everything it leaves to protobuf, and some damaged lines.
class RandomEventJson {
 public:
  explicit RandomEventJson(uint32_t seed) : rng_(seed) {}

  std::string Next() {
    std::string json = Message(v1::InfraEvent::descriptor(), 0);
    if (Chance(0.15)) Damage(&json);
    return json;
  }

  // Full names of the fields written so far.
  const std::set<std::string>& fields_written() const { return fields_written_; }

 private:
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int>(v.size()) - 1)];
  }

  std::string Ws() {
    if (Chance(0.7)) return "";
    return Pick<std::string>({" ", "  ", "\t", "\n", "\r\n", " \t "});
  }

  // A JSON string literal; each unit below is one character, spelt any of
  // the ways JSON allows.
  std::string Str(int max_len) {
    static const std::vector<std::vector<std::string>> kUnits = {
        {"/", "\\/"},
        {"\\\""},
        {"\\\\"},
        {"\\n", "\\u000a"},
        {"\\t"},
        {"\\r"},
        {"\\b"},
        {"\\f"},
        {"\\u0000"},
        {"\\u001f"},
        {"é", "\\u00e9"},
        {"\\u00E9"},
        {"€", "\\u20ac"},
        {"中", "\\u4e2d"},
        {"😀", "\\ud83d\\ude00", "\\uD83D\\uDE00"},
        {" "},
        {"-"},
        {":"},
        {"{"}};
    std::string s = "\"";
    const int n = Uniform(0, max_len);
    for (int i = 0; i < n; ++i) {
      s += Chance(0.8) ? std::string(1, static_cast<char>('a' + Uniform(0, 25)))
                       : Pick(Pick(kUnits));
    }
    return s + "\"";
  }

  std::string Base64() {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s = "\"";
    for (int i = 4 * Uniform(0, 16); i > 0; --i) s += kAlphabet[Uniform(0, 63)];
    return s + "\"";
  }

  // RFC 3339, mostly valid; years 0001 and 9999 with offsets reach past the
  // Timestamp range, which protobuf accepts.
  std::string Timestamp() {
    const int year = Chance(0.05) ? Pick<int>({0, 1, 2, 9998, 9999}) : Uniform(1970, 2100);
    std::string s = absl::StrCat(
        absl::Dec(year, absl::kZeroPad4), "-",
        absl::Dec(Uniform(1, Chance(0.02) ? 13 : 12), absl::kZeroPad2), "-",
        absl::Dec(Uniform(1, Chance(0.05) ? 31 : 28), absl::kZeroPad2), Chance(0.02) ? "t" : "T",
        absl::Dec(Uniform(0, 23), absl::kZeroPad2), ":", absl::Dec(Uniform(0, 59), absl::kZeroPad2),
        ":", absl::Dec(Uniform(0, Chance(0.02) ? 60 : 59), absl::kZeroPad2));
    const int digits = Chance(0.4) ? 0 : Uniform(Chance(0.1) ? 0 : 1, Chance(0.05) ? 11 : 9);
    if (digits > 0 || Chance(0.01)) s += ".";
    for (int i = 0; i < digits; ++i) s += static_cast<char>('0' + Uniform(0, 9));
    if (Chance(0.6)) return absl::StrCat("\"", s, Chance(0.02) ? "z" : "Z", "\"");
    return absl::StrCat("\"", s, Chance(0.5) ? "+" : "-",
                        absl::Dec(Uniform(0, 23), absl::kZeroPad2), ":",
                        absl::Dec(Uniform(0, 59), absl::kZeroPad2), "\"");
  }

  // An integer in [lo, hi], now and then in a form only protobuf takes, or out
  // of range.
  std::string Integer(int64_t lo, uint64_t hi) {
    if (Chance(0.05)) {
      return Pick<std::string>(
          {"1.0", "1e2", "\"5\"", "-0", "-1", "4294967296", "18446744073709551616", "0.5", "true"});
    }
    if (Chance(0.1)) return Chance(0.5) ? absl::StrCat(lo) : absl::StrCat(hi);
    const uint64_t span = hi - static_cast<uint64_t>(lo);
    const uint64_t offset = std::uniform_int_distribution<uint64_t>(0, span)(rng_);
    return lo < 0 ? absl::StrCat(static_cast<int64_t>(static_cast<uint64_t>(lo) + offset))
                  : absl::StrCat(static_cast<uint64_t>(lo) + offset);
  }

  std::string Enum(const google::protobuf::EnumDescriptor* e) {
    const auto* value = e->value(Uniform(0, e->value_count() - 1));
    if (Chance(0.1)) return absl::StrCat(value->number());
    if (Chance(0.02)) return "\"NOPE\"";
    return absl::StrCat("\"", value->name(), "\"");
  }

  std::string Object(std::vector<std::string> members) {
    std::shuffle(members.begin(), members.end(), rng_);
    std::string out = "{" + Ws();
    for (size_t i = 0; i < members.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : "," + Ws(), members[i], Ws());
    }
    return out + "}";
  }

  std::string Value(const FieldDescriptor* f, int depth) {
    switch (f->type()) {
      case FieldDescriptor::TYPE_STRING:
        return Str(f->is_map() ? 12 : 40);
      case FieldDescriptor::TYPE_BYTES:
        return Base64();
      case FieldDescriptor::TYPE_BOOL:
        return Chance(0.5) ? "true" : "false";
      case FieldDescriptor::TYPE_ENUM:
        return Enum(f->enum_type());
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return Integer(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return Integer(0, std::numeric_limits<uint32_t>::max());
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return Integer(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return Integer(0, std::numeric_limits<uint64_t>::max());
      case FieldDescriptor::TYPE_MESSAGE:
        if (f->message_type()->full_name() == "google.protobuf.Timestamp") return Timestamp();
        return Message(f->message_type(), depth + 1);
      default:
        return "1.5";
    }
  }

  std::string Message(const Descriptor* d, int depth) {
    std::vector<std::string> members;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      // Bytes always fall back; keep them rarer so most lines test the fast path.
      if (!Chance(f->type() == FieldDescriptor::TYPE_BYTES ? 0.25 : 0.75)) continue;
      fields_written_.insert(f->full_name());
      std::string value;
      if (f->is_map()) {
        std::vector<std::string> entries;
        for (int n = Uniform(0, 10); n > 0; --n) {
          entries.push_back(
              absl::StrCat(Str(8), Ws(), ":", Ws(), Value(f->message_type()->map_value(), depth)));
        }
        value = Object(entries);
      } else if (f->is_repeated()) {
        value = "[" + Ws();
        for (int n = Uniform(0, 3), k = 0; k < n; ++k) {
          absl::StrAppend(&value, k == 0 ? "" : ",", Ws(), Value(f, depth), Ws());
        }
        value += "]";
      } else {
        value = Value(f, depth);
      }
      // Both spellings of the key are valid; protobuf prefers json_name.
      const std::string& key = Chance(0.5) ? f->json_name() : f->name();
      members.push_back(absl::StrCat("\"", key, "\"", Ws(), ":", Ws(), value));
    }
    return Object(members);
  }

  // Breaks (or just bends) a line the way files do.
  void Damage(std::string* json) {
    switch (Uniform(0, 4)) {
      case 0:
        json->resize(Uniform(0, static_cast<int>(json->size())));
        return;
      case 1: {
        static const std::vector<char> kBytes = {'{',  '}', '[', ']', ':',    ',', '"',
                                                 '\\', 'x', '0', ' ', '\xff', '\0'};
        (*json)[Uniform(0, static_cast<int>(json->size()) - 1)] = Pick(kBytes);
        return;
      }
      case 2:
        json->insert(
            json->find('{') + 1,
            Pick<std::string>({R"("ticket":"dup",)", R"("occurred_at":"2020-01-01T00:00:00Z",)",
                               R"("resource":{"id":"r"},)", R"("attributes":{"k":"v"},)",
                               R"("kind":null,)", R"("bogus":1,)", R"("actor":{},)",
                               R"("signatures":{"keyName":"k"},)",
                               R"("attributes":{"a":"1","a":"2"},)"}));
        return;
      case 3:
        *json += Pick<std::string>({" x", "}", "\n", " \r\n", "{}", ",", "\v"});
        return;
      default:
        json->insert(0, Pick<std::string>({"\xEF\xBB\xBF", " ", "[", "\v"}));
        return;
    }
  }

  std::mt19937 rng_;
  std::set<std::string> fields_written_;
};

// Every field reachable from InfraEvent, by full name.
void CollectFields(const Descriptor* d, std::set<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!out->insert(f->full_name()).second) continue;
    if (f->message_type() != nullptr && !f->is_map() &&
        f->message_type()->file()->name().rfind("google/protobuf/", 0) != 0) {
      CollectFields(f->message_type(), out);
    }
  }
}

// Every event the JSON path produces serializes (as `infratrail add` does) to
// an entry the log accepts, once the rules JSON cannot express are met: a
// known kind, a resource id, a named Channel and a Timestamp inside
// 0001..9999 (an offset can push protobuf's parse outside it). Unknown
// fields, duplicate keys and encodings are JSON's business, never the bytes'.
TEST(ParseEventJson, ParsedEventsSerializeToEntriesTheLogAccepts) {
  constexpr int kEvents = 5000;
  RandomEventJson gen(20261201);
  int parsed = 0;
  int untouched = 0;
  for (int i = 0; i < kEvents && !testing::Test::HasFailure(); ++i) {
    const std::string json = gen.Next();
    v1::InfraEvent e;
    if (!ParseEventJson(json, &e).ok()) continue;
    ++parsed;
    bool touched = false;
    if (e.kind() == v1::EVENT_KIND_UNSPECIFIED || !v1::EventKind_IsValid(e.kind())) {
      e.set_kind(v1::PROVISION);
      touched = true;
    }
    if (e.resource().id().empty()) {
      e.mutable_resource()->set_id("r");
      touched = true;
    }
    if (!v1::Channel_IsValid(e.actor().via())) {
      e.mutable_actor()->set_via(v1::CI);
      touched = true;
    }
    if (e.occurred_at().seconds() < kMinTimestampSeconds ||
        e.occurred_at().seconds() > kMaxTimestampSeconds) {
      e.mutable_occurred_at()->set_seconds(0);
      touched = true;
    }
    untouched += touched ? 0 : 1;
    const std::string entry = SerializeEvent(e);
    EXPECT_TRUE(ValidateEntry(entry, "entry").ok()) << json << "\n"
                                                    << ValidateEntry(entry, "entry");
  }
  EXPECT_GE(parsed, kEvents / 2);
  EXPECT_GE(untouched, kEvents / 20);
  v1::InfraEvent typical;
  ASSERT_TRUE(ParseEventJson(testutil::kTypicalEventLine, &typical).ok());
  EXPECT_TRUE(ValidateEntry(SerializeEvent(typical), "entry").ok());
}

TEST(ParseEventJson, RandomEventsMatchProtobufExactly) {
  constexpr int kEvents = 5000;
  RandomEventJson gen(20261123);
  int handled = 0;
  for (int i = 0; i < kEvents && !testing::Test::HasFailure(); ++i) {
    handled += ExpectSameAsProtobuf(gen.Next()) ? 1 : 0;
  }
  std::set<std::string> all;
  CollectFields(v1::InfraEvent::descriptor(), &all);
  for (const std::string& f : all) EXPECT_EQ(gen.fields_written().count(f), 1u) << f;
  // Both paths must be exercised, or the comparison proves little.
  EXPECT_GE(handled, kEvents / 3);
  EXPECT_LE(handled, kEvents * 9 / 10);
  std::cout << handled << " of " << kEvents << " random lines took the fast path\n";
}

TEST(ParseEventJson, MalformedAndEdgeInputsMatchProtobufExactly) {
  using namespace std::string_literals;
  const std::vector<std::string> inputs = {
      "",
      " ",
      "\n",
      "{}",
      " {} \r\n",
      "{",
      "}",
      "[]",
      "null",
      "1",
      R"("x")",
      "{}{}",
      R"({"bogus":"x"})",
      R"({"Kind":"ACCESS"})",
      R"({"":"x"})",
      R"({"kind":"NOPE"})",
      R"({"kind":"access"})",
      R"({"kind":3})",
      R"({"kind":"3"})",
      R"({"kind":99})",
      R"({"kind":true})",
      R"({"ticket":1})",
      R"({"ticket":true})",
      R"({"ticket":["a"]})",
      R"({"ticket":{}})",
      R"({"resource":"x"})",
      R"({"resource":[]})",
      R"({"attributes":[]})",
      R"({"attributes":{"a":1}})",
      R"({"attributes":{"a":{}}})",
      R"({"signatures":{}})",
      R"({"signatures":[1]})",
      R"({"signatures":[[]]})",
      R"({"signatures":[{"keyId":-1}]})",
      R"({"signatures":[{"keyId":4294967296}]})",
      R"({"signatures":[{"keyId":4294967295}]})",
      R"({"signatures":[{"keyId":1.5}]})",
      R"({"signatures":[{"keyId":-01}]})",
      R"({"signatures":[{"keyId":100000000000000000000}]})",
      R"({"signatures":[{"signature":"not base64!"}]})",
      R"({"signatures":[{"signature":"AAAA"}]})",
      R"({"kind":"ACCESS"} x)",
      R"({"kind":"ACCESS"}})",
      R"({"kind":"ACCESS"},)",
      "{\"kind\":\"ACCESS\"}\0"s,
      "{\"kind\":\"ACCESS\"}\v",
      "\v{\"kind\":\"ACCESS\"}",
      "\xEF\xBB\xBF{\"kind\":\"ACCESS\"}",
      R"({"kind":"ACCESS",})",
      R"({'kind':'ACCESS'})",
      R"({kind:"ACCESS"})",
      R"({"kind":"ACCESS"} // comment)",
      R"({"ticket":"\x"})",
      R"({"ticket":"\ud83d"})",
      R"({"ticket":"\udc00"})",
      R"({"ticket":"\ud83d\u0041"})",
      R"({"ticket":"\u0000"})",
      R"({"ki\u006ed":"ACCESS"})",
      "{\"ticket\":\"a\tb\"}",
      "{\"ticket\":\"\xff\"}",
      "{\"ticket\":\"\xc3\"}",
      "{\"ticket\":\"\xc0\xaf\"}",
      "{\"ticket\":\"\xed\xa0\x80\"}",
      "{\"attributes\":{\"\xff\":\"v\"}}",
      R"({"ticket":null})",
      R"({"resource":null})",
      R"({"occurredAt":null})",
      R"({"attributes":{"a":null}})",
      R"({"signatures":null})",
      R"({"signatures":[null]})",
      R"({"ticket":"a","ticket":"b"})",
      R"({"artifactDigest":"a","artifact_digest":"b"})",
      R"({"resource":{"id":"a"},"resource":{"type":"b"}})",
      R"({"attributes":{"a":"1"},"attributes":{"b":"2"}})",
      R"({"attributes":{"a":"1","a":"2"}})",
      R"({"resource":{"id":"a","id":"b"}})",
      R"({"occurredAt":{"seconds":5}})",
      R"({"occurredAt":"2026-11-23T10:00:00Z\u0000junk"})",
      R"({"occurredAt":""})",
      R"({"occurredAt":"0000-01-01T00:00:00Z"})",
      R"({"occurredAt":"0001-01-01T00:00:00+01:00"})",
      R"({"occurredAt":"9999-12-31T23:59:59.999999999-23:59"})",
      R"({"occurredAt":"2026-11-23T10:00:00.1234567891Z"})",
      R"({"occurredAt":"2026-02-30T10:00:00Z"})",
      R"({"occurredAt":"2026-11-23T10:00:00.Z"})",
      R"({"occurredAt":"2026-11-23 10:00:00Z"})",
      R"({"occurredAt":1795428000})",
      R"({"resource":{},"actor":{},"source":{}})",
      R"({"kind":"EVENT_KIND_UNSPECIFIED","ticket":"","attributes":{"":""}})",
      "{\"bogus\":" + std::string(5000, '[') + std::string(5000, ']') + "}",
      "{\"signatures\":" + std::string(150, '[') + std::string(150, ']') + "}",
      "{\"resource\":{\"id\":" + std::string(200, '{') + std::string(200, '}') + "}}",
      "{\"ticket\":\"" + std::string(100000, 'x') + "\"}",
      "{\"ticket\":\"" + std::string(2 << 20, 'y') + "\"}",
      "{\"justification\":\"" + std::string(50000, '\\') + std::string(50000, '\\') + "\"}",
  };
  for (const std::string& json : inputs) ExpectSameAsProtobuf(json);
}

// Inputs protobuf treats in ways the fast path does not copy (merging
// duplicates, nulls, numbers for enums and in strings, bytes, a lone object
// for a repeated field): the fast path must leave them to protobuf.
TEST(ParseEventJson, FastPathLeavesProtobufQuirksToProtobuf) {
  for (const char* json : {
           R"({"ticket":"a","ticket":"b"})",
           R"({"artifactDigest":"a","artifact_digest":"b"})",
           R"({"resource":{"id":"a"},"resource":{"type":"b"}})",
           R"({"attributes":{"a":"1","a":"2"}})",
           R"({"ticket":null})",
           R"({"kind":3})",
           R"({"signatures":[{"keyId":"5"}]})",
           R"({"signatures":[{"keyId":1.0}]})",
           R"({"signatures":[{"signature":"AAAA"}]})",
           R"({"signatures":{"keyName":"k"}})",
           R"({"occurredAt":"2026-11-23T10:00:00Z\u0000junk"})",
       }) {
    v1::InfraEvent event;
    EXPECT_FALSE(ParseEventJsonFastPathForTesting(json, &event)) << json;
    ExpectSameAsProtobuf(json);
  }
}

TEST(ParseEventJson, TypicalLineTakesFastPath) {
  v1::InfraEvent event;
  ASSERT_TRUE(ParseEventJsonFastPathForTesting(testutil::kTypicalEventLine, &event));
  EXPECT_EQ(event.kind(), v1::PROVISION);
  EXPECT_EQ(event.occurred_at().seconds(), 1795428000);
  EXPECT_EQ(event.resource().id(), "i-0000000000000001");
  EXPECT_EQ(event.actor().via(), v1::IAC);
  EXPECT_EQ(event.attributes().at("env"), "prod");
  EXPECT_TRUE(ExpectSameAsProtobuf(testutil::kTypicalEventLine));
  // Keys by proto field name, whitespace and escapes are fast too.
  EXPECT_TRUE(ExpectSameAsProtobuf(
      " { \"occurred_at\" : \"2026-11-23T10:00:00.5+01:00\", "
      "\"artifact_digest\":\"sha256:\\u00e9\","
      " \"signatures\": [ {\"key_name\":\"k\", \"keyId\": 4294967295} ] }\r\n"));
}

// TimeUtil::FromString aborts the process on times an offset pushes out of
// range; protobuf's JSON parser accepts them.
TEST(ParseEventJson, TimestampOutsideRangeDoesNotAbort) {
  const std::string json = R"({"occurredAt":"9999-12-31T23:59:59.999999999-01:00"})";
  v1::InfraEvent event;
  ASSERT_TRUE(ParseEventJson(json, &event).ok());
  EXPECT_EQ(event.occurred_at().seconds(), 253402304399);
  EXPECT_FALSE(ExpectSameAsProtobuf(json));
}

TEST(ParseEventJson, FailureReturnsProtobufErrorAndLeavesEventUnchanged) {
  v1::InfraEvent event = Prefilled();
  const absl::Status status = ParseEventJson(R"({"kind":"NOPE"})", &event);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("\"NOPE\""), absl::string_view::npos) << status;
  EXPECT_TRUE(MessageDifferencer::Equals(event, Prefilled()));
}

TEST(ParseEventJson, ThreadsParseConcurrently) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> mismatches(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &mismatches] {
      for (int i = 0; i < 2000; ++i) {
        const std::string ticket = absl::StrCat("T", t, "-", i);
        v1::InfraEvent event;
        const absl::Status status =
            ParseEventJson(absl::StrCat(R"({"kind":"ACCESS","ticket":")", ticket, "\"}"), &event);
        if (!status.ok() || event.ticket() != ticket) ++mismatches[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace infratrail
