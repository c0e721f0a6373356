// The ingest adapters by name, for `infratrail ingest SOURCE` and the golden
// tests. docs/ingest.md has each one's mapping table.
#ifndef INFRATRAIL_CLIENT_INGEST_ADAPTERS_H_
#define INFRATRAIL_CLIENT_INGEST_ADAPTERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "client/ingest/mapping.h"

namespace infratrail::ingest {

// What the command line gives the adapters besides the records.
struct MapperOptions {
  // k8s-audit: the cluster's name; resources get provider "k8s:<cluster>".
  std::string cluster;
  // terraform: fill InfraEvent.source (and actor.via IAC); deploy too.
  std::string repository;
  std::string commit;
  std::string pipeline;
  // terraform: actor.principal (the identity that ran the apply), if known.
  std::string actor;
};

// The record-based adapters: "k8s-audit", "cloudtrail", "gcp-audit",
// "terraform". InvalidArgument naming the option an adapter requires and
// did not get (terraform needs --repository and --commit).
absl::StatusOr<std::unique_ptr<Mapper>> MakeMapper(std::string_view name,
                                                   const MapperOptions& options);

// Every name MakeMapper knows, in documentation order.
std::vector<std::string_view> MapperNames();

// Each adapter's constructor (one per .cc file).
std::unique_ptr<Mapper> NewK8sAuditMapper(const MapperOptions& options);
std::unique_ptr<Mapper> NewCloudTrailMapper(const MapperOptions& options);
std::unique_ptr<Mapper> NewGcpAuditMapper(const MapperOptions& options);
std::unique_ptr<Mapper> NewTerraformMapper(const MapperOptions& options);

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_ADAPTERS_H_
