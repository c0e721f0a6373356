#include "verifier/policy/policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/emitter_signature.h"
#include "core/hash.h"
#include "gtest/gtest.h"
#include "verifier/policy/policy_impl.h"
#include "verifier/policy/testing/policy_testing.h"

namespace infratrail {
namespace {

using policy_internal::TerraformDeclaration;
using testutil::FakeRepoState;
using testutil::LoggedEvent;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kCommit = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39";

NoteSigner Signer(absl::string_view name, char seed) {
  return *NoteSigner::FromSeed(name, std::string(32, seed));
}

// Compliant with every requirement the tests use.
v1::InfraEvent GoodEvent() {
  v1::InfraEvent e;
  e.set_kind(v1::ACCESS);
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_type("postgres-14");
  e.mutable_resource()->set_id("prod-db-1");
  e.mutable_actor()->set_principal("oncall-bob");
  e.mutable_actor()->set_via(v1::IAC);
  e.mutable_source()->set_repository("https://github.com/example/infra");
  e.mutable_source()->set_commit(kCommit);
  e.set_artifact_digest(kDigestA);
  e.set_justification("rotate credentials");
  e.set_ticket("CHG-1");
  return e;
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    dir_.Write("allowed.txt", "# deploys we allow\n" + kDigestA + "\n");
    dir_.Write("approver2.vkey", approver2_.VerifierKey() + "\n");
    repo_->reachable.insert(kCommit);
    repo_->declared.insert({kCommit, "terraform/", "prod-db-1"});
    options_ = testutil::FakeRepoOptions(repo_);
  }

