// Test fixtures for the monitor: a C2SP tlog-tiles log built in memory as
// the files a static server would hold, and a libmicrohttpd server on
// 127.0.0.1 that serves them and can be told to misbehave per path (wrong
// bodies and statuses, Content-Length lies, slow drips, silence, redirects,
// huge bodies, junk for any path it does not hold), record what it was
// asked, and answer POSTs (a webhook receiver).
#ifndef INFRATRAIL_VERIFIER_MONITOR_TESTING_STATIC_LOG_H_
#define INFRATRAIL_VERIFIER_MONITOR_TESTING_STATIC_LOG_H_

#include <microhttpd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/types/span.h"
#include "core/checkpoint.h"
#include "core/note_key.h"

namespace infratrail {

// Path ("checkpoint", "tile/0/000", "tile/entries/001.p/7", ...) -> bytes.
using StaticLogFiles = std::map<std::string, std::string>;

// The checkpoint of the first `size` entries (origin = the signer's name).
absl::StatusOr<Checkpoint> CheckpointOf(absl::Span<const std::string> entries, uint64_t size,
                                        absl::string_view origin);

// Every file of the log of the first `size` of `entries` as tlog-tiles
// publishes it at that size: "checkpoint" signed by `signer` (origin = its
// name), and every full and partial hash tile of every level and every
// entry bundle (TilesForTree). InvalidArgument if size > entries.size() or
// an entry is too large for a bundle.
absl::StatusOr<StaticLogFiles> BuildStaticLog(absl::Span<const std::string> entries, uint64_t size,
                                              const NoteSigner& signer);

// What the server answers for one path.
struct Reply {
  enum class Kind {
    kBody,       // `status`, `headers` and `body`
    kTruncated,  // 200 declaring Content-Length `declared`, sends `body`, closes
    kDrip,       // 200 of unknown length, one byte every 50 ms, never ends
    kSilent,     // reads the request and never answers
    kHuge,       // 200 with `declared` bytes of 'x' (Content-Length sent iff
                 // `declare_length`; else chunked)
  };
  Kind kind = Kind::kBody;
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t declared = 0;
  bool declare_length = false;

  static Reply Body(std::string body, unsigned status = 200);
  static Reply Status(unsigned status) { return Body("", status); }
  // 302 to `location` (a path like "/elsewhere" or an absolute URL).
  static Reply Redirect(std::string location, unsigned status = 302);
  static Reply Truncated(std::string prefix, uint64_t declared);
  static Reply Drip();
  static Reply Silent();
  static Reply Huge(uint64_t bytes, bool declare_length);
};

// One request the server saw.
struct SeenRequest {
  std::string method;
  std::string path;     // without the leading '/', query dropped
  std::string body;     // POST body
  unsigned status = 0;  // what was answered (0 for drips, silences, huge bodies)
};

// libmicrohttpd, one thread per connection (a stalled response holds up
// only its own), on 127.0.0.1 and an ephemeral port. Thread-safe.
//
// libmicrohttpd 0.9.75 can crash in MHD_stop_daemon when a client connected
// and closed without sending anything; the destructor releases every
// stalled response first, then stops the daemon, as http_fetcher_test does.
class StaticLogServer {
 public:
  explicit StaticLogServer(StaticLogFiles files = {});
  ~StaticLogServer();
  StaticLogServer(const StaticLogServer&) = delete;
  StaticLogServer& operator=(const StaticLogServer&) = delete;

  bool ok() const { return daemon_ != nullptr && port_ != 0; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT/" (the log's base URL).
  std::string Url() const;

  // Replaces what is served (the overrides stay).
  void SetFiles(StaticLogFiles files);
  // Answers `path` with `reply` instead of its file (or its 404).
  void Override(const std::string& path, Reply reply);
  void ClearOverrides();
  // Answers 200 with garbage for any GET of a path it holds no file for.
  void SetJunkForUnknown(bool junk);
  // Decides POSTs: default 200 "ok".
  void SetPostHandler(std::function<Reply(const SeenRequest&)> handler);

  std::vector<SeenRequest> Requests() const;
  // Paths of GETs for which the server holds no file.
  std::vector<std::string> UnknownPathsRequested() const;

 private:
  struct Stream;
  static MHD_Result Handle(void* cls, MHD_Connection* c, const char* url, const char* method,
                           const char* version, const char* upload_data, size_t* upload_data_size,
                           void** con_cls);
  static void Completed(void* cls, MHD_Connection* c, void** con_cls,
                        MHD_RequestTerminationCode toe);
  static ssize_t Read(void* cls, uint64_t pos, char* buf, size_t max);
  MHD_Result Respond(MHD_Connection* c, std::string path, std::string method, std::string body);

  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  absl::Notification release_;
  mutable absl::Mutex mu_;
  StaticLogFiles files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Reply> overrides_ ABSL_GUARDED_BY(mu_);
  bool junk_ ABSL_GUARDED_BY(mu_) = false;
  std::function<Reply(const SeenRequest&)> post_ ABSL_GUARDED_BY(mu_);
  std::vector<SeenRequest> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unknown_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_TESTING_STATIC_LOG_H_
