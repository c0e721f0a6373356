// Placeholder until the adapter lands.
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

class TerraformMapper : public Mapper {
 public:
  absl::string_view name() const override { return "terraform"; }
  std::vector<std::string_view> container_keys() const override { return {}; }
  Mapping Map(simdjson::dom::element, std::string_view) const override {
    return {Unmapped("not implemented")};
  }
};

}  // namespace

std::unique_ptr<Mapper> NewTerraformMapper(const MapperOptions&) {
  return std::make_unique<TerraformMapper>();
}

}  // namespace infratrail::ingest
