// The infratrail CLI's read subcommands: checkpoint, prove, consistency and
// get. Each verifies what it prints when given --log-key (prove and
// consistency require it).
#ifndef INFRATRAIL_CLIENT_READ_COMMANDS_H_
#define INFRATRAIL_CLIENT_READ_COMMANDS_H_

#include <cstdint>
#include <iosfwd>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli_common.h"

namespace infratrail::cli {

struct ReadArgs {
  ConnectionFlags conn;
  // prove
  std::optional<uint64_t> index;
  std::string leaf_hash;  // base64
  std::optional<uint64_t> size;
  std::string checkpoint_file;  // a saved signed checkpoint to prove against
  std::string out;
  // consistency
  std::optional<uint64_t> from;
  std::optional<uint64_t> to;
  std::string old_checkpoint;
  // get
  uint64_t count = 1;
};

struct ReadCommands {
  CLI::App* checkpoint = nullptr;
  CLI::App* prove = nullptr;
  CLI::App* consistency = nullptr;
  CLI::App* get = nullptr;
};

// Registers the four subcommands, all filling `args`.
ReadCommands AddReadCommands(CLI::App* app, ReadArgs* args);

int RunCheckpoint(const ReadArgs& args, std::ostream& out, std::ostream& err);
int RunProve(const ReadArgs& args, std::ostream& out, std::ostream& err);
int RunConsistency(const ReadArgs& args, std::ostream& out, std::ostream& err);
int RunGet(const ReadArgs& args, std::ostream& out, std::ostream& err);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_READ_COMMANDS_H_
