// Static export of the log in the C2SP tlog-tiles layout, so any static web
// server, CDN origin or object-store sync can serve reads with no infratrail
// process on the read path:
//
//   OUT/checkpoint                     the published signed checkpoint
//   OUT/tile/<L>/<N>[.p/<W>]           hash tiles (height 8)
//   OUT/tile/entries/<N>[.p/<W>]       entry bundles
//
// Everything is exported for the stored (published) checkpoint's size, never
// for sequenced-but-unsigned entries. Every file is written atomically and
// durably (temporary file, fsync, rename, directory fsync). Full tiles and
// bundles never change, so one already present is not written again; the
// partial ones of the current size are. The checkpoint is written last, so
// a reader that sees it finds every tile it names.
#ifndef INFRATRAIL_SERVER_EXPORT_H_
#define INFRATRAIL_SERVER_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/storage.h"

namespace infratrail {

struct ExportReport {
  uint64_t size = 0;             // the exported checkpoint's tree size
  uint64_t files_written = 0;    // tiles and bundles written by this call
  uint64_t files_unchanged = 0;  // full ones already present, left alone
};

// Exports the tree of the checkpoint stored in `storage` to `out_dir`
// (created if missing). FailedPrecondition if no checkpoint was published
// yet; DataLoss if a stored tile is shorter than the checkpoint needs or an
// entry cannot be bundled; I/O errors name the path.
absl::StatusOr<ExportReport> ExportTiles(LogStorage& storage, const std::string& out_dir);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_EXPORT_H_
