#include "bench/loadgen_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace infratrail::loadgen {
namespace {

// Values below 2^7 get a bucket each; above, each power of two [2^m, 2^(m+1))
// splits into 64 buckets by the 6 bits after the leading one.
constexpr int kExactBits = 7;
constexpr uint64_t kExact = uint64_t{1} << kExactBits;
constexpr uint64_t kSub = kExact / 2;
constexpr size_t kBuckets = kExact + (64 - kExactBits) * kSub;

size_t BucketOf(uint64_t v) {
  if (v < kExact) return v;
  const int shift = std::bit_width(v) - kExactBits;  // >= 1
  const uint64_t top = v >> shift;                   // in [kSub, 2 * kSub)
  return kExact + (shift - 1) * kSub + (top - kSub);
}

uint64_t MidpointOf(size_t b) {
  if (b < kExact) return b;
  const int shift = static_cast<int>((b - kExact) / kSub) + 1;
  const uint64_t top = (b - kExact) % kSub + kSub;
  const uint64_t low = top << shift;
  return low + ((uint64_t{1} << shift) - 1) / 2;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

void LatencyHistogram::Record(uint64_t value) {
  ++buckets_[BucketOf(value)];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(MidpointOf(b), max_);
  }
  return max_;
}

}  // namespace infratrail::loadgen
