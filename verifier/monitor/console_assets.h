// The console's static files (verifier/monitor/console/), compiled into the
// monitor by embed_assets.cmake: no files to install, nothing read at run
// time.
#ifndef INFRATRAIL_VERIFIER_MONITOR_CONSOLE_ASSETS_H_
#define INFRATRAIL_VERIFIER_MONITOR_CONSOLE_ASSETS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace infratrail {

struct ConsoleAsset {
  absl::string_view name;  // "index.html", "console.js", ...
  absl::string_view content_type;
  absl::string_view bytes;
};

absl::Span<const ConsoleAsset> ConsoleAssets();

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_CONSOLE_ASSETS_H_