  std::unique_ptr<Policy> Load(const std::string& yaml) {
    absl::StatusOr<std::unique_ptr<Policy>> p =
        Policy::Parse(yaml, "p.yaml", dir_.path(), options_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  std::vector<PolicyViolation> Eval(Policy& p, const LoggedEvent& e) {
    std::vector<PolicyViolation> out;
    absl::Status s = p.Evaluate(e.view(), &state_, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::string Signed(const v1::InfraEvent& e, std::initializer_list<const NoteSigner*> by) {
    std::string entry = e.SerializeAsString();
    for (const NoteSigner* s : by) entry = *SignEvent(entry, *s);
    return entry;
  }

  testutil::ScratchDir dir_;
  std::shared_ptr<FakeRepoState> repo_ = std::make_shared<FakeRepoState>();
  PolicyOptions options_;
  PolicyState state_;
  NoteSigner approver1_ = Signer("approver1", 1);
  NoteSigner approver2_ = Signer("approver2", 2);
  NoteSigner stranger_ = Signer("stranger", 3);
};

struct RequirementCase {
  const char* name;
  std::string require;  // the rule's `require:` value, in flow style
  std::function<void(v1::InfraEvent*)> violate;
  const char* requirement;
  std::string message;  // a substring of the violation's message
};

TEST_F(PolicyTest, EachRequirementFiresOnItsViolationOnly) {
  const std::string source =
      "{source_in_repo: {repository: 'https://github.com/example/infra', clone: repos/infra, "
      "ref: refs/heads/main, declares_resource: terraform/}}";
  const std::vector<RequirementCase> cases = {
      {"justification", "{justification: true}", [](auto* e) { e->clear_justification(); },
       "justification", "justification is empty"},
      {"ticket", "{ticket: true}", [](auto* e) { e->clear_ticket(); }, "ticket", "ticket is empty"},
      {"via", "{via: [IAC, CI]}", [](auto* e) { e->mutable_actor()->set_via(v1::CONSOLE); }, "via",
       "actor.via CONSOLE is not one of IAC, CI"},
      {"via scalar", "{via: IAC}", [](auto* e) { e->mutable_actor()->clear_via(); }, "via",
       "actor.via CHANNEL_UNSPECIFIED is not one of IAC"},
      {"actor", "{actor: ['oncall-*', 'sre-?']}",
       [](auto* e) { e->mutable_actor()->set_principal("mallory"); }, "actor",
       "actor.principal \"mallory\" matches none of oncall-*, sre-?"},
      {"digest not allowed", "{artifact_digest_in: allowed.txt}",
       [](auto* e) { e->set_artifact_digest(kDigestB); }, "artifact_digest_in",
       absl::StrCat("artifact_digest \"", kDigestB, "\" is not in ")},
      {"digest empty", "{artifact_digest_in: allowed.txt}",
       [](auto* e) { e->clear_artifact_digest(); }, "artifact_digest_in",
       "artifact_digest is empty"},
      {"digest upper case", "{artifact_digest_in: allowed.txt}",
       [](auto* e) { e->set_artifact_digest("sha256:" + std::string(64, 'A')); },
       "artifact_digest_in", "is not in "},
      {"repository", source,
       [](auto* e) { e->mutable_source()->set_repository("https://github.com/evil/infra"); },
       "source_in_repo",
       "source.repository \"https://github.com/evil/infra\" is not "
       "https://github.com/example/infra"},
      {"commit empty", source, [](auto* e) { e->mutable_source()->clear_commit(); },
       "source_in_repo", "source.commit is empty"},
      {"commit unreachable", source,
       [](auto* e) { e->mutable_source()->set_commit("deadbeefdeadbeef"); }, "source_in_repo",
       "commit deadbeefdeadbeef is not reachable"},
      {"resource not declared", source, [](auto* e) { e->mutable_resource()->set_id("prod-db-2"); },
       "source_in_repo", "prod-db-2 is not declared under terraform/"},
  };
  for (const RequirementCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Policy> p =
        Load(absl::StrCat("version: 1\nrules:\n  - id: r\n    require: ", c.require, "\n"));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(Eval(*p, LoggedEvent::Of(GoodEvent())).empty());
    v1::InfraEvent bad = GoodEvent();
    c.violate(&bad);
    std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::Of(bad));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].rule, "r");
    EXPECT_EQ(v[0].severity, PolicySeverity::kAlert);
    EXPECT_EQ(v[0].requirement, c.requirement);
    EXPECT_TRUE(absl::StrContains(v[0].message, c.message)) << v[0].message;
  }
}

TEST(TerraformDeclarationTest, AddressesBecomeTheirDeclarationText) {
  EXPECT_EQ(TerraformDeclaration("aws_instance.web"), "\"aws_instance\" \"web\"");
  EXPECT_EQ(TerraformDeclaration("aws_instance.web[0]"), "\"aws_instance\" \"web\"");
  EXPECT_EQ(TerraformDeclaration("module.net.aws_subnet.private[\"a\"]"),
            "\"aws_subnet\" \"private\"");
  EXPECT_EQ(TerraformDeclaration("module.a[\"x.y]\"].module.b[2].google_kms_key_ring.ring"),
            "\"google_kms_key_ring\" \"ring\"");
  EXPECT_EQ(TerraformDeclaration("data.aws_ami.ubuntu"), "\"aws_ami\" \"ubuntu\"");
  for (const char* not_one : {"prod-db-1", "i-0abc", "aws_instance.", ".web", "aws_instance.web.x",
                              "aws_instance.web[0", "module.net", "arn:aws:s3:::bucket", ""}) {
    EXPECT_EQ(TerraformDeclaration(not_one), std::nullopt) << not_one;
  }
}

TEST_F(PolicyTest, DeclaresResourceLooksForATerraformAddresssDeclaration) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n  - id: r\n    require: {source_in_repo: {repository: "
      "'https://github.com/example/infra', clone: repos/infra, ref: refs/heads/main, "
      "declares_resource: terraform/}}\n");
  ASSERT_NE(p, nullptr);
  repo_->declared.insert({kCommit, "terraform/", "\"aws_subnet\" \"private\""});
  v1::InfraEvent e = GoodEvent();
  e.mutable_resource()->set_id("module.net.aws_subnet.private[\"a\"]");
  (*e.mutable_attributes())["terraform.address"] = e.resource().id();
  EXPECT_TRUE(Eval(*p, LoggedEvent::Of(e)).empty());
  // Another resource of the same type is not declared by that block.
  e.mutable_resource()->set_id("module.net.aws_subnet.public[\"a\"]");
  (*e.mutable_attributes())["terraform.address"] = e.resource().id();
  std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::Of(e));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(absl::StrContains(v[0].message, "\"aws_subnet\" \"public\" is not declared"))
      << v[0].message;
  // Without the attribute (not from `ingest terraform`) the id is searched as it is.
  e.mutable_attributes()->erase("terraform.address");
  v = Eval(*p, LoggedEvent::Of(e));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(absl::StrContains(v[0].message, "module.net.aws_subnet.public[\"a\"] is not"))
      << v[0].message;
}

TEST_F(PolicyTest, SignaturesCountDistinctConfiguredKeysThatVerify) {
  std::unique_ptr<Policy> p = Load(absl::StrCat(
      "version: 1\nrules:\n  - id: two-approvers\n    require:\n      signatures: {keys: ['",
      approver1_.VerifierKey(), "', '@approver2.vkey']}\n"));
  ASSERT_NE(p, nullptr);
  const v1::InfraEvent e = GoodEvent();
  EXPECT_TRUE(Eval(*p, LoggedEvent::OfEntry(Signed(e, {&approver1_, &approver2_}))).empty());
  EXPECT_TRUE(
      Eval(*p, LoggedEvent::OfEntry(Signed(e, {&stranger_, &approver2_, &approver1_}))).empty());

  // One approver, even with another key's signature too, is not two.
  std::vector<PolicyViolation> v =
      Eval(*p, LoggedEvent::OfEntry(Signed(e, {&approver1_, &stranger_})));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].requirement, "signatures");
  EXPECT_EQ(v[0].message,
            "2 of the required 2 signatures needed: 1 valid (approver1), 0 not verifying, 1 by "
            "other keys");

  // A signature by approver2's name and key ID that does not verify.
  std::string forged = Signed(e, {&approver1_});
  v1::InfraEvent sig_only;
  auto* s = sig_only.add_signatures();
  s->set_key_name(approver2_.name());
  s->set_key_id(approver2_.key_id());
  s->set_signature(std::string(64, 'x'));
  forged += sig_only.SerializeAsString();
  v = Eval(*p, LoggedEvent::OfEntry(forged));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(absl::StrContains(v[0].message, "1 not verifying (approver2)")) << v[0].message;

  EXPECT_EQ(Eval(*p, LoggedEvent::Of(e)).size(), 1u);  // unsigned
}

