// `infratrail-verifier monitor`: follows one or more logs, re-checks
// everything they serve, keeps its trusted state in a directory, and
// reports findings as JSON lines on stdout, to a webhook and to a command
// (docs/monitor.md).
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_

#include "CLI/CLI.hpp"
#include "verifier/monitor/monitor_config.h"

namespace infratrail {

struct MonitorArgs {
  MonitorFlags flags;
  bool once = false;
  bool test_alert = false;
  std::string progress = "auto";  // auto | always | never
};

void AddMonitorFlags(CLI::App* monitor, MonitorArgs* args);

// Exit codes with --once: 0 clean, 1 a CRITICAL or ALERT finding, 2 usage,
// 3 a round could not complete. Without --once, 0 after SIGTERM or SIGINT;
// SIGHUP reloads the configuration (never fatal: a bad one is reported and
// the running one kept).
// --test-alert: 0 when every channel took the test finding, 3 otherwise.
int RunMonitor(const MonitorArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_COMMAND_H_
