// `infratrail-verifier monitor`: follows one log, re-checks everything it
// serves, keeps its trusted state in a directory, and prints findings as
// JSON lines on stdout (docs/monitor.md).
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace infratrail {

struct MonitorArgs {
  std::string log;      // http(s)://BASE of a tlog-tiles log
  std::string log_key;  // verifier key, or @FILE
  std::string state_dir;
  std::vector<std::string> witnesses;
  size_t witness_threshold = 0;
  bool once = false;
  std::string interval = "10s";
  std::string stale_after = "1h";
  std::string timeout = "30s";
  std::string ca_file;
  int max_in_flight = 16;
  size_t bundles_per_batch = 64;
  uint64_t commit_every = uint64_t{1} << 20;
  std::string progress = "auto";  // auto | always | never
};

void AddMonitorFlags(CLI::App* monitor, MonitorArgs* args);

// Exit codes with --once: 0 clean, 1 a CRITICAL or ALERT finding, 2 usage,
// 3 a round could not complete. Without --once, 0 after SIGTERM or SIGINT.
int RunMonitor(const MonitorArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_