TEST_F(PolicyTest, RepeatedSignatureRecordsOfAKeyCountOnceAndAreNotChecked) {
  std::unique_ptr<Policy> p = Load(
      absl::StrCat("version: 1\nrules:\n  - id: signed\n    require:\n      signatures: {keys: ['",
                   approver1_.VerifierKey(), "']}\n"));
  ASSERT_NE(p, nullptr);
  const std::string unsigned_entry = GoodEvent().SerializeAsString();
  const std::string once = Signed(GoodEvent(), {&approver1_});
  const std::string record = once.substr(unsigned_entry.size());
  EXPECT_TRUE(Eval(*p, LoggedEvent::OfEntry(once + record + record)).empty());

  v1::InfraEvent bad;
  auto* s = bad.add_signatures();
  s->set_key_name(approver1_.name());
  s->set_key_id(approver1_.key_id());
  s->set_signature(std::string(64, 'x'));
  std::vector<PolicyViolation> v =
      Eval(*p, LoggedEvent::OfEntry(unsigned_entry + bad.SerializeAsString() + record));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].message,
            "1 of the required 1 signatures needed: 0 valid, 1 not verifying (approver1), 0 by "
            "other keys, 1 repeated (not checked)");
}

TEST_F(PolicyTest, SignaturesAtLeastAllowsFewerThanAllKeys) {
  std::unique_ptr<Policy> p = Load(absl::StrCat(
      "version: 1\nrules:\n  - id: one-approver\n    require:\n      signatures: {keys: ['",
      approver1_.VerifierKey(), "', '@approver2.vkey'], at_least: 1}\n"));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(Eval(*p, LoggedEvent::OfEntry(Signed(GoodEvent(), {&approver2_}))).empty());
  EXPECT_EQ(Eval(*p, LoggedEvent::OfEntry(Signed(GoodEvent(), {&stranger_}))).size(), 1u);
}

