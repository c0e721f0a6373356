// A fixed-size log-linear latency histogram (HDR-style): values below 128 are
// exact, larger ones fall into buckets 1/64 of a power of two wide, so any
// percentile is within ~1.6% of the true value while a histogram stays 30 KB
// however long the run. Not thread-safe: each worker thread owns one and the
// owners are merged after the threads have joined.
#ifndef INFRATRAIL_BENCH_LOADGEN_HISTOGRAM_H_
#define INFRATRAIL_BENCH_LOADGEN_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace infratrail::loadgen {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t value);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The value at quantile q in [0, 1] (the midpoint of its bucket, capped by
  // the exact maximum); 0 for an empty histogram.
  uint64_t Percentile(double q) const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_HISTOGRAM_H_
