#include "verifier/monitor/console.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/hash.h"
#include "core/io/file_util.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "nlohmann/json.hpp"
#include "verifier/monitor/event_index.h"

namespace infratrail {
namespace {

std::string Entry(v1::EventKind kind, const std::string& id, const std::string& actor,
                  const std::string& justification = "") {
  v1::InfraEvent e;
  e.set_kind(kind);
  e.mutable_occurred_at()->set_seconds(1764547200);  // 2025-12-01T00:00:00Z
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_type("vm");
  e.mutable_resource()->set_id(id);
  e.mutable_actor()->set_principal(actor);
  e.set_justification(justification);
  std::string bytes;
  e.SerializeToString(&bytes);
  return bytes;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/console_test_XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    absl::StatusOr<std::unique_ptr<EventIndex>> index = EventIndex::Open(dir_ + "/index");
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
    const std::vector<std::string> entries = {
        Entry(v1::PROVISION, "i-1", "alice"),
        Entry(v1::ACCESS, "i-1", "bob", "<script>alert(1)</script>"),
        Entry(v1::DEPROVISION, "i-2", "alice"),
        "not an event",
        Entry(v1::ACCESS, "i-1", "carol"),  // beyond the verified size
    };
    for (size_t i = 0; i < entries.size(); ++i) {
      ASSERT_TRUE(index_->Add(i, entries[i], HashLeaf(entries[i])).ok());
    }
    Finding f;
    f.time = absl::Now();
    f.severity = Severity::kCritical;
    f.rule = "log.fork";
    f.origin = "log.example";
    f.evidence = "evidence/fork-1";
    f.seq = 1;
    Finding g = f;
    g.severity = Severity::kAlert;
    g.rule = "access.ticket";
    g.index = 1;
    g.resource = "aws/vm/i-1";
    g.actor = "bob";
    g.kind = "ACCESS";
    g.evidence = "";
    g.seq = 2;
    ASSERT_TRUE(index_->AddFindings({f, g}).ok());
    ASSERT_TRUE(index_->Sync().ok());
    std::filesystem::create_directories(dir_ + "/evidence/fork-1");
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/evidence/fork-1/checkpoint", "the note\n", 0600).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/state.json", "{\"secret\": 1}", 0600).ok());

