// What `infratrail-verifier monitor` runs with: the logs it follows and where
// its findings go, from flags (one log) or a TOML file (several logs, e.g.
// a series of time-sharded logs), validated in one place.
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_CONFIG_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/note_key.h"
#include "core/witness_policy.h"
#include "verifier/monitor/gossip.h"

namespace infratrail {

enum class EntryFormat {
  kInfraEvent,  // entries are serialized infratrail.v1.InfraEvent: parsed and checked
  kOpaque,      // any other log: entries are bytes to the tree checks
};

struct MonitoredLog {
  std::string url;  // http(s)://BASE or grpc(s)://HOST:PORT
  NoteVerifier key;
  // The quorum every trusted checkpoint meets: --witness KEY and
  // --witness-threshold, or the --witness-policy's.
  WitnessPolicy witnesses;
  // Gossip (gossip.h): the --witness values that are http(s) URLs, then the
  // policy's witnesses that have a URL; at most kMaxGossipPeers.
  std::vector<GossipPeer> peers;
  EntryFormat entry_format = EntryFormat::kInfraEvent;
  std::string state_dir;  // this log's own directory
};

struct MonitorConfig {
  std::vector<MonitoredLog> logs;
  std::string state_dir;
  absl::Duration interval = absl::Seconds(10);
  absl::Duration stale_after = absl::Hours(1);
  absl::Duration timeout = absl::Seconds(30);
  std::string ca_file;
  int max_in_flight = 16;
  size_t bundles_per_batch = 64;
  uint64_t commit_every = uint64_t{1} << 20;
  std::string webhook;
  std::string exec;
  absl::Duration exec_timeout = absl::Seconds(30);
  std::string healthcheck_url;
  std::string metrics_addr;  // empty: no metrics endpoint
  // HOST:PORT serving the verified checkpoints (monitor_http.h); empty: off.
  std::string http_addr;
  // The event policy (docs/policy.md) run over every InfraEvent of every
  // log whose entry format is infraevent; empty: none.
  std::string policy;
};

// The flags as given (strings as typed), before validation.
struct MonitorFlags {
  std::string config;  // TOML file
  std::string log;
  std::string log_key;
  std::string state_dir;
  // Witness keys, or http(s) URLs of gossip peers.
  std::vector<std::string> witnesses;
  size_t witness_threshold = 0;
  std::string witness_policy;  // a C2SP tlog-policy file
  std::string entry_format;    // empty: the config's, else infraevent
  std::string interval, stale_after, timeout, exec_timeout;
  std::string ca_file, webhook, exec, healthcheck_url, metrics_addr, policy, http_addr;
  int max_in_flight = 0;         // 0: not given
  size_t bundles_per_batch = 0;  // 0: not given
  uint64_t commit_every = 0;     // 0: not given
};

// Builds the configuration: the TOML file's values (if --config), then the
// flags over them. InvalidArgument naming the flag, or the file, line and
// key, for anything wrong: no log, --log together with --config, a bad key
// or URL, a duration that does not parse, two logs with one origin, a
// witness policy that does not parse (file:line:column) or is given with
// witness keys or a threshold, more than kMaxGossipPeers peers.
// --log-key (or a [[log]] key) may be left out when the witness policy has
// exactly one log line: that is the key. A policy with log lines must list
// the log's key.
// A single --log keeps its state in --state-dir itself; each log of a
// config file in a subdirectory named after its origin.
absl::StatusOr<MonitorConfig> BuildMonitorConfig(const MonitorFlags& flags);

// "log.example_2026" for "log.example/2026": a directory name for an origin.
std::string OriginDirName(absl::string_view origin);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_CONFIG_H_
