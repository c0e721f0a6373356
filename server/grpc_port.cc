#include "server/grpc_port.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/grpc_security.h>
#include <sys/resource.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/io/file_util.h"
#include "proto/message_limits.h"

namespace infratrail {

void AddGrpcLimitFlags(CLI::App& app, GrpcLimits& l) {
  app.add_option("--grpc-max-connections", l.max_connections,
                 "gRPC connections beyond this (or beyond the open files limit less a reserve) "
                 "are closed at accept; 0: only the open files limit")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--grpc-max-streams-per-connection", l.max_streams_per_connection,
                 "Concurrent calls per gRPC connection (HTTP/2 MAX_CONCURRENT_STREAMS)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--grpc-idle-timeout", l.idle_timeout_s,
                 "Seconds a gRPC connection may stay without calls before it is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--grpc-max-entries-streams", l.service.max_entries_streams,
                 "GetEntries streams open at once; beyond: RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--grpc-stalled-stream-timeout", l.service.stalled_timeout_s,
                 "Seconds a GetEntries message may wait for the client to read it before the "
                 "stream is cancelled")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& tls,
                                                                               WriterAuth* auth,
                                                                               Metrics* metrics) {
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError(tls.cert.empty()
                                          ? "--tls-key: needs --tls-cert (the server certificate)"
                                          : "--tls-cert: needs --tls-key (its private key)");
  }
  grpc_init();  // core credentials need the library; one reference until exit
  grpc_server_credentials* core = nullptr;
  if (tls.cert.empty()) {
    if (!tls.client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca: needs --tls-cert and --tls-key");
    }
    core = grpc_insecure_server_credentials_create();
  } else {
    absl::StatusOr<std::string> cert = ReadFileToString(tls.cert);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", cert.status().message()));
    }
    absl::StatusOr<std::string> key = ReadFileToString(tls.key);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", key.status().message()));
    }
    std::string ca;
    if (!tls.client_ca.empty()) {
      absl::StatusOr<std::string> read = ReadFileToString(tls.client_ca);
      if (!read.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--tls-client-ca: ", read.status().message()));
      }
      ca = *std::move(read);
    }
    grpc_ssl_pem_key_cert_pair pair{key->c_str(), cert->c_str()};
    // Readers need no certificate; a certificate that is presented must
    // verify, and only then can it identify a writer.
    core = grpc_ssl_server_credentials_create_ex(
        ca.empty() ? nullptr : ca.c_str(), &pair, 1,
        ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                   : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY,
        nullptr);
    if (core == nullptr) {
      return absl::InvalidArgumentError("--tls-cert/--tls-key: not a usable PEM pair");
    }
  }
  return AuthenticatingCredentials(core, auth, &metrics->grpc_writes_refused_before_read);
}

void ApplyGrpcLimits(const GrpcLimits& l, grpc::ServerBuilder& builder) {
  // Receives a full batch of the largest entries and sends no more than
  // clients receive (proto/limits.h). gRPC 1.51 has no per-method or
  // per-caller receive limit on a server; writers' requests are refused from
  // their metadata before they are read instead.
  ApplyMessageLimits(builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, l.max_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, l.idle_timeout_s * 1000);
  // Pings while calls are in flight: a peer that does not read its socket
  // (a stalled reader) cannot answer, and its connection is closed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, l.keepalive_s * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  // The TLS handshake, then the HTTP/2 preface and SETTINGS, within this.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, l.handshake_timeout_s * 1000);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(UnparsableRequestInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

DescriptorLimit RaiseDescriptorLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return {1024, 1024, 1024};
  DescriptorLimit out{rl.rlim_cur, rl.rlim_cur, rl.rlim_max};
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = rl.rlim_max;
  }
  return out;
}

int GrpcDescriptorCap(const GrpcLimits& l, int limit, int base) {
  const int reserve = std::clamp(limit / 4, 64, 4096);
  int cap = limit - reserve;
  if (l.max_connections > 0) cap = std::min(cap, base + l.max_connections);
  return cap;
}

void RouteProtobufLogs(std::function<void(absl::string_view)> say) {
  // libprotobuf's handler is a plain function pointer: the sink is global.
  static auto* sink = new std::function<void(absl::string_view)>;
  *sink = std::move(say);
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
        constexpr int kBurst = 10;
        struct Window {
          absl::Mutex mu;
          absl::Time start ABSL_GUARDED_BY(mu);
          int lines ABSL_GUARDED_BY(mu) = 0;
          uint64_t suppressed ABSL_GUARDED_BY(mu) = 0;
        };
        static auto* w = new Window;
        const absl::Time now = absl::Now();
        uint64_t dropped = 0;
        {
          absl::MutexLock l(&w->mu);
          if (now - w->start >= absl::Minutes(1)) {
            w->start = now;
            w->lines = 0;
          }
          if (++w->lines > kBurst && level < google::protobuf::LOGLEVEL_FATAL) {
            ++w->suppressed;
            return;
          }
          dropped = w->suppressed;
          w->suppressed = 0;
        }
        (*sink)(absl::StrCat(
            "protobuf ", level >= google::protobuf::LOGLEVEL_ERROR ? "error" : "warning", " (",
            file, ":", line, "): ", message,
            dropped == 0 ? "" : absl::StrCat(" [", dropped, " similar lines suppressed]")));
      });
}

}  // namespace infratrail
