// ServerConfig: everything infratrail-server is told by its flags (or the
// TOML file given with --config), and the rules a configuration must keep
// before anything is opened. Validate() is the one place those rules live;
// what can only be known by opening a file (a malformed key, a bad tokens
// file) is refused by Server::Start.
#ifndef INFRATRAIL_SERVER_SERVER_CONFIG_H_
#define INFRATRAIL_SERVER_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/http/http_server.h"
#include "server/grpc_port.h"
#include "server/tile_http.h"

namespace CLI {
class App;
}

namespace infratrail {

struct ServerConfig {
  std::string data_dir;
  // Empty (or "rocksdb"): the RocksDB store in data_dir. A postgres:// or
  // postgresql:// URI: the log lives in that database, shared with any
  // other server given it; one leads, the others stand by (docs/ha.md).
  std::string storage;
  // The gRPC address standbys name to clients (empty: grpc_addr, which must
  // then not be a wildcard; port 0 is replaced by the port bound).
  // Shared-database storage only.
  std::string advertise_addr;
  int lease_ttl_ms = 3000;  // leader lease; a standby takes over once it expires
  int postgres_pool = 8;    // connections per server
  std::string signing_key;
  std::string signer_state;  // empty: <signing_key>.state (SignerStatePath)
  bool recover_signer_state = false;
  std::string grpc_addr = "127.0.0.1:7400";
  std::string http_addr = "127.0.0.1:7401";  // empty: no tiles HTTP
  std::string metrics_addr = "127.0.0.1:7402";
  std::string tokens_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::vector<std::string> writer_identities;
  bool allow_unauthenticated_writes = false;
  bool allow_insecure_key_permissions = false;
  double rate_limit = 0;
  int checkpoint_interval_ms = 50;
  // C2SP tlog-policy file: publish only checkpoints its witnesses' quorum
  // cosigned (docs/witness.md, "Publishing witnessed checkpoints").
  std::string witness_policy;
  int witness_timeout_ms = 2000;  // per add-checkpoint request
  int witness_attempts = 3;       // per witness per checkpoint
  bool witness_fail_open = false;
  std::string witness_ca_file;  // for https witnesses; empty: the system's CAs
  size_t max_batch = 16384;
  size_t max_queue = 262144;
  size_t tile_cache_mb = 1024;
  int http_threads = 2;
  int http_checkpoint_max_age_s = 2;
  // Tiles HTTP limits; the defaults live in HttpServerOptions and TileHttpOptions.
  unsigned http_max_connections = HttpServerOptions{}.max_connections;
  unsigned http_max_connections_per_address = HttpServerOptions{}.max_connections_per_address;
  int64_t http_head_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.head_timeout);
  int64_t http_idle_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.idle_timeout);
  int64_t http_send_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.send_timeout);
  size_t http_in_flight_mb = TileHttpOptions{}.in_flight_bytes >> 20;
  std::string ready_file;
  int testing_fail_commit_after = -1;
  bool testing_fail_commit_nospace = false;
  std::string testing_free_disk_file;
  uint64_t min_free_disk_mb = 128;
  GrpcLimits grpc_limits;  // grpc_port.h; its flags check their own ranges

  // OK, or InvalidArgument naming the first flag that breaks a rule: a
  // required path, a value out of its range, TLS and writer
  // authentication flags that need each other, or writes open to anyone
  // on a listener beyond loopback. Reads no file.
  absl::Status Validate() const;

  // The signer state file: --signer-state, or the key's name + ".state".
  std::string SignerStatePath() const;

  // --storage names a PostgreSQL database (shared by several servers).
  bool SharedStorage() const;
  // The address standbys name: --advertise-addr, else --grpc-addr.
  std::string AdvertisedAddress() const;
};

// Registers --config and every serving flag on `app`, writing into
// `config`, whose values are the defaults. No flag checks a range when
// parsed; Validate does.
void AddServeFlags(CLI::App& app, ServerConfig& config);

// True if `addr` ("HOST:PORT" or "[V6]:PORT") names a loopback host:
// localhost, ::1 or 127.0.0.0/8.
bool IsLoopback(absl::string_view addr);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_SERVER_CONFIG_H_
