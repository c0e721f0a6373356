// infratrail: the operator's command-line tool.
//
//   infratrail keygen --origin NAME --out FILE
//   infratrail add --server HOST:PORT [--file F] [--wait --log-key VKEY --receipt-dir DIR]
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
#include "core/note_key.h"

namespace infratrail {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;

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
  CLI::App app{"infratrail: emit infrastructure events to an infratrail log"};
  app.require_subcommand(1);
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Create a log signing key (mode 0600) and print its verifier key");
  std::string origin;
  std::string out;
  keygen->add_option("--origin", origin, "Log origin, e.g. log.example.com/infra")->required();
  keygen->add_option("--out", out, "Private key file to create")->required();
  CLI::App* add = app.add_subcommand(
      "add", "Append events given as proto3-JSON InfraEvent lines (stdin or --file)");
  AddArgs aa;
  add->add_option("--server", aa.server, "Log gRPC address")->capture_default_str();
  add->add_option("--file", aa.file, "JSON lines file (default: stdin)");
  add->add_option("--token", aa.token, "Writer bearer token");
  add->add_option("--log-key", aa.log_key, "Log verifier key (or @file), to verify receipts");
  add->add_flag("--wait", aa.wait, "Wait until a signed checkpoint covers the events");
  add->add_option("--receipt-dir", aa.receipt_dir, "Write <index>.tlog-proof receipts here");
  add->add_option("--batch", aa.batch, "Events per request")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (keygen->parsed()) return RunKeygen(origin, out);
  if (!aa.file.empty()) {
    std::ifstream in(aa.file);
    if (!in) {
      std::cerr << "add: --file " << aa.file << ": cannot open\n";
      return kExitUsage;
    }
    return RunAdd(aa, in, std::cout, std::cerr);
  }
  return RunAdd(aa, std::cin, std::cout, std::cerr);
}

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  try {
    return infratrail::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail: " << e.what() << "\n";
    return 2;
  }
}
