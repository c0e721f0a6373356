// `infratrail-server export`: writes the published tree as C2SP tlog-tiles
// files (checkpoint, tile/...) for a static web server, CDN or object store,
// once or, with --follow, as the log grows. Opens the store read-only, so it
// runs beside a live server. One line per export goes to stdout.
#ifndef INFRATRAIL_SERVER_EXPORT_COMMAND_H_
#define INFRATRAIL_SERVER_EXPORT_COMMAND_H_

#include <string>

namespace CLI {
class App;
}

namespace infratrail {

struct ExportArgs {
  std::string data_dir;
  std::string to;  // output directory, created if missing
  bool follow = false;
  std::string interval = "1s";  // with follow: time between looks
};

// Registers the subcommand and its flags on `app`, writing into `args`.
CLI::App* AddExportCommand(CLI::App& app, ExportArgs& args);

// Runs it; with args.follow, until SIGTERM or SIGINT (which it blocks, so
// call it before any thread starts). Exit codes (exit_codes.h): kExitOk
// done, kExitUsage for a bad --interval, kExitStore if the store cannot be
// read or the output written.
int RunExport(const ExportArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_EXPORT_COMMAND_H_
