#include "client/cli_common.h"

#include <atomic>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "core/tlog_policy.h"
#include "core/witness_policy.h"

namespace infratrail::cli {

void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags) {
  cmd->add_option("--server", flags->server,
                  "Log gRPC address HOST:PORT; for a leader and its standbys, all of them: "
                  "A,B,C (writes follow the leader among them, a failed server is skipped)")
      ->capture_default_str();
  cmd->add_option("--log-key", flags->log_key,
                  "Log verifier key (or @file); checkpoints and proofs are verified with it");
  cmd->add_option("--witness-policy", flags->witness_policy,
                  "C2SP tlog-policy file: checkpoints must carry its witness quorum (its log "
                  "line is the --log-key if that is not given)");
  cmd->add_option("--token", flags->token,
                  "Writer bearer token (prefer $INFRATRAIL_TOKEN or --token-file: a command "
                  "line is visible to other users)")
      ->envname("INFRATRAIL_TOKEN");
  cmd->add_option("--token-file", flags->token_file, "File holding the writer's bearer token");
  AddTlsFlags(cmd, flags);
  cmd->add_option("--timeout", flags->timeout, "Deadline of each RPC attempt")
      ->capture_default_str();
  cmd->add_option("--retry-for", flags->retry_for,
                  "How long to keep retrying an unavailable or overloaded server (0: never)")
      ->capture_default_str();
}

void AddTlsFlags(CLI::App* cmd, ConnectionFlags* flags) {
  cmd->add_flag("--tls", flags->tls, "Connect with TLS");
  cmd->add_option("--tls-ca", flags->tls_ca, "PEM CA bundle for the server (implies --tls)");
  cmd->add_option("--tls-cert", flags->tls_cert,
                  "PEM client certificate for mutual TLS (implies --tls)");
  cmd->add_option("--tls-key", flags->tls_key, "PEM private key of --tls-cert");
  cmd->add_option(
      "--tls-server-name", flags->tls_server_name,
      "Name the server's certificate must carry, if not the --server host (implies --tls)");
}

absl::Status SetTransport(const ConnectionFlags& flags, LogClientOptions* opts) {
  if (absl::StatusOr<std::vector<std::string>> servers = SplitLogTarget(flags.server);
      !servers.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server: ", absl::StripPrefix(servers.status().message(), "LogClient: target: ")));
  }
  opts->target = flags.server;
  opts->tls = flags.tls || !flags.tls_ca.empty() || !flags.tls_cert.empty() ||
              !flags.tls_key.empty() || !flags.tls_server_name.empty();
  opts->tls_ca_file = flags.tls_ca;
  opts->tls_cert_file = flags.tls_cert;
  opts->tls_key_file = flags.tls_key;
  opts->tls_server_name = flags.tls_server_name;
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: give both, or neither");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LogClient>> Connect(const ConnectionFlags& flags, std::ostream& err,
                                                   absl::string_view command) {
  LogClientOptions opts;
  if (absl::Status st = SetTransport(flags, &opts); !st.ok()) return st;
  if (!flags.token.empty() && !flags.token_file.empty()) {
    return absl::InvalidArgumentError("--token and --token-file: give one");
  }
  opts.token = flags.token;
  if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> token = ResolveKeyArg("@" + flags.token_file, "--token-file");
    if (!token.ok()) return token.status();
    opts.token = *token;
  }
  if (!flags.log_key.empty()) {
    absl::StatusOr<NoteVerifier> key = ParseVerifierKeyArg(flags.log_key, "--log-key");
    if (!key.ok()) return key.status();
    opts.log_key = *key;
  }
  if (!flags.witness_policy.empty()) {
    absl::StatusOr<std::string> text =
        ReadFileArg(flags.witness_policy, "--witness-policy", kMaxPolicyBytes);
    if (!text.ok()) return text.status();
    absl::StatusOr<TlogPolicy> policy = TlogPolicy::Parse(*text, flags.witness_policy);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--witness-policy: ", policy.status().message()));
    }
    if (!opts.log_key.has_value()) {
      if (policy->logs().size() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("--witness-policy ", flags.witness_policy, ": has ", policy->logs().size(),
                         " log lines; give --log-key to say which log this is"));
      }
      opts.log_key = policy->logs()[0].key;
    }
    opts.witness_policy =
        WitnessPolicy::FromTlogPolicy(std::make_shared<const TlogPolicy>(*std::move(policy)));
  }
  absl::StatusOr<absl::Duration> timeout = ParseDurationArg(flags.timeout, "--timeout");
  if (!timeout.ok()) return timeout.status();
  if (*timeout == absl::ZeroDuration()) return absl::InvalidArgumentError("--timeout: must be > 0");
  opts.rpc_timeout = *timeout;
  absl::StatusOr<absl::Duration> retry_for = ParseDurationArg(flags.retry_for, "--retry-for");
  if (!retry_for.ok()) return retry_for.status();
  opts.retry.budget = *retry_for;
  // Say once why we are waiting; a retry storm is not news after that.
  auto announced = std::make_shared<std::atomic<bool>>(false);
  opts.retry.on_retry = [&err, announced, command = std::string(command), budget = *retry_for](
                            const absl::Status& st, absl::Duration) {
    if (!announced->exchange(true)) {
      err << command << ": " << st.message() << "; retrying for up to "
          << absl::FormatDuration(budget) << " (--retry-for)\n";
    }
  };
  absl::StatusOr<std::unique_ptr<LogClient>> client = LogClient::Create(std::move(opts));
  if (!client.ok()) return client.status();
  return client;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsVerificationError(status)) return kExitVerify;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      return kExitUsage;
    default:
      return kExitServer;
  }
}

}  // namespace infratrail::cli
