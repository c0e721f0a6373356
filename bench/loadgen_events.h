// Realistic, unique InfraEvent bytes at a cost of tens of nanoseconds each, so
// the load generator measures the server and not protobuf serialization.
#ifndef INFRATRAIL_BENCH_LOADGEN_EVENTS_H_
#define INFRATRAIL_BENCH_LOADGEN_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace infratrail::loadgen {

// One pre-serialized template per event kind (PROVISION, DEPLOY with an
// artifact digest, ACCESS with a justification and ticket, ...), padded with
// an attribute to the requested size. Event number n is template n % kinds
// with n written as fixed-width decimal digits into resource.id
// ("i-<run nonce>-<n>"): patching bytes in place keeps the encoding valid, and
// the random nonce keeps events unique across runs so the log never
// deduplicates them. Immutable after Create, hence thread-safe.
class EventFactory {
 public:
  // Event numbers must stay below 10^kCounterDigits.
  static constexpr int kCounterDigits = 12;

  // target_size: serialized size to pad up to (smaller requests give the
  // unpadded size, ~250 bytes for DEPLOY). seed picks the run nonce and the
  // commit and digest values. random_fields: the commit, the artifact digest
  // and the padding get fresh pseudo-random hex in every event, as real
  // events' hashes and identifiers differ, so that storage figures are not
  // flattered by compressing identical templates (~10x under Snappy).
  static absl::StatusOr<EventFactory> Create(size_t target_size, uint64_t seed,
                                             bool random_fields = false);

  // Overwrites *out with the bytes of event number n, reusing its capacity.
  void Fill(uint64_t n, std::string* out) const;

  size_t min_size() const { return min_size_; }
  size_t max_size() const { return max_size_; }
  const std::string& nonce() const { return nonce_; }

 private:
  struct Span {
    size_t offset;
    size_t size;
  };
  struct Template {
    std::string bytes;
    size_t counter_offset;
    std::vector<Span> random;  // hex rewritten per event when random_fields
  };
  EventFactory() = default;

  std::vector<Template> templates_;
  std::string nonce_;
  uint64_t seed_ = 0;
  size_t min_size_ = 0;
  size_t max_size_ = 0;
};

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_EVENTS_H_