TEST_F(PolicyTest, MalformedSignatureRecordIsAViolationNotAnError) {
  std::unique_ptr<Policy> p = Load(
      absl::StrCat("version: 1\nrules:\n  - id: signed\n    require:\n      signatures: {keys: ['",
                   approver1_.VerifierKey(), "']}\n"));
  ASSERT_NE(p, nullptr);
  // Field 10 holding a record that is not an EmitterSignature (truncated varint).
  std::string entry = GoodEvent().SerializeAsString() + std::string("\x52\x02\x08\xff", 4);
  std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::OfEntry(entry));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].requirement, "signatures");
  EXPECT_TRUE(absl::StrContains(v[0].message, "malformed")) << v[0].message;
}

struct MatchCase {
  std::string match;  // the rule's `match:` value, in flow style
  std::function<void(v1::InfraEvent*)> change;
  bool matches;
};

TEST_F(PolicyTest, MatchSelectsEventsAsTheTableSays) {
  auto kind = [](v1::EventKind k) { return [k](v1::InfraEvent* e) { e->set_kind(k); }; };
  auto id = [](const char* s) {
    return [s](v1::InfraEvent* e) { e->mutable_resource()->set_id(s); };
  };
  auto none = [](v1::InfraEvent*) {};
  const std::vector<MatchCase> cases = {
      {"{}", none, true},
      {"{kind: [ACCESS, BREAK_GLASS]}", kind(v1::BREAK_GLASS), true},
      {"{kind: [ACCESS, BREAK_GLASS]}", kind(v1::DEPLOY), false},
      {"{kind: ACCESS}", none, true},
      {"{kind: ACCESS}", kind(static_cast<v1::EventKind>(99)), false},
      {"{resource_provider: aws}", none, true},
      {"{resource_provider: [gcp, azure]}", none, false},
      {"{resource_type: ['postgres*', 'mysql*', database]}", none, true},
      {"{resource_type: ['mysql*', database]}", none, false},
      {"{resource_id: ['prod-*']}", none, true},
      {"{resource_id: ['prod-db-?']}", id("prod-db-12"), false},
      {"{resource_id: ['[a-c]x']}", id("bx"), true},
      {"{resource_id: ['[!a-c]x']}", id("bx"), false},
      {"{resource_id: ['a\\*b']}", id("a*b"), true},
      {"{resource_id: ['a\\*b']}", id("axb"), false},
      {"{via: [CONSOLE]}", none, false},
      {"{via: [CONSOLE, IAC]}", none, true},
      {"{actor: ['oncall-*']}", none, true},
      {"{actor: ['alice*']}", none, false},
      // Every key given must match.
      {"{kind: ACCESS, resource_provider: aws, resource_id: 'dev-*'}", none, false},
      {"{kind: ACCESS, resource_provider: aws, resource_id: 'prod-*', via: IAC}", none, true},
  };
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(c.match);
    std::unique_ptr<Policy> p = Load(absl::StrCat(
        "version: 1\nrules:\n  - id: m\n    match: ", c.match, "\n    notify: true\n"));
    ASSERT_NE(p, nullptr);
    v1::InfraEvent e = GoodEvent();
    c.change(&e);
    std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::Of(e));
    EXPECT_EQ(v.size(), c.matches ? 1u : 0u);
  }
}

