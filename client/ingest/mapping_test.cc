#include "client/ingest/mapping.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/event_flags.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"

namespace infratrail::ingest {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

v1::InfraEvent Valid() {
  v1::InfraEvent e;
  e.set_kind(v1::PROVISION);
  e.mutable_resource()->set_id("i-0123");
  e.mutable_occurred_at()->set_seconds(1700000000);
  (*e.mutable_attributes())["aws.event_id"] = "abc";
  return e;
}

// The same verdict as ValidateEntry on the serialized bytes.
void ExpectAgreement(const v1::InfraEvent& e, const std::string& what) {
  const std::string bytes = SerializeEvent(e);
  const absl::Status fast = ValidateMappedEvent(e, bytes, "ev");
  const absl::Status full = ValidateEntry(bytes, "ev");
  EXPECT_EQ(fast.ok(), full.ok()) << what << ": " << fast << " / " << full;
}

TEST(ValidateMappedEventTest, AgreesWithValidateEntryOnFields) {
  ExpectAgreement(Valid(), "valid");
  v1::InfraEvent e = Valid();
  e.set_kind(v1::EVENT_KIND_UNSPECIFIED);
  ExpectAgreement(e, "no kind");
  EXPECT_EQ(ValidateMappedEvent(e, SerializeEvent(e), "ev").message(), "ev.kind: missing");
  e = Valid();
  e.mutable_resource()->clear_id();
  ExpectAgreement(e, "no id");
  e = Valid();
  e.mutable_occurred_at()->set_nanos(-1);
  ExpectAgreement(e, "bad nanos");
  e = Valid();
  e.mutable_actor()->set_via(static_cast<v1::Channel>(77));
  ExpectAgreement(e, "unknown via");
  e = Valid();
  e.set_justification(std::string(70 * 1024, 'x'));
  ExpectAgreement(e, "too big");
  EXPECT_TRUE(absl::StrContains(ValidateMappedEvent(e, SerializeEvent(e), "ev").message(),
                                "bytes exceeds the limit"));
}

// Sets every string field reachable from `m` (not in maps) to `value` in
// turn, calling `check` with the field's path each time.
void EachStringField(Message* m, const std::string& path, const std::string& value,
                     const std::function<void(const std::string&)>& check) {
  const Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map() || f->is_repeated()) continue;
    const std::string p = path + "." + f->name();
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      const std::string old = m->GetReflection()->GetString(*m, f);
      m->GetReflection()->SetString(m, f, value);
      check(p);
      m->GetReflection()->SetString(m, f, old);
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      EachStringField(m->GetReflection()->MutableMessage(m, f), p, value, check);
    }
  }
}

TEST(ValidateMappedEventTest, EveryStringFieldOfTheSchemaIsCheckedForUtf8) {
  v1::InfraEvent e = Valid();
  int fields = 0;
  EachStringField(&e, "ev", "bad \xff byte", [&](const std::string& path) {
    ++fields;
    const std::string bytes = SerializeEvent(e);
    const absl::Status st = ValidateMappedEvent(e, bytes, "ev");
    EXPECT_EQ(st.message(), path + ": not UTF-8") << path;
    EXPECT_FALSE(ValidateEntry(bytes, "ev").ok()) << path;  // which agrees
  });
  EXPECT_GE(fields, 10);
  for (const bool in_key : {true, false}) {
    v1::InfraEvent a = Valid();
    (*a.mutable_attributes())[in_key ? "k\xff" : "k"] = in_key ? "v" : "v\xff";
    EXPECT_TRUE(absl::StrContains(ValidateMappedEvent(a, SerializeEvent(a), "ev").message(),
                                  "ev.attributes["));
    ExpectAgreement(a, "attribute");
  }
}

TEST(ValidateMappedEventTest, SignedEventsAreSentToValidateEntry) {
  v1::InfraEvent e = Valid();
  e.add_signatures()->set_key_name("k");
  EXPECT_FALSE(ValidateMappedEvent(e, SerializeEvent(e), "ev").ok());
}

}  // namespace
}  // namespace infratrail::ingest

