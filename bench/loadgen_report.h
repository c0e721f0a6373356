// The load generator's result, as a human summary or one JSON object.
#ifndef INFRATRAIL_BENCH_LOADGEN_REPORT_H_
#define INFRATRAIL_BENCH_LOADGEN_REPORT_H_

#include <string>

#include "bench/loadgen_engine.h"
#include "bench/loadgen_modes.h"
#include "nlohmann/json.hpp"

namespace infratrail::loadgen {

nlohmann::json JsonReport(const RunConfig& config, const ConnectOptions& connect,
                          const RunResult& result);

// Several lines, each ending in a newline.
std::string HumanReport(const RunConfig& config, const ConnectOptions& connect,
                        const RunResult& result);

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_REPORT_H_