TEST_F(PolicyTest, NotifyReportsCompliantMatchesAfterFailedRequirements) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\n"
      "rules:\n"
      "  - id: db-access\n"
      "    severity: WARNING\n"
      "    match: {kind: [ACCESS], resource_type: ['postgres*']}\n"
      "    require: {ticket: true, justification: true}\n"
      "    notify: true\n"
      "  - id: second\n"
      "    require: {justification: true}\n");
  ASSERT_NE(p, nullptr);
  std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::Of(GoodEvent()));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].severity, PolicySeverity::kNotice);
  EXPECT_EQ(v[0].requirement, "notify");
  EXPECT_EQ(v[0].message,
            "ACCESS of \"aws\"/\"postgres-14\"/\"prod-db-1\" by \"oncall-bob\" via IAC");

  v1::InfraEvent bad = GoodEvent();
  bad.clear_ticket();
  bad.clear_justification();
  v = Eval(*p, LoggedEvent::Of(bad));
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].rule + "/" + v[0].requirement, "db-access/justification");
  EXPECT_EQ(v[0].severity, PolicySeverity::kWarning);
  EXPECT_EQ(v[1].rule + "/" + v[1].requirement, "db-access/ticket");
  EXPECT_EQ(v[2].rule + "/" + v[2].requirement, "db-access/notify");
  EXPECT_EQ(v[3].rule + "/" + v[3].requirement, "second/justification");
  EXPECT_EQ(v[3].severity, PolicySeverity::kAlert);
}

TEST_F(PolicyTest, NotifyNamesKindsAndChannelsThisBuildDoesNotKnowByNumber) {
  std::unique_ptr<Policy> p = Load("version: 1\nrules:\n  - id: all\n    notify: true\n");
  ASSERT_NE(p, nullptr);
  v1::InfraEvent e = GoodEvent();
  e.set_kind(static_cast<v1::EventKind>(99));
  e.mutable_actor()->set_via(static_cast<v1::Channel>(77));
  std::vector<PolicyViolation> v = Eval(*p, LoggedEvent::Of(e));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].message, "99 of \"aws\"/\"postgres-14\"/\"prod-db-1\" by \"oncall-bob\" via 77");
}

TEST_F(PolicyTest, ExceptionsSilenceTheirRuleOrOneRequirement) {
  v1::InfraEvent bad = GoodEvent();
  bad.clear_ticket();
  bad.clear_justification();
  const LoggedEvent excused = LoggedEvent::Of(bad);
  bad.set_ticket("");
  bad.mutable_actor()->set_principal("someone-else");
  const LoggedEvent other = LoggedEvent::Of(bad);
  std::unique_ptr<Policy> p =
      Load(absl::StrCat("version: 1\n"
                        "rules:\n"
                        "  - id: needs-ticket\n"
                        "    require: {ticket: true, justification: true}\n"
                        "  - id: watch\n"
                        "    notify: true\n"
                        "exceptions:\n"
                        "  - {leaf_hash: '",
                        HashToBase64(excused.leaf),
                        "', rule: needs-ticket, requirement: ticket,\n"
                        "     reason: 'INC-42 approved retroactively'}\n"
                        "  - {leaf_hash: '",
                        HashToBase64(excused.leaf), "', rule: watch, reason: known}\n"));
  ASSERT_NE(p, nullptr);
  std::vector<PolicyViolation> v = Eval(*p, excused);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rule + "/" + v[0].requirement, "needs-ticket/justification");
  EXPECT_EQ(p->suppressed(), 2u);  // the ticket and the notice

  v = Eval(*p, other);
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(p->suppressed(), 2u);
}

