#include "client/ingest/testing/golden.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace infratrail::ingest {

std::string RenderOutcomes(const Mapper& mapper, const std::string& path,
                           const ReaderLimits& limits) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::StrCat("{\"status\":\"cannot open ", path, "\"}\n");
  RecordReader reader(FdSource(fd, path), std::filesystem::path(path).filename().string(),
                      mapper.container_keys(), limits);
  std::string out;
  Record r;
  while (reader.Next(&r)) {
    if (!r.error.empty()) {
      out += nlohmann::json{{"position", r.position}, {"error", r.error}}.dump() + "\n";
      continue;
    }
    for (const MappedItem& item : mapper.Map(r.json, r.raw)) {
      const std::string position =
          item.where.empty() ? r.position : absl::StrCat(r.position, ":", item.where);
      nlohmann::json line = {{"position", position}};
      switch (item.kind) {
        case MappedItem::Kind::kEvent:
          line["event"] = nlohmann::json::parse(EventToSortedJson(item.event));
          break;
        case MappedItem::Kind::kSkipped:
          line["skipped"] = item.reason;
          break;
        case MappedItem::Kind::kUnmapped:
          line["unmapped"] = item.reason;
          break;
      }
      out += line.dump() + "\n";
    }
  }
  close(fd);
  if (!reader.status().ok()) {
    out += nlohmann::json{{"status", std::string(reader.status().message())}}.dump() + "\n";
  }
  return out;
}

}  // namespace infratrail::ingest
