// Placeholder until the deploy adapter lands.
#include "client/ingest/deploy.h"
namespace infratrail::ingest {
absl::StatusOr<std::vector<v1::InfraEvent>> BuildDeployEvents(const DeployOptions&) {
  return absl::UnimplementedError("deploy: not implemented");
}
}  // namespace infratrail::ingest
