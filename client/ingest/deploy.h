// Placeholder until the deploy adapter lands.
#ifndef INFRATRAIL_CLIENT_INGEST_DEPLOY_H_
#define INFRATRAIL_CLIENT_INGEST_DEPLOY_H_
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "infratrail/v1/event.pb.h"
namespace infratrail::ingest {
struct DeployOptions {
  std::vector<std::string> images;
  std::string repository, commit, pipeline, environment, actor, occurred_at;
};
absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions& options);
}  // namespace infratrail::ingest
#endif