TEST_F(PolicyTest, DeprovisionNeedsAnEarlierProvisionOfTheSameResource) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n  - id: lifecycle\n    require: {deprovision_follows_provision: "
      "true}\n");
  ASSERT_NE(p, nullptr);
  auto event = [](v1::EventKind k, const char* id) {
    v1::InfraEvent e = GoodEvent();
    e.set_kind(k);
    e.mutable_resource()->set_id(id);
    return LoggedEvent::Of(e);
  };
  std::vector<PolicyViolation> v = Eval(*p, event(v1::DEPROVISION, "vm-1"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].requirement, "deprovision_follows_provision");
  EXPECT_EQ(v[0].message,
            "DEPROVISION of \"aws\"/\"postgres-14\"/\"vm-1\" without an earlier PROVISION");
  EXPECT_TRUE(Eval(*p, event(v1::PROVISION, "vm-1")).empty());
  EXPECT_TRUE(Eval(*p, event(v1::PROVISION, "vm-2")).empty());
  EXPECT_EQ(state_.live.size(), 2u);
  EXPECT_TRUE(Eval(*p, event(v1::DEPROVISION, "vm-1")).empty());
  EXPECT_EQ(Eval(*p, event(v1::DEPROVISION, "vm-1")).size(), 1u);  // twice
  EXPECT_EQ(Eval(*p, event(v1::DEPROVISION, "vm-3")).size(), 1u);
  EXPECT_EQ(state_.live.size(), 1u);

  // The state outlives the policy: a new one, fed the decoded state, agrees.
  absl::StatusOr<PolicyState> decoded = PolicyState::Decode(state_.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state_);
  state_ = *decoded;
  std::unique_ptr<Policy> again = Load(
      "version: 1\nrules:\n  - id: lifecycle\n    require: {deprovision_follows_provision: "
      "true}\n");
  EXPECT_TRUE(Eval(*again, event(v1::DEPROVISION, "vm-2")).empty());
}

TEST_F(PolicyTest, NulBytesInResourceNamesDoNotMakeTwoResourcesOne) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n  - id: lifecycle\n    require: {deprovision_follows_provision: "
      "true}\n");
  ASSERT_NE(p, nullptr);
  auto event = [](v1::EventKind k, std::string provider, std::string type, std::string id) {
    v1::InfraEvent e = GoodEvent();
    e.set_kind(k);
    e.mutable_resource()->set_provider(provider);
    e.mutable_resource()->set_type(type);
    e.mutable_resource()->set_id(id);
    return LoggedEvent::Of(e);
  };
  using std::string_literals::operator""s;
  EXPECT_TRUE(Eval(*p, event(v1::PROVISION, "aws\0vm"s, "i-1", "x")).empty());
  EXPECT_EQ(Eval(*p, event(v1::DEPROVISION, "aws", "vm\0i-1"s, "x")).size(), 1u);
  EXPECT_TRUE(Eval(*p, event(v1::PROVISION, "aws\x01\x02vm"s, "i-1", "x")).empty());
  EXPECT_EQ(Eval(*p, event(v1::DEPROVISION, "aws\0vm"s, "i-1", "x")).size(), 0u);
  EXPECT_EQ(Eval(*p, event(v1::DEPROVISION, "aws\x01\x02vm"s, "i-1", "x")).size(), 0u);

  // Names without \0 or \x01 keep the key states already hold.
  Hasher hasher;
  v1::InfraEvent e;
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_type("vm");
  e.mutable_resource()->set_id("i-1");
  const Hash h = Sha256(std::string("aws\0vm\0i-1", 10));
  std::array<uint8_t, 16> expected;
  std::copy_n(h.begin(), 16, expected.begin());
  EXPECT_EQ(policy_internal::ResourceKeyOf(&hasher, e), expected);
}

TEST_F(PolicyTest, StateFollowsEveryEventWhateverTheRules) {
  std::unique_ptr<Policy> p =
      Load("version: 1\nrules:\n  - id: r\n    match: {kind: ACCESS}\n    notify: true\n");
  ASSERT_NE(p, nullptr);
  v1::InfraEvent e = GoodEvent();
  e.set_kind(v1::PROVISION);
  Eval(*p, LoggedEvent::Of(e));
  e.mutable_resource()->set_type("postgres-15");  // same provider and id, another type
  Eval(*p, LoggedEvent::Of(e));
  EXPECT_EQ(state_.live.size(), 2u);
  e.set_kind(v1::DEPROVISION);
  Eval(*p, LoggedEvent::Of(e));
  EXPECT_EQ(state_.live.size(), 1u);
}