namespace infratrail::ingest {
namespace {

TEST(HasVerbTest, AWholeLeadingWordInEitherCase) {
  EXPECT_TRUE(HasVerb("CreateBucket", "Create"));
  EXPECT_TRUE(HasVerb("createBucket", "create"));
  EXPECT_TRUE(HasVerb("CreateBucket", "create"));  // CloudKMS writes "CreateCryptoKey"
  EXPECT_TRUE(HasVerb("Create", "Create"));
  EXPECT_FALSE(HasVerb("Createx", "Create"));
  EXPECT_FALSE(HasVerb("Cre", "Create"));
  EXPECT_FALSE(HasVerb("RecreateBucket", "create"));
  EXPECT_FALSE(HasVerb("CreateBucket", ""));
  const std::string_view verbs[] = {"Get", "List"};
  EXPECT_TRUE(HasAnyVerb("listBuckets", verbs));
  EXPECT_FALSE(HasAnyVerb("Getaway", verbs));
}

TEST(FirstOverlongValueTest, NamesTheFirstValueOverTheBound) {
  const std::string big(kMaxValueBytes + 1, 'a');
  const std::pair<std::string_view, std::string_view> ok[] = {
      {"a", "x"}, {"b", std::string(kMaxValueBytes, 'b')}};
  EXPECT_EQ(FirstOverlongValue(ok), "");
  const std::pair<std::string_view, std::string_view> bad[] = {
      {"a", "x"}, {"eventID", big}, {"c", big}};
  EXPECT_EQ(FirstOverlongValue(bad),
            absl::StrCat("eventID: ", big.size(), " bytes, more than ", kMaxValueBytes, ": \"",
                         std::string(80, 'a'), "...\""));
}

}  // namespace
}  // namespace infratrail::ingest

namespace infratrail::ingest {
namespace {

TEST(NoStringTest, SaysWhatIsThereInstead) {
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(
      std::string_view(R"({"a":42,"b":"","c":null,"d":{"e":[1]},"f":true,"g":1.5,"h":{}})"));
  EXPECT_EQ(NoString(e, "a"), "a: a number, not a string");
  EXPECT_EQ(NoString(e, "b"), "b: empty");
  EXPECT_EQ(NoString(e, "c"), "c: missing");
  EXPECT_EQ(NoString(e, "zz"), "zz: missing");
  EXPECT_EQ(NoString(e, "d.e"), "d.e: an array, not a string");
  EXPECT_EQ(NoString(e, "d.x"), "d.x: missing");
  EXPECT_EQ(NoString(e, "f"), "f: a boolean, not a string");
  EXPECT_EQ(NoString(e, "g"), "g: a number, not a string");
  EXPECT_EQ(NoString(e, "h"), "h: an object, not a string");
}

}  // namespace
}  // namespace infratrail::ingest

namespace infratrail::ingest {
namespace {

TEST(ExcerptTest, EscapesControlCharactersAndCutsAtACharacter) {
  EXPECT_EQ(Excerpt("ok\ningest: forged\x1b[31m"), "ok\\x0aingest: forged\\x1b[31m");
  EXPECT_EQ(Excerpt("abc\x7f"), "abc\\x7f");
  EXPECT_EQ(Excerpt("h\xc3\xa9llo", 2), "h...");  // not inside the two bytes of é
  EXPECT_EQ(Excerpt("short"), "short");
}

TEST(SetOccurredAtTest, RefusesWhatParseTimeWouldSkip) {
  v1::InfraEvent e;
  EXPECT_TRUE(SetOccurredAt("2026-11-30T09:14:03Z", "t", &e).ok());
  for (const std::string_view bad :
       {std::string_view("2026-11-30T09:14:03Z\0junk", 25),
        std::string_view(" 2026-11-30T09:14:03Z"), std::string_view("2026-11-30T09:14:03Z "),
        std::string_view("")}) {
    const absl::Status st = SetOccurredAt(bad, "t", &e);
    EXPECT_FALSE(st.ok()) << Excerpt(bad);
    EXPECT_THAT(std::string(st.message()), testing::HasSubstr("not an RFC 3339 timestamp"));
  }
}

}  // namespace
}  // namespace infratrail::ingest
