// libFuzzer target for the client's event input paths. ParseEventJson must
// agree exactly with protobuf's own JSON parser, which is its oracle: both
// fail with the same message, or both succeed with the same message
// (compared by deterministic serialization). The emitter-signature walker
// must not crash on any bytes, and whatever it accepts it accepts again
// after stripping.
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <string>

#include "client/emitter_signature.h"
#include "client/event_flags.h"  // SerializeEvent: deterministic bytes
#include "client/event_json.h"
#include "fuzz/fuzz_require.h"
#include "infratrail/v1/event.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz entry point
  const std::string in(reinterpret_cast<const char*>(data), size);

  v1::InfraEvent fast;
  v1::InfraEvent oracle;
  const absl::Status got = ParseEventJson(in, &fast);
  const auto want = google::protobuf::util::JsonStringToMessage(in, &oracle);
  Require(got.ok() == want.ok(), "ParseEventJson and protobuf agree on success");
  if (got.ok()) {
    Require(SerializeEvent(fast) == SerializeEvent(oracle), "same message as protobuf");
  } else {
    Require(std::string(got.message()) == std::string(want.message().data(), want.message().size()),
            "same error as protobuf");
  }

  absl::StatusOr<std::string> stripped = UnsignedEventBytes(in);
  if (stripped.ok()) {
    absl::StatusOr<std::string> again = UnsignedEventBytes(*stripped);
    Require(again.ok() && *again == *stripped, "stripping signatures is idempotent");
    (void)CheckEmitterSignatures(in, {});
  }
  return 0;
}
