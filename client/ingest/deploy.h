// `infratrail ingest deploy`: DEPLOY events for container images a pipeline
// deployed, one per image, named by digest (docs/ingest.md, "deploy").
//
// Unlike the other adapters there is no record to map: the pipeline states
// what it deployed (flags, or image references one per line), so nothing
// here is deduplicated by construction. occurred_at is --occurred-at when
// given, else the clock: running the command twice with the same images
// logs two events unless --occurred-at is fixed (pass the pipeline run's
// start time).
#ifndef INFRATRAIL_CLIENT_INGEST_DEPLOY_H_
#define INFRATRAIL_CLIENT_INGEST_DEPLOY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::ingest {

// A container image reference pinned by digest, split as the OCI
// distribution reference grammar (github.com/distribution/reference) does
// and normalized as docker does: "nginx@sha256:..." is registry "docker.io",
// repository "library/nginx".
struct ImageRef {
  std::string registry;    // "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000"
  std::string repository;  // the path: "library/nginx", "example/app/api"
  std::string tag;         // "1.27" or empty; informative only (tags move)
  std::string digest;      // "sha256:" + 64 lowercase hex

  // registry/repository: the image, whatever tag or digest ("ghcr.io/example/app").
  std::string Name() const { return registry + "/" + repository; }
};

// Parses [registry[:port]/]path[:tag]@sha256:<64 lowercase hex>. Path
// components are lowercase alphanumerics joined by '.', '_', '__' or runs
// of '-'; the name is at most 255 bytes; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]
// up to 128 bytes. The first component is the registry when it holds a '.'
// or ':', is "localhost", or has uppercase letters (docker's rule);
// "index.docker.io" becomes "docker.io". InvalidArgument saying what is
// wrong, without the reference itself (the caller names it): a reference
// without a digest is refused, because a tag is mutable and the digest is
// what an auditor rebuilds and compares; only sha256 digests are accepted.
absl::StatusOr<ImageRef> ParseImageRef(std::string_view ref);

// What the command line gives `infratrail ingest deploy`.
struct DeployOptions {
  std::vector<std::string> images;  // --image, repeated, or lines of --file/stdin
  std::string repository;           // --repository, required: where the image was built from
  std::string commit;               // --commit, required
  std::string pipeline;             // --pipeline, required: the pipeline run
  std::string environment;          // --environment: where it was deployed ("prod-eu1")
  std::string actor;                // --actor: the deploying identity, if known
  std::string occurred_at;          // --occurred-at: RFC 3339; empty means now
};

// One DEPLOY event per image, in the order given: artifact_digest the
// image's digest, resource {oci, container-image, ImageRef::Name()}, source
// from the options, actor via CI, attributes deploy.image (the reference as
// given) and deploy.environment (when set). InvalidArgument naming the flag
// and the value: `--image "nginx:latest": no digest (...)`, `--repository:
// required (...)`. The first overload uses absl::Now() when occurred_at is
// empty.
absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions& options);
absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions& options,
                                                              absl::Time now);

// The image references in `text` (a --file or stdin): one per line,
// surrounding blanks trimmed, blank lines and lines starting with '#'
// ignored.
std::vector<std::string> ImageRefLines(std::string_view text);

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_DEPLOY_H_
