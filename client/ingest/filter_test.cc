#include "client/ingest/filter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pointee;
using ::testing::StartsWith;

v1::InfraEvent Event(std::string principal, v1::EventKind kind = v1::ACCESS,
                     std::string provider = "k8s:prod", std::string type = "secrets",
                     std::string id = "default/db") {
  v1::InfraEvent e;
  e.set_kind(kind);
  e.mutable_actor()->set_principal(std::move(principal));
  e.mutable_resource()->set_provider(std::move(provider));
  e.mutable_resource()->set_type(std::move(type));
  e.mutable_resource()->set_id(std::move(id));
  return e;
}

absl::Status ParseError(std::string_view yaml) {
  return EventFilter::Parse(yaml, "f.yaml").status();
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---- Parse errors ---------------------------------------------------------

TEST(EventFilterParse, UnknownKeyIsNamedWithItsPosition) {
  absl::Status s = ParseError("rules:\n  - name: r\n    actr: [x]\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("f.yaml:3:5: rules[0].actr: unknown key; expected one of"));
  EXPECT_THAT(Message(ParseError("rulez: []\n")), StartsWith("f.yaml:1:1: rulez: unknown key"));
}

TEST(EventFilterParse, RuleWithOnlyANameMatchesEverythingAndIsRefused) {
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n")),
              StartsWith("f.yaml:2:5: rules[0]: matches every event"));
  EXPECT_THAT(Message(ParseError("rules:\n  - {}\n")),
              StartsWith("f.yaml:2:5: rules[0].name: missing"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: \"\"\n    actor: x\n")),
              StartsWith("f.yaml:2:11: rules[0].name: is empty"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: \"a\\tb\"\n    actor: x\n")),
              HasSubstr("rules[0].name: holds a control character"));
}

TEST(EventFilterParse, BadKindIsNamed) {
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    kind: [ACCESS, ACESS]\n")),
              StartsWith("f.yaml:3:20: rules[0].kind: \"ACESS\" is not an event kind"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    kind: EVENT_KIND_UNSPECIFIED\n")),
              HasSubstr("rules[0].kind: \"EVENT_KIND_UNSPECIFIED\" is not an event kind"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    kind: 3\n")),
              HasSubstr("rules[0].kind: \"3\" is not an event kind"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    kind: []\n")),
              HasSubstr("rules[0].kind: empty list"));
}

TEST(EventFilterParse, BadGlobIsNamedWithItsItem) {
  absl::Status s = ParseError("rules:\n  - name: r\n    actor: [ok, \"[]\"]\n");
  EXPECT_THAT(Message(s), StartsWith("f.yaml:3:17: rules[0].actor: "));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    resource_id: \"a\\\\\"\n")),
              HasSubstr("rules[0].resource_id: "));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    attributes: {k8s.verb: \"[z-a]\"}\n")),
              HasSubstr("rules[0].attributes.k8s.verb: "));
}

