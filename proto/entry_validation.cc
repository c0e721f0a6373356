#include "proto/entry_validation.h"

#include "absl/strings/str_cat.h"
#include "core/tile.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {

absl::Status ValidateEntry(absl::string_view data, absl::string_view field) {
  if (data.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".data: empty"));
  if (data.size() > kMaxBundleEntrySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".data: ", data.size(), " bytes exceeds the limit of ", kMaxBundleEntrySize));
  }
  v1::InfraEvent event;
  if (!event.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".data: not a serialized infratrail.v1.InfraEvent"));
  }
  if (event.kind() == v1::EVENT_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".kind: missing"));
  }
  if (!v1::EventKind_IsValid(event.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".kind: unknown value ", static_cast<int>(event.kind())));
  }
  if (event.resource().id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".resource.id: missing"));
  }
  return absl::OkStatus();
}

}  // namespace infratrail
