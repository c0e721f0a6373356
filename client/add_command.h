// `infratrail add`: append events to a log. Events come as proto3-JSON
// InfraEvent lines (stdin or --file) or as one event built from flags. One
// JSON result line per event is printed on stdout, in input order, as soon
// as it is durable; with --wait, once a verified checkpoint covers it, and
// with --receipt-dir a verified .tlog-proof receipt per event is written.
#ifndef INFRATRAIL_CLIENT_ADD_COMMAND_H_
#define INFRATRAIL_CLIENT_ADD_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli_common.h"
#include "client/event_flags.h"
#include "proto/limits.h"

namespace infratrail::cli {

struct AddArgs {
  ConnectionFlags conn;
  std::string file;  // empty: stdin (unless event flags are given)
  EventFlags event;
  std::vector<std::string> sign_keys;  // emitter signing key files, in signing order
  bool wait = false;
  std::string receipt_dir;
  size_t batch = kMaxEntriesPerAdd;
  size_t in_flight = 4;
  std::string linger = "5ms";
  std::string progress = "auto";  // auto | always | never
};

// Registers the subcommand and its flags on `app`.
CLI::App* AddAddCommand(CLI::App* app, AddArgs* args);

// Runs it. Returns the exit code; diagnostics name the input line and field.
int RunAdd(const AddArgs& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_ADD_COMMAND_H_