TEST(EventFilterParse, WrongShapesAreNamed) {
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    actor: {a: b}\n")),
              HasSubstr("rules[0].actor: expected a string or a list of strings, found a map"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    actor: [[a]]\n")),
              HasSubstr("rules[0].actor[0]: expected a string, found a list"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    attributes: [a]\n")),
              HasSubstr("rules[0].attributes: expected a map of attribute: [globs]"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    attributes: {}\n")),
              HasSubstr("rules[0].attributes: expected a map"));
  EXPECT_THAT(Message(ParseError("rules: {a: b}\n")), HasSubstr("rules: expected a list"));
  EXPECT_THAT(Message(ParseError("- a\n")), StartsWith("f.yaml:1:1: filter: expected a map"));
  EXPECT_THAT(Message(ParseError("")), StartsWith("f.yaml:1:1: filter: expected a map"));
  EXPECT_THAT(Message(ParseError("{}\n")), HasSubstr("rules: missing"));
}

TEST(EventFilterParse, DuplicateNameIsNamed) {
  absl::Status s = ParseError(
      "rules:\n  - name: a\n    actor: x\n  - name: b\n    actor: y\n  - name: a\n    actor: z\n");
  EXPECT_THAT(Message(s), StartsWith("f.yaml:6:5: rules[2].name: \"a\" used twice"));
  EXPECT_THAT(Message(ParseError("rules:\n  - name: a\n    actor: x\n    actor: y\n")),
              HasSubstr("rules[0].actor: duplicate key"));
}

TEST(EventFilterParse, MalformedYamlHasAPosition) {
  absl::Status s = ParseError("rules:\n  - name: [unclosed\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("f.yaml:"));
  EXPECT_THAT(Message(s), HasSubstr("malformed YAML"));
  EXPECT_THAT(Message(ParseError("rules: *nope\n")), HasSubstr("malformed YAML"));
}

TEST(EventFilterParse, InvalidUtf8IsRefused) {
  EXPECT_THAT(Message(ParseError("rules:\n  - name: r\n    actor: \"a\xff\"\n")),
              HasSubstr("f.yaml:"));
}

TEST(EventFilterParse, SecondYamlDocumentIsNotSilentlyIgnored) {
  // Two filter files joined with `cat`: the rules of the second must not be
  // dropped without a word.
  absl::Status s =
      ParseError("rules:\n  - name: a\n    actor: x\n---\nrules:\n  - name: b\n    actor: y\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("f.yaml:5:1: filter: more than one YAML document"));
  // A "---" before the only document, or after it, is fine.
  EXPECT_TRUE(EventFilter::Parse("---\nrules:\n  - name: a\n    actor: x\n---\n", "f").ok());
}

TEST(EventFilterParse, EmptyRulesAreNoRules) {
  absl::StatusOr<EventFilter> f = EventFilter::Parse("rules:\n", "f.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->rule_names(), IsEmpty());
  EXPECT_EQ(f->Match(Event("anyone")), nullptr);
}

TEST(EventFilterParse, AliasBombIsBoundedAndRefused) {
  // Each alias use names the same 1000-item list again: 3000 uses are
  // 3,000,000 items from a 30 KiB file. yaml-cpp shares the node; the
  // reader counts every use and stops.
  std::string yaml = "rules:\n  - name: r\n    attributes:\n      k0: &a [";
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&yaml, i == 0 ? "" : ",", "x", i);
  yaml += "]\n";
  for (int i = 1; i < 3000; ++i) absl::StrAppend(&yaml, "      k", i, ": *a\n");
  absl::Status s = ParseError(yaml);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("list items and keys (counting each use of an alias)"));
}

TEST(EventFilterParse, AliasedRuleIsADuplicate) {
  std::string yaml = "rules:\n  - &r {name: r, actor: x}\n";
  for (int i = 0; i < 999; ++i) yaml += "  - *r\n";
  EXPECT_THAT(Message(ParseError(yaml)), HasSubstr("rules[1].name: \"r\" used twice"));
  yaml += "  - *r\n";
  EXPECT_THAT(Message(ParseError(yaml)), HasSubstr("1001 items, more than the limit of 1000"));
}

TEST(EventFilterParse, DeepNestingIsRefusedWithoutCrashing) {
  for (const std::string& yaml :
       {absl::StrCat("rules: ", std::string(100000, '[')),
        absl::StrCat("rules: ", std::string(100000, '{')),
        absl::StrCat("rules:\n  - name: r\n    actor: ", std::string(100000, '['),
                     std::string(100000, ']'), "\n")}) {
    absl::Status s = ParseError(yaml);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), StartsWith("f.yaml:"));
  }
}

TEST(EventFilterLoad, MissingAndOversizedFilesAreNamed) {
  absl::StatusOr<EventFilter> f = EventFilter::Load("/nonexistent/filter.yaml");
  EXPECT_THAT(Message(f.status()), StartsWith("--filter: "));
  EXPECT_THAT(Message(f.status()), HasSubstr("/nonexistent/filter.yaml"));
}

// ---- Matching -------------------------------------------------------------

TEST(EventFilterMatch, EveryKeyGivenMustMatchAndAnyGlobOfAList) {
  absl::StatusOr<EventFilter> f = EventFilter::Parse(R"(rules:
  - name: controllers
    actor: ["system:kube-*", "system:apiserver"]
    kind: [ACCESS, CONFIG_CHANGE]
    resource_provider: "k8s:*"
    resource_type: [secrets, configmaps]
    resource_id: ["kube-system/*"]
)",
                                                     "f.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  auto e = [](std::string actor) {
    return Event(std::move(actor), v1::ACCESS, "k8s:prod", "secrets", "kube-system/token");
  };
  EXPECT_THAT(f->Match(e("system:kube-scheduler")), Pointee(std::string("controllers")));
  EXPECT_THAT(f->Match(e("system:apiserver")), Pointee(std::string("controllers")));
  EXPECT_EQ(f->Match(e("alice")), nullptr);
  v1::InfraEvent other = e("system:apiserver");
  other.set_kind(v1::PROVISION);
  EXPECT_EQ(f->Match(other), nullptr);
  other = e("system:apiserver");
  other.mutable_resource()->set_provider("aws");
  EXPECT_EQ(f->Match(other), nullptr);
  other = e("system:apiserver");
  other.mutable_resource()->set_type("pods");
  EXPECT_EQ(f->Match(other), nullptr);
  other = e("system:apiserver");
  other.mutable_resource()->set_id("default/token");
  EXPECT_EQ(f->Match(other), nullptr);
}

