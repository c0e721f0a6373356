#include "server/server_config.h"

#include <limits>
#include <type_traits>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

// InvalidArgument naming `flag` unless lo <= value <= hi.
template <typename T>
absl::Status InRange(absl::string_view flag, T value, std::type_identity_t<T> lo,
                     std::type_identity_t<T> hi) {
  if (lo <= value && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", value, " is outside [", lo, ", ", hi, "]"));
}

}  // namespace

absl::Status ServerConfig::Validate() const {
  if (!storage.empty() && storage != "rocksdb" && !SharedStorage()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--storage ", storage,
                     ": not a store; give rocksdb (the default, in --data-dir) or a "
                     "postgres://USER@HOST:PORT/DB URI"));
  }
  if (SharedStorage()) {
    if (!data_dir.empty()) {
      return absl::InvalidArgumentError(
          "--data-dir: not used with --storage postgres://...; the log lives in the database");
    }
    if (testing_fail_commit_after >= 0 || !testing_free_disk_file.empty()) {
      return absl::InvalidArgumentError("--testing-* flags need the RocksDB store");
    }
    const std::string advertised = AdvertisedAddress();
    const size_t colon = advertised.rfind(':');
    const std::string host = colon == std::string::npos ? "" : advertised.substr(0, colon);
    if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
      return absl::InvalidArgumentError(absl::StrCat(
          advertise_addr.empty() ? "--grpc-addr " : "--advertise-addr ", advertised,
          ": standbys name this address to clients, so it must be one they can reach; set "
          "--advertise-addr HOST:PORT"));
    }
  } else if (data_dir.empty()) {
    return absl::InvalidArgumentError("--data-dir is required");
  } else if (!advertise_addr.empty()) {
    return absl::InvalidArgumentError("--advertise-addr: needs --storage postgres://...");
  }
  if (signing_key.empty()) return absl::InvalidArgumentError("--signing-key is required");

  for (const absl::Status& s : {
           InRange("--http-threads", http_threads, 1, 64),
           InRange("--tile-cache-mb", tile_cache_mb, 0, 1 << 20),
           InRange("--http-checkpoint-max-age", http_checkpoint_max_age_s, 0, 3600),
           InRange("--http-in-flight-mb", http_in_flight_mb, 1, 1 << 20),
           InRange("--http-head-timeout", http_head_timeout_s, 1, 3600),
           InRange("--http-idle-timeout", http_idle_timeout_s, 1, 3600),
           InRange("--http-send-timeout", http_send_timeout_s, 1, 3600),
           InRange("--checkpoint-interval-ms", checkpoint_interval_ms, 1, 3600000),
           InRange("--witness-timeout-ms", witness_timeout_ms, 10, 600000),
           InRange("--witness-attempts", witness_attempts, 1, 10),
           InRange("--max-batch", max_batch, 1, 1 << 20),
           InRange("--lease-ttl-ms", lease_ttl_ms, 500, 600000),
           InRange("--postgres-pool", postgres_pool, 2, 256),
           InRange("--max-queue", max_queue, 1, 1 << 26),
           // In bytes it must fit 64 bits.
           InRange("--min-free-disk-mb", min_free_disk_mb, 0,
                   std::numeric_limits<uint64_t>::max() >> 20),
       }) {
    if (!s.ok()) return s;
  }
  if (!(rate_limit >= 0)) {  // NaN too
    return absl::InvalidArgumentError(
        absl::StrCat("--rate-limit: ", rate_limit, " is not a rate >= 0 events/s"));
  }

  if (witness_policy.empty() && (witness_fail_open || !witness_ca_file.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(witness_fail_open ? "--witness-fail-open" : "--witness-ca-file",
                     ": needs --witness-policy"));
  }
  if (!tls_client_ca.empty() && writer_identities.empty()) {
    // Verified client certificates would identify nobody: writes would stay
    // open to every caller, which is not what configuring a CA asks for.
    return absl::InvalidArgumentError(
        "--tls-client-ca: needs at least one --writer-identity allowed to write");
  }
  if (!writer_identities.empty() && tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--writer-identity: needs --tls-client-ca to verify client certificates");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError(tls_cert.empty()
                                          ? "--tls-key: needs --tls-cert (the server certificate)"
                                          : "--tls-cert: needs --tls-key (its private key)");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca: needs --tls-cert and --tls-key");
  }
  // WriterAuth::required(): who may write is checked only with a credential
  // configured.
  const bool writers_authenticated = !tokens_file.empty() || !writer_identities.empty();
  if (!writers_authenticated && !allow_unauthenticated_writes && !IsLoopback(grpc_addr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-addr ", grpc_addr,
                     " is not loopback and no writer authentication is configured; set "
                     "--tokens-file or --tls-client-ca with --writer-identity, or pass "
                     "--allow-unauthenticated-writes"));
  }
  return absl::OkStatus();
}

