// Tests of `infratrail ingest deploy`: the image reference grammar and the
// exact events.
#include "client/ingest/deploy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/event_flags.h"
#include "client/ingest/testing/golden.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"

namespace infratrail::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kHex = "4b1e3a5f8c2d9e0a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
const std::string kDigest = "sha256:" + kHex;

std::string Ref(std::string name) { return absl::StrCat(name, "@", kDigest); }

// "registry|repository|tag|digest", or the error message.
std::string Parse(const std::string& ref) {
  absl::StatusOr<ImageRef> r = ParseImageRef(ref);
  if (!r.ok()) return std::string(r.status().message());
  return absl::StrCat(r->registry, "|", r->repository, "|", r->tag, "|",
                      r->digest == kDigest ? "D" : r->digest);
}

TEST(ParseImageRef, NormalizesLikeDocker) {
  EXPECT_EQ(Parse(Ref("nginx")), "docker.io|library/nginx||D");
  EXPECT_EQ(Parse(Ref("nginx:1.27")), "docker.io|library/nginx|1.27|D");
  EXPECT_EQ(Parse(Ref("example/app")), "docker.io|example/app||D");
  EXPECT_EQ(Parse(Ref("docker.io/nginx")), "docker.io|library/nginx||D");
  EXPECT_EQ(Parse(Ref("index.docker.io/library/nginx")), "docker.io|library/nginx||D");
  EXPECT_EQ(Parse(Ref("ghcr.io/example/infra/api:v2.3.1")), "ghcr.io|example/infra/api|v2.3.1|D");
  EXPECT_EQ(Parse(Ref("localhost/app")), "localhost|app||D");
  EXPECT_EQ(Parse(Ref("Registry/app")), "Registry|app||D");  // uppercase: a registry
}

TEST(ParseImageRef, RegistriesWithPorts) {
  EXPECT_EQ(Parse(Ref("localhost:5000/app:dev")), "localhost:5000|app|dev|D");
  EXPECT_EQ(Parse(Ref("registry.example.com:8443/team/app")),
            "registry.example.com:8443|team/app||D");
  EXPECT_EQ(Parse(Ref("[::1]:5000/app")), "[::1]:5000|app||D");
  EXPECT_EQ(Parse(Ref("10.0.0.7:5000/a/b/c/d")), "10.0.0.7:5000|a/b/c/d||D");
  EXPECT_EQ(Parse(Ref("registry.example.com:/app")),
            "registry \"registry.example.com:\": empty port");
  EXPECT_EQ(Parse(Ref("registry.example.com:https/app")),
            "registry \"registry.example.com:https\": port is not a number");
  EXPECT_THAT(Parse(Ref("-bad-.example.com/app")), HasSubstr("not a host name"));
}

TEST(ParseImageRef, PathComponents) {
  EXPECT_EQ(Parse(Ref("ghcr.io/a.b/c_d/e__f/g---h")), "ghcr.io|a.b/c_d/e__f/g---h||D");
  EXPECT_EQ(Parse(Ref("ghcr.io/Example/app")), "repository \"Example/app\" must be lowercase");
  EXPECT_EQ(Parse(Ref("Nginx")), "repository \"Nginx\" must be lowercase");
  for (const char* bad : {"ghcr.io/a..b", "ghcr.io/a___b", "ghcr.io/.a", "ghcr.io/a-",
                          "ghcr.io/a//b", "ghcr.io/a/", "ghcr.io/a b"}) {
    EXPECT_THAT(Parse(Ref(bad)), HasSubstr("each /-separated part")) << bad;
  }
  EXPECT_EQ(Parse(Ref(std::string(256, 'a'))), "name is 256 bytes, over 255");
  EXPECT_EQ(Parse("@" + kDigest), "no repository name before the digest");
}

TEST(ParseImageRef, Tags) {
  EXPECT_EQ(Parse(Ref("app:_x.Y-1")), "docker.io|library/app|_x.Y-1|D");
  EXPECT_EQ(Parse(Ref(absl::StrCat("app:", std::string(128, 't')))),
            absl::StrCat("docker.io|library/app|", std::string(128, 't'), "|D"));
  for (const char* bad : {"app:", "app:.x", "app:-x", "app:a+b"}) {
    EXPECT_THAT(Parse(Ref(bad)), HasSubstr("tag")) << bad;
  }
  EXPECT_THAT(Parse(Ref(absl::StrCat("app:", std::string(129, 't')))), HasSubstr("tag"));
  // A ':' before a '/' is a registry's port, as docker reads it.
  EXPECT_EQ(Parse(Ref("app:a/b")), "registry \"app:a\": port is not a number");
}

TEST(ParseImageRef, DigestsMustBeSha256LowercaseHex) {
  EXPECT_EQ(Parse("nginx:latest"),
            "no digest (deploy by digest, NAME@sha256:<64 hex>: a tag can be moved to other "
            "content, the digest is what an auditor rebuilds and compares)");
  EXPECT_EQ(Parse("nginx@sha512:" + kHex + kHex),
            "digest algorithm \"sha512\" is not supported (only sha256)");
  EXPECT_EQ(Parse("nginx@sha256:" + kHex.substr(0, 12)), "sha256 digest has 12 hex digits, not 64");
  EXPECT_EQ(Parse("nginx@sha256:" + kHex + "0"), "sha256 digest has 65 hex digits, not 64");
  EXPECT_EQ(Parse("nginx@sha256:4B" + kHex.substr(2)), "sha256 digest: not lowercase hex");
  EXPECT_EQ(Parse("nginx@" + kHex), "digest \"" + kHex + "\": not algorithm:hex");
  EXPECT_EQ(Parse("nginx@sha256:" + kHex + "@sha256:" + kHex), "sha256 digest: not lowercase hex");
  EXPECT_EQ(Parse(""), "empty image reference");
}