TEST(EventFilterMatch, AttributesMustBePresentAndMatch) {
  absl::StatusOr<EventFilter> f = EventFilter::Parse(
      "rules:\n  - name: reads\n    attributes: {k8s.verb: [get, list], k8s.ns: \"kube-*\"}\n",
      "f.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  v1::InfraEvent e = Event("bob");
  EXPECT_EQ(f->Match(e), nullptr);  // no attributes at all
  (*e.mutable_attributes())["k8s.verb"] = "list";
  EXPECT_EQ(f->Match(e), nullptr);  // one missing
  (*e.mutable_attributes())["k8s.ns"] = "kube-system";
  EXPECT_THAT(f->Match(e), Pointee(std::string("reads")));
  (*e.mutable_attributes())["k8s.verb"] = "delete";
  EXPECT_EQ(f->Match(e), nullptr);
  (*e.mutable_attributes())["k8s.verb"] = "";
  EXPECT_EQ(f->Match(e), nullptr);
}

TEST(EventFilterMatch, FirstMatchingRuleNamesTheDrop) {
  absl::StatusOr<EventFilter> f = EventFilter::Parse(R"(rules:
  - name: nodes
    actor: "system:node:*"
  - name: everyone-reading
    kind: ACCESS
  - name: never-reached
    actor: "system:node:n1"
)",
                                                     "f.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->rule_names(), ElementsAre("nodes", "everyone-reading", "never-reached"));
  EXPECT_THAT(f->Match(Event("system:node:n1")), Pointee(std::string("nodes")));
  EXPECT_THAT(f->Match(Event("alice")), Pointee(std::string("everyone-reading")));
  EXPECT_EQ(f->Match(Event("alice", v1::PROVISION)), nullptr);
}

TEST(EventFilterMatch, KindOutsideTheEnumMatchesNoKindRule) {
  // Proto enums are open: a kind the filter does not know must not shift
  // past 64 bits and alias a known one.
  absl::StatusOr<EventFilter> f =
      EventFilter::Parse("rules:\n  - name: provisions\n    kind: PROVISION\n", "f.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->Match(Event("a", v1::PROVISION)), Pointee(std::string("provisions")));
  for (int kind : {65, 129, -63, 1000}) {
    EXPECT_EQ(f->Match(Event("a", static_cast<v1::EventKind>(kind))), nullptr) << kind;
  }
}

TEST(EventFilterDefault, K8sDropsNodesAndControllersAndKeepsPeople) {
  EventFilter f = EventFilter::DefaultFor("k8s-audit");
  EXPECT_THAT(f.rule_names(), ElementsAre("system-controllers"));
  for (const char* machine :
       {"system:node:ip-10-0-0-1.ec2.internal", "system:kube-scheduler", "system:apiserver",
        "system:kube-controller-manager", "system:serviceaccount:kube-system:coredns"}) {
    EXPECT_THAT(f.Match(Event(machine)), Pointee(std::string("system-controllers"))) << machine;
  }
  for (const char* person : {"alice@example.com", "system:serviceaccount:default:deployer",
                             "system:nodes", "system:node", "kubernetes-admin", ""}) {
    EXPECT_EQ(f.Match(Event(person)), nullptr) << person;
  }
  EXPECT_THAT(EventFilter::DefaultFor("cloudtrail").rule_names(), IsEmpty());
  EXPECT_THAT(EventFilter::DefaultFor("").rule_names(), IsEmpty());
}

}  // namespace
}  // namespace infratrail::ingest