std::string ServerConfig::SignerStatePath() const {
  return signer_state.empty() ? signing_key + ".state" : signer_state;
}

bool ServerConfig::SharedStorage() const {
  return absl::StartsWith(storage, "postgres://") || absl::StartsWith(storage, "postgresql://");
}

std::string ServerConfig::AdvertisedAddress() const {
  return advertise_addr.empty() ? grpc_addr : advertise_addr;
}

bool IsLoopback(absl::string_view addr) {
  const size_t colon = addr.rfind(':');
  absl::string_view host = addr.substr(0, colon == absl::string_view::npos ? addr.size() : colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

void AddServeFlags(CLI::App& app, ServerConfig& config) {
  app.set_config("--config", "",
                 "Read options from a TOML file (keys as the long flag names); "
                 "flags given on the command line override it");
  app.add_option("--data-dir", config.data_dir,
                 "Directory for the log's RocksDB store (required unless --storage is a "
                 "database)");
  app.add_option("--storage", config.storage,
                 "rocksdb (default: in --data-dir), or postgres://USER@HOST:PORT/DB: the log in a "
                 "PostgreSQL database shared by several servers, one leading (docs/ha.md); the "
                 "password from PGPASSFILE or ~/.pgpass");
  app.add_option("--advertise-addr", config.advertise_addr,
                 "gRPC HOST:PORT that standbys name to clients as the leader's when this server "
                 "leads (default: --grpc-addr)");
  app.add_option("--lease-ttl-ms", config.lease_ttl_ms,
                 "Leader lease: renewed every third of it; a standby takes over once it lapses")
      ->capture_default_str();
  app.add_option("--postgres-pool", config.postgres_pool, "Database connections per server")
      ->capture_default_str();
  app.add_option("--signing-key", config.signing_key,
                 "Note-format private key file (infratrail keygen); its name is the origin "
                 "(required)");
  app.add_option("--signer-state", config.signer_state,
                 "Signer state file; keep it outside --data-dir (default: <signing-key>.state)");
  app.add_flag("--recover-signer-state", config.recover_signer_state,
               "Adopt the data directory's checkpoint if the signer state file was lost");
  app.add_option("--grpc-addr", config.grpc_addr, "gRPC listen address")->capture_default_str();
  app.add_option("--http-addr", config.http_addr,
                 "C2SP tlog-tiles HTTP listen address (/checkpoint, /tile/...); empty: off")
      ->capture_default_str();
  app.add_option("--http-threads", config.http_threads, "Tiles HTTP polling threads")
      ->capture_default_str();
  app.add_option("--http-checkpoint-max-age", config.http_checkpoint_max_age_s,
                 "Cache-Control max-age of /checkpoint (seconds)")
      ->capture_default_str();
  app.add_option("--http-in-flight-mb", config.http_in_flight_mb,
                 "Bound on response bodies being sent over HTTP (MiB); beyond it, 503")
      ->capture_default_str();
  app.add_option("--http-max-connections", config.http_max_connections,
                 "Tiles HTTP connections held at once (0: RLIMIT_NOFILE/4, at most 4096)")
      ->capture_default_str();
  app.add_option("--http-max-connections-per-address", config.http_max_connections_per_address,
                 "Tiles HTTP connections per client IPv4 address or IPv6 /64 (0: no limit)")
      ->capture_default_str();
  app.add_option("--http-head-timeout", config.http_head_timeout_s,
                 "Seconds to receive a whole request head (not per byte)")
      ->capture_default_str();
  app.add_option("--http-idle-timeout", config.http_idle_timeout_s,
                 "Seconds of silence before a tiles HTTP connection is closed")
      ->capture_default_str();
  app.add_option("--http-send-timeout", config.http_send_timeout_s,
                 "Seconds to send a whole response before the client is cut off")
      ->capture_default_str();
  app.add_option("--metrics-addr", config.metrics_addr, "Prometheus /metrics listen address")
      ->capture_default_str();
  app.add_option("--tokens-file", config.tokens_file,
                 "Writer bearer tokens: '<writer> <token>' lines");
  app.add_option("--tls-cert", config.tls_cert, "Server TLS certificate (PEM)");
  app.add_option("--tls-key", config.tls_key, "Server TLS private key (PEM)");
  app.add_option("--tls-client-ca", config.tls_client_ca,
                 "CA (PEM) that verifies writer certificates");
  app.add_option("--writer-identity", config.writer_identities,
                 "Client certificate CN or SAN allowed to write; repeatable");
  app.add_flag("--allow-unauthenticated-writes", config.allow_unauthenticated_writes,
               "Allow anyone to append when listening on a non-loopback address");
  app.add_flag("--allow-insecure-key-permissions", config.allow_insecure_key_permissions,
               "Start although the signing key is readable by group or others");
  AddGrpcLimitFlags(app, config.grpc_limits);
  app.add_option("--rate-limit", config.rate_limit, "Per-writer events/s (0: unlimited)")
      ->capture_default_str();
  app.add_option("--checkpoint-interval-ms", config.checkpoint_interval_ms,
                 "Least time between two checkpoints")
      ->capture_default_str();
  app.add_option("--witness-policy", config.witness_policy,
                 "C2SP tlog-policy file: publish only checkpoints cosigned by its witness quorum");
  app.add_option("--witness-timeout-ms", config.witness_timeout_ms,
                 "Bound on one add-checkpoint request to a witness")
      ->capture_default_str();
  app.add_option("--witness-attempts", config.witness_attempts,
                 "Requests per witness per checkpoint on transient failures")
      ->capture_default_str();
  app.add_flag("--witness-fail-open", config.witness_fail_open,
               "WEAKENS THE GUARANTEE: publish a checkpoint without the witness quorum once its "
               "witness round has failed");
  app.add_option("--witness-ca-file", config.witness_ca_file,
                 "PEM CA bundle for https witnesses (default: the system's CAs)");
  app.add_option("--max-batch", config.max_batch, "Most entries per sequencer commit")
      ->capture_default_str();
  app.add_option("--max-queue", config.max_queue,
                 "Queued entries beyond which AddEvents is refused")
      ->capture_default_str();
  app.add_option("--tile-cache-mb", config.tile_cache_mb,
                 "Tiles cached in memory, one budget for proofs and tiles HTTP (MiB); 1024 holds "
                 "~63,000 expanded tiles, every level-0 tile of a 1.6e7-entry log")
      ->capture_default_str();
  app.add_option("--ready-file", config.ready_file,
                 "Write {grpc_port, http_port, metrics_port, pid} as JSON here once serving");
  app.add_option("--min-free-disk-mb", config.min_free_disk_mb,
                 "Refuse writes (RESOURCE_EXHAUSTED) while the data or signer-state disk has "
                 "less free space than this (MiB); 0: off")
      ->capture_default_str();
  app.add_option("--testing-fail-commit-after", config.testing_fail_commit_after)->group("");
  app.add_flag("--testing-fail-commit-nospace", config.testing_fail_commit_nospace)->group("");
  app.add_option("--testing-free-disk-file", config.testing_free_disk_file)->group("");
}

}  // namespace infratrail
