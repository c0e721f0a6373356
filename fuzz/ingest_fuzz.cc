// libFuzzer target for `infratrail ingest`'s reading and mapping
// (client/ingest): any bytes, plain or gzipped, read as an adapter's input
// (the first byte picks which). Properties: reading ends (the bounds hold), every record has a
// position naming the input, every outcome that is not an event says why,
// and every event a mapper builds is one the log accepts — ValidateEntry on
// its serialization, and the cheaper ValidateMappedEvent ingest uses
// instead agrees.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/event_flags.h"
#include "client/ingest/adapters.h"
#include "client/ingest/mapping.h"
#include "client/ingest/record_reader.h"
#include "fuzz/fuzz_require.h"
#include "proto/entry_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;          // NOLINT(google-build-using-namespace): fuzz entry point
  using namespace infratrail::ingest;  // NOLINT(google-build-using-namespace)
  if (size == 0) return 0;
  // The first byte picks the adapter; the rest is its input.
  const std::vector<std::string_view> names = MapperNames();
  const std::string_view name = names[data[0] % names.size()];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  MapperOptions options;
  options.cluster = "fuzz";
  options.repository = "https://example.com/infra";
  options.commit = "0123456789abcdef0123456789abcdef01234567";
  absl::StatusOr<std::unique_ptr<Mapper>> mapper = MakeMapper(name, options);
  if (!mapper.ok()) return 0;  // deploy reads image references, not records
  ReaderLimits limits;
  limits.max_record_bytes = 4096;
  limits.max_document_bytes = 64 << 10;
  limits.max_decompressed_bytes = 1 << 20;
  RecordReader reader(MemorySource(input), "in", (*mapper)->container_keys(), limits);
  Record r;
  while (reader.Next(&r)) {
    Require(absl::StartsWith(r.position, "in:"), "a record's position names the input");
    if (!r.error.empty()) continue;
    for (const MappedItem& item : (*mapper)->Map(r.json, r.raw)) {
      if (item.kind != MappedItem::Kind::kEvent) {
        Require(!item.reason.empty(), "a skipped or unmapped record says why");
        continue;
      }
      const std::string bytes = SerializeEvent(item.event);
      Require(ValidateEntry(bytes, "event").ok(), "a mapped event is one the log accepts");
      Require(ValidateMappedEvent(item.event, bytes, "event").ok(),
              "ValidateMappedEvent agrees with ValidateEntry");
    }
  }
  return 0;
}
