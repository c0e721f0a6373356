// infratrail: the operator's command-line tool.
//
//   infratrail keygen --origin NAME --out FILE
//   infratrail add --server HOST:PORT [--file F | --kind K --resource-id R ...]
//                  [--sign-key F]... [--wait --log-key VKEY [--receipt-dir DIR]]
//   infratrail checkpoint | prove | consistency | get --server HOST:PORT ...
//   infratrail health --server HOST:PORT [--service NAME] [--timeout-ms N]
//   infratrail ingest k8s-audit|cloudtrail|gcp-audit|terraform|deploy --server HOST:PORT
//                     [--file F]... [--listen HOST:PORT] ...
//
// Exit codes: 0 ok, 1 verification failure, 2 usage error, 3 server or
// network error.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "client/add_command.h"
#include "client/cli_util.h"
#include "client/health_command.h"
#include "client/ingest_command.h"
#include "client/read_commands.h"
#include "core/note_key.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitUsage;

// Writes a new private key file with mode 0600, refusing to overwrite one.
int RunKeygen(const std::string& origin, const std::string& out) {
  absl::StatusOr<NoteSigner> key = NoteSigner::Generate(origin);
  if (!key.ok()) {
    std::cerr << "keygen: --origin: " << key.status().message() << "\n";
    return kExitUsage;
  }
  const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "keygen: --out " << out << ": " << std::strerror(errno)
              << (errno == EEXIST ? " (refusing to overwrite a key)" : "") << "\n";
    return kExitUsage;
  }
  const std::string text = key->SignerKey() + "\n";
  const bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    std::cerr << "keygen: --out " << out << ": write failed: " << std::strerror(errno) << "\n";
    unlink(out.c_str());
    return kExitUsage;
  }
  std::cout << key->VerifierKey() << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "infratrail: emit infrastructure events to an infratrail log, and read them back "
      "with verified proofs"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 verification failure, 2 bad flags or input, 3 server or "
      "network error. `infratrail SUBCOMMAND --help` for each.");
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Create a signing key (log or emitter; mode 0600) and print its verifier key");
  std::string origin;
  std::string out;
  keygen->add_option("--origin", origin, "Key name, e.g. log.example.com/infra")->required();
  keygen->add_option("--out", out, "Private key file to create")->required();
  cli::AddArgs add_args;
  CLI::App* add = cli::AddAddCommand(&app, &add_args);
  cli::ReadArgs read_args;
  cli::ReadCommands reads = cli::AddReadCommands(&app, &read_args);
  cli::HealthArgs health_args;
  CLI::App* health = cli::AddHealthCommand(&app, &health_args);
  cli::IngestArgs ingest_args;
  CLI::App* ingest = cli::AddIngestCommand(&app, &ingest_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (keygen->parsed()) return RunKeygen(origin, out);
  if (add->parsed()) {
    if (!add_args.file.empty()) {
      std::ifstream in(add_args.file);
      if (!in) {
        std::cerr << "add: --file " << add_args.file << ": cannot open\n";
        return kExitUsage;
      }
      return cli::RunAdd(add_args, in, std::cout, std::cerr);
    }
    return cli::RunAdd(add_args, std::cin, std::cout, std::cerr);
  }
  if (reads.checkpoint->parsed()) return cli::RunCheckpoint(read_args, std::cout, std::cerr);
  if (reads.prove->parsed()) return cli::RunProve(read_args, std::cout, std::cerr);
  if (reads.consistency->parsed()) return cli::RunConsistency(read_args, std::cout, std::cerr);
  if (reads.get->parsed()) return cli::RunGet(read_args, std::cout, std::cerr);
  if (health->parsed()) return cli::RunHealth(health_args, std::cout, std::cerr);
  if (ingest->parsed()) return cli::RunIngest(ingest_args, std::cout, std::cerr);
  return kExitUsage;
}

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  // Events arrive on stdin (JSON lines piped in): with stdio sync on,
  // libstdc++ reads std::cin a character at a time, 3-4x slower than a file.
  std::ios::sync_with_stdio(false);
  std::cin.tie(nullptr);
  // Nor is std::cerr tied to std::cout: ingest writes stderr (problems,
  // progress) on its reading thread while results go to stdout from the
  // sender's, and a tied cerr would flush cout from both at once, printing
  // result lines twice or cut.
  std::cerr.tie(nullptr);
  try {
    return infratrail::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail: " << e.what() << "\n";
    return 2;
  }
}