    ConsoleLogView v;
    v.origin = "log.example";
    v.log_url = "https://tiles.example:8443/log/";
    v.tiles_url = v.log_url;
    v.log_key = "log.example+01234567+AAAA";
    v.verified_size = 4;
    v.log_size = 5;
    v.state_dir = dir_;
    v.index = index_;
    views_.Publish(std::move(v));
    AddConsoleRoutes(&views_, &router_);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The route's answer to GET `url`?`query`, or 404 as the router gives.
  HttpReply Get(absl::string_view url, absl::string_view query = "") {
    HttpRequest request;
    request.method = "GET";
    request.url = url;
    request.query = query;
    std::optional<HttpReply> out;
    router_.Handle(request, [&out](HttpReply r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return out.has_value() ? *std::move(out) : HttpReply{};
  }

  nlohmann::json Json(absl::string_view url, absl::string_view query = "", int status = 200) {
    HttpReply r = Get(url, query);
    EXPECT_EQ(r.status, status) << url << "?" << query << ": " << r.text;
    EXPECT_EQ(r.content_type, "application/json");
    // No CORS: a page of another site must not read the auditor's data.
    EXPECT_FALSE(r.any_origin) << url;
    return nlohmann::json::parse(r.text, nullptr, false);
  }

  std::string dir_;
  std::shared_ptr<EventIndex> index_;
  ConsoleViews views_;
  HttpRouter router_;
};

TEST_F(ConsoleTest, LogsListsWhatTheMonitorVerified) {
  nlohmann::json j = Json("/api/v1/logs");
  ASSERT_EQ(j["logs"].size(), 1u);
  const nlohmann::json& log = j["logs"][0];
  EXPECT_EQ(log["id"], HashToHex(Sha256("log.example")));
  EXPECT_EQ(log["verified_size"], 4);
  EXPECT_EQ(log["lag"], 1);
  EXPECT_EQ(log["findings_last_24h"]["critical"], 1);
  EXPECT_EQ(log["findings_last_24h"]["alert"], 1);
  EXPECT_EQ(log["findings_by_hour"].size(), 24u);
}

TEST_F(ConsoleTest, EventsAreSearchedWithinTheVerifiedSize) {
  nlohmann::json j = Json("/api/v1/events", "resource_id=i-1");
  ASSERT_EQ(j["events"].size(), 2u);  // entry 4 is not verified yet
  EXPECT_EQ(j["events"][0]["index"], 1);
  EXPECT_EQ(j["events"][0]["kind"], "ACCESS");
  EXPECT_EQ(j["events"][1]["index"], 0);
  EXPECT_EQ(Json("/api/v1/events", "resource_id=i-1&kind=PROVISION")["events"].size(), 1u);
  EXPECT_EQ(Json("/api/v1/events", "actor=alice&limit=1")["events"].size(), 1u);
  EXPECT_EQ(Json("/api/v1/events", "actor=alice&limit=1")["next_before"], 2);
  EXPECT_EQ(Json("/api/v1/events", "actor=alice&before=2")["events"][0]["index"], 0);
  EXPECT_EQ(Json("/api/v1/events", "actor=%61lice+")["events"].size(), 0u);  // "alice "
  EXPECT_EQ(Json("/api/v1/events", "from=2025-12-01&to=2025-12-02")["events"].size(), 3u);
  EXPECT_EQ(Json("/api/v1/events", "from=2025-12-01T00:00:01Z")["events"].size(), 0u);
}

TEST_F(ConsoleTest, BadParametersAre400NamingThem) {
  struct Case {
    const char* query;
    const char* names;
  } cases[] = {
      {"colour=red", "unknown query parameter \"colour\""},
      {"kind=PROVISON", "kind: \"PROVISON\" is not an event kind"},
      {"kind=EVENT_KIND_UNSPECIFIED", "kind:"},
      {"from=yesterday", "from: \"yesterday\" is not a time"},
      {"limit=-1", "limit:"},
      {"before=1e3", "before:"},
      {"actor=a&actor=b", "actor: given more than once"},
      {"actor=%zz", "actor: a '%' not followed by two hex digits"},
      {"log=00", "log: no log with id"},
  };
  for (const Case& c : cases) {
    nlohmann::json j =
        Json("/api/v1/events", c.query, absl::StartsWith(c.query, "log=") ? 404 : 400);
    EXPECT_TRUE(absl::StrContains(j.value("error", ""), c.names)) << c.query << ": " << j;
  }
  const std::string long_value = absl::StrCat("actor=", std::string(1025, 'a'));
  EXPECT_TRUE(absl::StrContains(Json("/api/v1/events", long_value, 400)["error"].get<std::string>(),
                                "actor: longer than 1024 bytes"));
  EXPECT_EQ(Json("/api/v1/findings", "severity=LOUD", 400)["error"].get<std::string>().substr(0, 9),
            "severity:");
}

TEST_F(ConsoleTest, AnEventShowsEveryFieldAsData) {
  nlohmann::json j = Json("/api/v1/events/1");
  EXPECT_EQ(j["event"]["justification"], "<script>alert(1)</script>");
  EXPECT_EQ(j["event"]["resource"]["id"], "i-1");
  EXPECT_EQ(j["event"]["actor"]["principal"], "bob");
  EXPECT_EQ(j["leaf_hash"],
            HashToBase64(HashLeaf(Entry(v1::ACCESS, "i-1", "bob", "<script>alert(1)</script>"))));
  nlohmann::json opaque = Json("/api/v1/events/3");
  EXPECT_EQ(opaque["parsed"], false);
  EXPECT_FALSE(opaque.contains("event"));
  EXPECT_EQ(opaque["entry_bytes"], 12);
  EXPECT_TRUE(absl::StrContains(Json("/api/v1/events/4", "", 404)["error"].get<std::string>(),
                                "not verified yet"));
  for (const char* bad : {"/api/v1/events/01", "/api/v1/events/1/x", "/api/v1/events/x",
                          "/api/v1/events/99999999999999999999999"}) {
    EXPECT_EQ(Get(bad).status, 404) << bad;
  }
}

TEST_F(ConsoleTest, AnEventWhoseTimeProto3JsonCannotShowStillShowsItsFields) {
  // Beyond year 9999: proto3 JSON has no form for it.
  v1::InfraEvent e;
  e.ParseFromString(Entry(v1::ACCESS, "i-3", "mallory", "hidden?"));
  e.mutable_occurred_at()->set_seconds(int64_t{1} << 40);
  const std::string entry = e.SerializeAsString();
  ASSERT_TRUE(index_->Add(5, entry, HashLeaf(entry)).ok());
  ASSERT_TRUE(index_->Sync().ok());
  ConsoleLogView v = *views_.All()[0];
  v.verified_size = 6;
  views_.Publish(std::move(v));
  nlohmann::json j = Json("/api/v1/events/5");
  EXPECT_EQ(j["event"]["justification"], "hidden?");
  EXPECT_EQ(j["event"]["actor"]["principal"], "mallory");
  EXPECT_TRUE(j["event"].contains("occurred_at")) << j.dump();
}

TEST_F(ConsoleTest, FindingsAreFilteredAndLinkTheirEvidence) {
  nlohmann::json all = Json("/api/v1/findings");
  ASSERT_EQ(all["findings"].size(), 2u);
  EXPECT_EQ(all["findings"][0]["seq"], 2);
  EXPECT_EQ(all["findings"][1]["evidence_files"], nlohmann::json::array({"checkpoint"}));
  nlohmann::json critical = Json("/api/v1/findings", "severity=CRITICAL");
  ASSERT_EQ(critical["findings"].size(), 1u);
  EXPECT_EQ(critical["findings"][0]["rule"], "log.fork");
  EXPECT_EQ(Json("/api/v1/findings", "resource=i-1")["findings"].size(), 1u);
  EXPECT_EQ(Json("/api/v1/findings", "actor=bob&kind=ACCESS")["findings"].size(), 1u);

  HttpReply file = Get("/api/v1/findings/1/evidence/checkpoint");
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.text, "the note\n");
  EXPECT_EQ(file.content_type, "application/octet-stream");
  EXPECT_FALSE(file.any_origin);
  // Only names the evidence directory lists: never a path out of it.
  for (const char* bad :
       {"/api/v1/findings/1/evidence/..%2F..%2Fstate.json",
        "/api/v1/findings/1/evidence/../../state.json", "/api/v1/findings/1/evidence/",
        "/api/v1/findings/1/evidence/nope", "/api/v1/findings/2/evidence/checkpoint"}) {
    EXPECT_EQ(Get(bad).status, 404) << bad;
  }
}

TEST_F(ConsoleTest, PagesCarryAPolicyThatAllowsNoInlineScript) {
  for (const char* page : {"/", "/findings", "/events", "/events/12"}) {
    HttpReply r = Get(page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_FALSE(r.any_origin);
    EXPECT_TRUE(absl::StrContains(r.text, "/static/console.js"));
    EXPECT_TRUE(absl::StrContains(r.content_security_policy, "script-src 'self';"));
    EXPECT_FALSE(absl::StrContains(r.content_security_policy, "unsafe"));
    // The log's tile server, for the in-browser proof check.
    EXPECT_TRUE(absl::StrContains(r.content_security_policy,
                                  "connect-src 'self' https://tiles.example:8443;"))
        << r.content_security_policy;
  }
  HttpReply js = Get("/static/console.js");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(js.content_security_policy.empty());
  EXPECT_EQ(Get("/static/verify.js").status, 200);
  EXPECT_EQ(Get("/static/console.css").content_type, "text/css; charset=utf-8");
  for (const char* bad :
       {"/static/../console.cc", "/static/", "/events/01", "/eventsx", "/api/v2/logs"}) {
    EXPECT_EQ(Get(bad).status, 404) << bad;
  }
}

TEST_F(ConsoleTest, ALogUrlCannotWidenThePagesPolicy) {
  ConsoleLogView other;
  other.origin = "other.example";
  other.tiles_url = "https://other.example *; script-src 'unsafe-inline'\r\nX: y/";
  views_.Publish(other);
  const std::string policy = Get("/").content_security_policy;
  EXPECT_EQ(policy.find('*'), std::string::npos) << policy;
  EXPECT_FALSE(absl::StrContains(policy, "unsafe")) << policy;
  EXPECT_FALSE(absl::StrContains(policy, "\n")) << policy;
}

TEST_F(ConsoleTest, WithTwoLogsTheLogMustBeNamed) {
  ConsoleLogView other;
  other.origin = "other.example";
  views_.Publish(other);
  EXPECT_TRUE(absl::StrContains(Json("/api/v1/events", "", 400)["error"].get<std::string>(),
                                "log: required"));
  const std::string id = HashToHex(Sha256("log.example"));
  EXPECT_EQ(Json("/api/v1/events", absl::StrCat("log=", id))["events"].size(),
            4u);  // with the unparsed one
  const std::string other_id = HashToHex(Sha256("other.example"));
  EXPECT_EQ(Get("/api/v1/events", absl::StrCat("log=", other_id)).status, 409);  // no index
  views_.Retain({"other.example"});
  EXPECT_EQ(Json("/api/v1/logs")["logs"].size(), 1u);
}

}  // namespace
}  // namespace infratrail