TEST(PolicyState, EncodingIsSortedAndDecodeRefusesAnythingElse) {
  PolicyState s;
  std::array<uint8_t, 16> a{}, b{};
  a[0] = 2;
  b[0] = 1;
  s.live.insert(a);
  s.live.insert(b);
  const std::string text = s.Encode();
  absl::StatusOr<PolicyState> back = PolicyState::Decode(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_TRUE(PolicyState::Decode("")->live.empty());

  std::string raw(32, '\0');
  raw[0] = 2;
  raw[16] = 1;  // unsorted
  for (const std::string& bad :
       {std::string("not base64!"), absl::Base64Escape(std::string(15, 'x')),
        absl::Base64Escape(raw), text.substr(0, text.size() - 1)}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(PolicyState::Decode(bad).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(PolicyTest, ChangedDigestFileIsReloaded) {
  options_.digest_recheck = absl::ZeroDuration();
  std::unique_ptr<Policy> p =
      Load("version: 1\nrules:\n  - id: d\n    require: {artifact_digest_in: allowed.txt}\n");
  ASSERT_NE(p, nullptr);
  v1::InfraEvent e = GoodEvent();
  e.set_artifact_digest(kDigestB);
  EXPECT_EQ(Eval(*p, LoggedEvent::Of(e)).size(), 1u);
  dir_.Write("allowed.txt", kDigestA + "\n\n  " + kDigestB + "  \n");
  EXPECT_TRUE(Eval(*p, LoggedEvent::Of(e)).empty());
  dir_.Write("allowed.txt", kDigestA + "\n");
  EXPECT_EQ(Eval(*p, LoggedEvent::Of(e)).size(), 1u);
  EXPECT_TRUE(p->TakeOperational().empty());
}

TEST_F(PolicyTest, DigestFileReplacedByAFifoDoesNotStopEvaluation) {
  options_.digest_recheck = absl::ZeroDuration();
  std::unique_ptr<Policy> p =
      Load("version: 1\nrules:\n  - id: d\n    require: {artifact_digest_in: allowed.txt}\n");
  ASSERT_NE(p, nullptr);
  const std::string path = dir_.path() + "/allowed.txt";
  ASSERT_EQ(std::remove(path.c_str()), 0);
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  // Reading it would wait for a writer, and the monitor with it: in a
  // thread, so that without the fix the test fails instead of hanging.
  std::future<std::vector<PolicyViolation>> v =
      std::async(std::launch::async, [&] { return Eval(*p, LoggedEvent::Of(GoodEvent())); });
  if (v.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "evaluation waits on the FIFO";
    const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK);  // EOF for the reader
    if (fd >= 0) close(fd);
  }
  EXPECT_TRUE(v.get().empty());  // the old list stays in force
  const std::vector<std::string> ops = p->TakeOperational();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(absl::StrContains(ops[0], "not a regular file")) << ops[0];
}

TEST_F(PolicyTest, DigestFileIsNotRecheckedBeforeTheInterval) {
  options_.digest_recheck = absl::Hours(1);
  std::unique_ptr<Policy> p =
      Load("version: 1\nrules:\n  - id: d\n    require: {artifact_digest_in: allowed.txt}\n");
  ASSERT_NE(p, nullptr);
  v1::InfraEvent e = GoodEvent();
  e.set_artifact_digest(kDigestB);
  EXPECT_EQ(Eval(*p, LoggedEvent::Of(e)).size(), 1u);  // the first check
  dir_.Write("allowed.txt", kDigestB + "\n");
  EXPECT_EQ(Eval(*p, LoggedEvent::Of(e)).size(), 1u);
}

TEST_F(PolicyTest, UnreadableDigestReloadKeepsTheOldSetAndTellsTheOperatorOnce) {
  options_.digest_recheck = absl::ZeroDuration();
  // Two rules, one file: one allowlist, so one report per change.
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n"
      "  - id: d1\n    require: {artifact_digest_in: allowed.txt}\n"
      "  - id: d2\n    require: {artifact_digest_in: ./allowed.txt}\n");
  ASSERT_NE(p, nullptr);
  const LoggedEvent good = LoggedEvent::Of(GoodEvent());
  dir_.Write("allowed.txt", kDigestA + "\nsha256:nothex\n");
  EXPECT_TRUE(Eval(*p, good).empty());
  EXPECT_TRUE(Eval(*p, good).empty());
  std::vector<std::string> ops = p->TakeOperational();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(absl::StrContains(ops[0], "allowed.txt:2:")) << ops[0];
  EXPECT_TRUE(absl::StrContains(ops[0], "stays in force")) << ops[0];
  EXPECT_TRUE(p->TakeOperational().empty());

  std::filesystem::remove(dir_.path() + "/allowed.txt");
  EXPECT_TRUE(Eval(*p, good).empty());
  ops = p->TakeOperational();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(absl::StrContains(ops[0], "is gone")) << ops[0];

  dir_.Write("allowed.txt", kDigestB + "\n");  // fixed: in force again
  EXPECT_EQ(Eval(*p, good).size(), 2u);
  EXPECT_TRUE(p->TakeOperational().empty());
}

TEST_F(PolicyTest, RepoErrorLeavesStateAndOutputUntouched) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n"
      "  - id: first\n    require: {justification: true}\n"
      "  - id: from-iac\n    require:\n      source_in_repo:\n"
      "        {repository: 'https://github.com/example/infra', clone: repos/infra,\n"
      "         ref: refs/heads/main}\n"
      "    notify: true\n");
  ASSERT_NE(p, nullptr);
  v1::InfraEvent e = GoodEvent();
  e.set_kind(v1::PROVISION);
  e.clear_justification();
  const LoggedEvent ev = LoggedEvent::Of(e);

  repo_->error = absl::UnavailableError("clone is locked");
  std::vector<PolicyViolation> out = {PolicyViolation{"earlier", PolicySeverity::kAlert, "x", "y"}};
  absl::Status s = p->Evaluate(ev.view(), &state_, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "clone is locked")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "from-iac")) << s;
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(state_.live.empty());

  repo_->error = absl::OkStatus();
  ASSERT_TRUE(p->Evaluate(ev.view(), &state_, &out).ok());
  EXPECT_EQ(out.size(), 3u);  // first/justification, from-iac/notify
  EXPECT_EQ(state_.live.size(), 1u);
}

