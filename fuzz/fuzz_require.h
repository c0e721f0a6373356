// The fuzz targets' property check: a violated property aborts, which
// libFuzzer reports as a crash with the input that caused it.
#ifndef INFRATRAIL_FUZZ_FUZZ_REQUIRE_H_
#define INFRATRAIL_FUZZ_FUZZ_REQUIRE_H_

#include <cstdio>
#include <cstdlib>

namespace infratrail {

inline void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace infratrail

#endif  // INFRATRAIL_FUZZ_FUZZ_REQUIRE_H_
