// Placeholder until the adapter lands.
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

class CloudTrailMapper : public Mapper {
 public:
  absl::string_view name() const override { return "cloudtrail"; }
  std::vector<std::string_view> container_keys() const override { return {}; }
  Mapping Map(simdjson::dom::element, std::string_view) const override {
    return {Unmapped("not implemented")};
  }
};

}  // namespace

std::unique_ptr<Mapper> NewCloudTrailMapper(const MapperOptions&) {
  return std::make_unique<CloudTrailMapper>();
}

}  // namespace infratrail::ingest