TEST_F(PolicyTest, OneRepoCheckerPerCloneAndRefResolvedAgainstThePolicyDirectory) {
  std::unique_ptr<Policy> p = Load(
      "version: 1\nrules:\n"
      "  - id: a\n    require: {source_in_repo: {repository: r, clone: repos/infra, ref: main}}\n"
      "  - id: b\n    require: {source_in_repo: {repository: r, clone: repos/infra, ref: main,\n"
      "                                          declares_resource: ''}}\n"
      "  - id: c\n    require: {source_in_repo: {repository: r, clone: /abs/infra, ref: main}}\n");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(repo_->opened.size(), 2u);
  EXPECT_EQ(repo_->opened[0].clone, dir_.path() + "/repos/infra");
  EXPECT_EQ(repo_->opened[0].ref, "main");
  EXPECT_EQ(repo_->opened[1].clone, "/abs/infra");
}

TEST_F(PolicyTest, LoadReadsTheFileAndResolvesPathsBesideIt) {
  const std::string path =
      dir_.Write("policy.yaml",
                 "version: 1\nrules:\n  - id: d\n    require: {artifact_digest_in: allowed.txt}\n");
  absl::StatusOr<std::unique_ptr<Policy>> p = Policy::Load(path, options_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->rule_count(), 1u);
  EXPECT_TRUE(Eval(**p, LoggedEvent::Of(GoodEvent())).empty());
}

}  // namespace
}  // namespace infratrail