DeployOptions Options() {
  DeployOptions o;
  o.images = {Ref("ghcr.io/example/shop/api:v2.3.1"), Ref("nginx")};
  o.repository = "https://github.com/example/shop";
  o.commit = "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b";
  o.pipeline = "github-actions/example/shop/5121";
  o.environment = "prod-eu1";
  o.actor = "deploy-bot";
  o.occurred_at = "2026-11-20T15:00:00Z";
  return o;
}

TEST(BuildDeployEvents, OneDeployPerImage) {
  absl::StatusOr<std::vector<v1::InfraEvent>> events = BuildDeployEvents(Options());
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> json;
  for (const v1::InfraEvent& e : *events) {
    json.push_back(EventToSortedJson(e));
    EXPECT_TRUE(ValidateEntry(SerializeEvent(e), "event").ok());
  }
  const std::string common =
      absl::StrCat(R"("kind":"DEPLOY","occurredAt":"2026-11-20T15:00:00Z",)");
  const std::string source = R"("source":{"commit":"9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",)"
                             R"("pipeline":"github-actions/example/shop/5121",)"
                             R"("repository":"https://github.com/example/shop"}})";
  EXPECT_THAT(
      json,
      ElementsAre(
          absl::StrCat(R"({"actor":{"principal":"deploy-bot","via":"CI"},"artifactDigest":")",
                       kDigest, R"(","attributes":{"deploy.environment":"prod-eu1",)",
                       R"("deploy.image":"ghcr.io/example/shop/api:v2.3.1@)", kDigest, R"("},)",
                       common, R"("resource":{"id":"ghcr.io/example/shop/api","provider":"oci",)",
                       R"("type":"container-image"},)", source),
          absl::StrCat(R"({"actor":{"principal":"deploy-bot","via":"CI"},"artifactDigest":")",
                       kDigest, R"(","attributes":{"deploy.environment":"prod-eu1",)",
                       R"("deploy.image":"nginx@)", kDigest, R"("},)", common,
                       R"("resource":{"id":"docker.io/library/nginx","provider":"oci",)",
                       R"("type":"container-image"},)", source)));
}

TEST(BuildDeployEvents, SameOptionsGiveSameBytesOnlyWithOccurredAt) {
  auto bytes = [](const DeployOptions& o, absl::Time now) {
    absl::StatusOr<std::vector<v1::InfraEvent>> e = BuildDeployEvents(o, now);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? SerializeEvent(e->front()) : "";
  };
  const absl::Time t1 = absl::FromUnixSeconds(1795000000);
  const absl::Time t2 = t1 + absl::Milliseconds(1500);
  EXPECT_EQ(bytes(Options(), t1), bytes(Options(), t2));
  DeployOptions o = Options();
  o.occurred_at.clear();
  EXPECT_NE(bytes(o, t1), bytes(o, t2));
  absl::StatusOr<std::vector<v1::InfraEvent>> e = BuildDeployEvents(o, t2);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->front().occurred_at().seconds(), 1795000001);
  EXPECT_EQ(e->front().occurred_at().nanos(), 500000000);
}

TEST(BuildDeployEvents, OptionalFieldsStayOut) {
  DeployOptions o = Options();
  o.environment.clear();
  o.actor.clear();
  absl::StatusOr<std::vector<v1::InfraEvent>> e = BuildDeployEvents(o);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->front().attributes().contains("deploy.environment"));
  EXPECT_EQ(e->front().actor().principal(), "");
  EXPECT_EQ(e->front().actor().via(), v1::CI);
}

TEST(BuildDeployEvents, ErrorsNameTheFlagAndValue) {
  auto error = [](void (*edit)(DeployOptions*)) {
    DeployOptions o = Options();
    edit(&o);
    absl::StatusOr<std::vector<v1::InfraEvent>> e = BuildDeployEvents(o);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(e.status().message());
  };
  EXPECT_EQ(error([](DeployOptions* o) { o->images.push_back("nginx:latest"); }),
            "--image \"nginx:latest\": no digest (deploy by digest, NAME@sha256:<64 hex>: a tag "
            "can be moved to other content, the digest is what an auditor rebuilds and "
            "compares)");
  EXPECT_EQ(error([](DeployOptions* o) { o->images = {"a\nb"}; }),
            "--image \"a\\x0ab\": no digest (deploy by digest, NAME@sha256:<64 hex>: a tag can be "
            "moved to other content, the digest is what an auditor rebuilds and compares)");
  EXPECT_EQ(error([](DeployOptions* o) { o->images.clear(); }),
            "--image: required (at least one image reference, or --file)");
  EXPECT_EQ(error([](DeployOptions* o) { o->repository.clear(); }),
            "--repository: required (the repository the image was built from)");
  EXPECT_EQ(error([](DeployOptions* o) { o->commit.clear(); }),
            "--commit: required (the commit the image was built from)");
  EXPECT_EQ(error([](DeployOptions* o) { o->pipeline.clear(); }),
            "--pipeline: required (the pipeline run that deployed it)");
  EXPECT_EQ(error([](DeployOptions* o) { o->environment = "\xff"; }),
            "--environment: not valid UTF-8");
  EXPECT_EQ(error([](DeployOptions* o) { o->occurred_at = "yesterday"; }),
            "--occurred-at: \"yesterday\" is not an RFC 3339 timestamp");
}

TEST(ImageRefLines, SkipsBlanksAndComments) {
  EXPECT_THAT(ImageRefLines("# deployed by run 5121\n  a@x  \n\r\n\nb@y\r\n# end"),
              ElementsAre("a@x", "b@y"));
}

}  // namespace
}  // namespace infratrail::ingest
