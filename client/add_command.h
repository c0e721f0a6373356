// `infratrail add`: append events read as proto3-JSON lines (InfraEvent),
// print one JSON result line per event in input order once it is durable,
// and with --wait --receipt-dir write a verified .tlog-proof per event.
//
// This is the minimal form the quickstart needs; batching windows, retries,
// flag-built events and progress output grow with the client library.
#ifndef INFRATRAIL_CLIENT_ADD_COMMAND_H_
#define INFRATRAIL_CLIENT_ADD_COMMAND_H_

#include <iosfwd>
#include <string>

namespace infratrail {

struct AddArgs {
  std::string server = "127.0.0.1:7400";
  std::string file;  // empty: stdin
  std::string token;
  std::string log_key;  // verifier key text or @file
  bool wait = false;
  std::string receipt_dir;
  size_t batch = 1000;
};

// Returns the process exit code (0 ok, 1 verification failure, 2 usage or
// bad input, 3 server or network error); errors go to `err`.
int RunAdd(const AddArgs& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_ADD_COMMAND_H_
