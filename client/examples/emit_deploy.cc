// A small program using the infratrail client library: a CI job records a
// deploy, signed with the pipeline's own emitter key, waits until a
// verified checkpoint covers it, and keeps the receipt.
//
//   emit_deploy SERVER LOG_VKEY_FILE EMITTER_KEY_FILE RECEIPT_OUT
//
// Everything a real emitter needs is here: building the event, emitter
// signing, a client that verifies what it is given, and error handling that
// says what failed.
#include <fstream>
#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "client/emitter_signature.h"
#include "client/event_flags.h"
#include "client/key_arg.h"
#include "client/log_client.h"
#include "infratrail/v1/event.pb.h"

namespace {

int Run(const std::string& server, const std::string& vkey_file, const std::string& emitter_file,
        const std::string& receipt_out) {
  using infratrail::LogClient;

  infratrail::LogClientOptions options;
  options.target = server;
  absl::StatusOr<infratrail::NoteVerifier> log_key =
      infratrail::ParseVerifierKeyArg("@" + vkey_file, "LOG_VKEY_FILE");
  if (!log_key.ok()) return std::cerr << log_key.status().message() << "\n", 2;
  options.log_key = *log_key;
  absl::StatusOr<infratrail::NoteSigner> emitter =
      infratrail::ReadSignerKeyFile(emitter_file, "EMITTER_KEY_FILE");
  if (!emitter.ok()) return std::cerr << emitter.status().message() << "\n", 2;

  // The event: what was deployed, where, by which pipeline.
  infratrail::v1::InfraEvent event;
  event.set_kind(infratrail::v1::DEPLOY);
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  event.mutable_resource()->set_provider("gke-prod");
  event.mutable_resource()->set_type("k8s-deployment");
  event.mutable_resource()->set_id("checkout");
  event.mutable_actor()->set_principal("ci@example.com");
  event.mutable_actor()->set_via(infratrail::v1::CI);
  event.mutable_source()->set_repository("github.com/example/checkout");
  event.mutable_source()->set_commit("4f2a9c1");
  event.set_artifact_digest(
      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");

  // Deterministic bytes, then the emitter's signature over them.
  absl::StatusOr<std::string> entry =
      infratrail::SignEvent(infratrail::SerializeEvent(event), *emitter);
  if (!entry.ok()) return std::cerr << entry.status().message() << "\n", 2;

  absl::StatusOr<std::unique_ptr<LogClient>> client = LogClient::Create(options);
  if (!client.ok()) return std::cerr << client.status().message() << "\n", 2;
  // One event, waiting for a checkpoint: the result carries a receipt the
  // client has already verified against the log key.
  absl::StatusOr<std::vector<infratrail::AddResult>> added =
      (*client)->Add({*entry}, /*wait=*/true);
  if (!added.ok()) {
    std::cerr << "add: " << added.status().message() << "\n";
    return infratrail::IsVerificationError(added.status()) ? 1 : 3;
  }
  const infratrail::AddResult& result = added->front();
  std::ofstream(receipt_out) << result.receipt->Format();
  std::cout << "deploy recorded at index " << result.index
            << (result.duplicate ? " (already in the log)" : "") << "; receipt in " << receipt_out
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: emit_deploy SERVER LOG_VKEY_FILE EMITTER_KEY_FILE RECEIPT_OUT\n";
    return 2;
  }
  return Run(argv[1], argv[2], argv[3], argv[4]);
}
