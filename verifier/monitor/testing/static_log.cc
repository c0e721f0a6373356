#include "verifier/monitor/testing/static_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/compact_range.h"
#include "core/note.h"
#include "core/tile.h"

namespace infratrail {

absl::StatusOr<Checkpoint> CheckpointOf(absl::Span<const std::string> entries, uint64_t size,
                                        absl::string_view origin) {
  if (size > entries.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("size ", size, " > ", entries.size(), " entries"));
  }
  Hasher h;
  CompactRange r;
  for (uint64_t i = 0; i < size; ++i) r.AppendLeaf(h.HashLeaf(entries[i]), h);
  absl::StatusOr<Hash> root = r.Root(h);
  if (!root.ok()) return root.status();
  return Checkpoint{.origin = std::string(origin), .size = size, .root = *root, .extensions = {}};
}

absl::StatusOr<StaticLogFiles> BuildStaticLog(absl::Span<const std::string> entries, uint64_t size,
                                              const NoteSigner& signer) {
  if (size > entries.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("size ", size, " > ", entries.size(), " entries"));
  }
  // The nodes at tree levels 0, 8, 16, ...: what the hash tiles hold. The
  // visitor sees every node of the tree as it becomes complete.
  std::vector<std::vector<Hash>> at(kMaxTileLevel + 1);
  Hasher h;
  CompactRange range;
  for (uint64_t i = 0; i < size; ++i) {
    range.AppendLeaf(h.HashLeaf(entries[i]), h, [&](NodeId id, const Hash& x) {
      if (id.level % kTileHeight != 0) return;
      std::vector<Hash>& row = at[id.level / kTileHeight];
      if (row.size() <= id.index) row.resize(id.index + 1);
      row[id.index] = x;
    });
  }
  absl::StatusOr<Hash> root = range.Root(h);
  if (!root.ok()) return root.status();
  StaticLogFiles files;
  const Checkpoint cp{.origin = signer.name(), .size = size, .root = *root, .extensions = {}};
  absl::StatusOr<std::string> note = SignNote(cp.Body(), {signer});
  if (!note.ok()) return note.status();
  files["checkpoint"] = *std::move(note);
  for (const TileId& t : TilesForTree(size, /*entries=*/true)) {
    const uint64_t first = t.index * kTileWidth;
    if (t.entries) {
      absl::StatusOr<std::string> bundle = EncodeEntryBundle(
          std::vector<std::string>(entries.begin() + first, entries.begin() + first + t.width));
      if (!bundle.ok()) return bundle.status();
      files[t.Path()] = *std::move(bundle);
    } else {
      const std::vector<Hash>& row = at[t.level];
      if (row.size() < first + t.width) {
        return absl::InternalError(absl::StrCat(t.Path(), ": only ", row.size(), " nodes"));
      }
      files[t.Path()] = EncodeHashTile(absl::MakeConstSpan(row).subspan(first, t.width));
    }
  }
  return files;
}

Reply Reply::Body(std::string body, unsigned status) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply Reply::Redirect(std::string location, unsigned status) {
  Reply r = Body("moved", status);
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

Reply Reply::Truncated(std::string prefix, uint64_t declared) {
  Reply r = Body(std::move(prefix));
  r.kind = Kind::kTruncated;
  r.declared = declared;
  return r;
}

Reply Reply::Drip() {
  Reply r;
  r.kind = Kind::kDrip;
  return r;
}

Reply Reply::Silent() {
  Reply r;
  r.kind = Kind::kSilent;
  return r;
}

Reply Reply::Huge(uint64_t bytes, bool declare_length) {
  Reply r;
  r.kind = Kind::kHuge;
  r.declared = bytes;
  r.declare_length = declare_length;
  return r;
}

// A streamed body: what Read produces for one response.
struct StaticLogServer::Stream {
  StaticLogServer* server;
  Reply::Kind kind;
  std::string prefix;  // kTruncated
  uint64_t size;       // kHuge
};

StaticLogServer::StaticLogServer(StaticLogFiles files) : files_(std::move(files)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                             nullptr, nullptr, &Handle, this, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_NOTIFY_COMPLETED, &Completed, this, MHD_OPTION_END);
  if (daemon_ != nullptr) port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

StaticLogServer::~StaticLogServer() {
  release_.Notify();  // ends drips and silences, so their threads can be joined
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

std::string StaticLogServer::Url() const { return absl::StrCat("http://127.0.0.1:", port_, "/"); }

void StaticLogServer::SetFiles(StaticLogFiles files) {
  absl::MutexLock l(&mu_);
  files_ = std::move(files);
}

void StaticLogServer::Override(const std::string& path, Reply reply) {
  absl::MutexLock l(&mu_);
  overrides_[path] = std::move(reply);
}

void StaticLogServer::ClearOverrides() {
  absl::MutexLock l(&mu_);
  overrides_.clear();
}

void StaticLogServer::SetJunkForUnknown(bool junk) {
  absl::MutexLock l(&mu_);
  junk_ = junk;
}

void StaticLogServer::SetPostHandler(std::function<Reply(const SeenRequest&)> handler) {
  absl::MutexLock l(&mu_);
  post_ = std::move(handler);
}

std::vector<SeenRequest> StaticLogServer::Requests() const {
  absl::MutexLock l(&mu_);
  return seen_;
}

std::vector<std::string> StaticLogServer::UnknownPathsRequested() const {
  absl::MutexLock l(&mu_);
  return unknown_;
}

MHD_Result StaticLogServer::Handle(void* cls, MHD_Connection* c, const char* url,
                                   const char* method, const char* /*version*/,
                                   const char* upload_data, size_t* upload_data_size,
                                   void** con_cls) {
  // MHD calls once for the headers, once per upload chunk, and once more
  // when the upload is complete; only the last one answers.
  if (*con_cls == nullptr) {
    *con_cls = new std::string();
    return MHD_YES;
  }
  auto* uploaded = static_cast<std::string*>(*con_cls);
  if (*upload_data_size > 0) {
    uploaded->append(upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  std::string path = url;
  if (!path.empty() && path[0] == '/') path.erase(0, 1);
  return static_cast<StaticLogServer*>(cls)->Respond(c, std::move(path), method, *uploaded);
}

void StaticLogServer::Completed(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
                                MHD_RequestTerminationCode /*toe*/) {
  delete static_cast<std::string*>(*con_cls);
  *con_cls = nullptr;
}

ssize_t StaticLogServer::Read(void* cls, uint64_t pos, char* buf, size_t max) {
  auto* s = static_cast<Stream*>(cls);
  switch (s->kind) {
    case Reply::Kind::kTruncated:
      if (pos < s->prefix.size()) {
        const size_t n = std::min(max, s->prefix.size() - static_cast<size_t>(pos));
        std::memcpy(buf, s->prefix.data() + pos, n);
        return static_cast<ssize_t>(n);
      }
      return MHD_CONTENT_READER_END_WITH_ERROR;  // MHD closes the connection
    case Reply::Kind::kDrip:
      // One byte every 50 ms, far below any sane low-speed limit.
      if (pos > 0 && s->server->release_.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      buf[0] = 'd';
      return 1;
    case Reply::Kind::kHuge: {
      if (pos >= s->size || s->server->release_.HasBeenNotified()) {
        return pos >= s->size ? MHD_CONTENT_READER_END_OF_STREAM
                              : MHD_CONTENT_READER_END_WITH_ERROR;
      }
      const size_t n = std::min<uint64_t>(max, s->size - pos);
      std::memset(buf, 'x', n);
      return static_cast<ssize_t>(n);
    }
    default:
      return MHD_CONTENT_READER_END_WITH_ERROR;
  }
}

namespace {

MHD_Result Queue(MHD_Connection* c, unsigned status, MHD_Response* r,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  if (r == nullptr) return MHD_NO;
  for (const auto& [name, value] : headers) {
    MHD_add_response_header(r, name.c_str(), value.c_str());
  }
  const MHD_Result result = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return result;
}

MHD_Result SendBody(MHD_Connection* c, unsigned status, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  return Queue(c, status, r, headers);
}

}  // namespace

MHD_Result StaticLogServer::Respond(MHD_Connection* c, std::string path, std::string method,
                                    std::string body) {
  if (const size_t q = path.find('?'); q != std::string::npos) path.resize(q);
  SeenRequest req{.method = std::move(method), .path = std::move(path), .body = std::move(body)};
  std::optional<Reply> reply;
  std::function<Reply(const SeenRequest&)> post;
  {
    absl::MutexLock l(&mu_);
    if (req.method == "POST") {
      post = post_;
    } else if (auto o = overrides_.find(req.path); o != overrides_.end()) {
      reply = o->second;
    } else if (auto f = files_.find(req.path); f != files_.end()) {
      reply = Reply::Body(f->second);
      reply->headers.emplace_back("Content-Type", req.path == "checkpoint"
                                                      ? "text/plain; charset=utf-8"
                                                      : "application/octet-stream");
    } else {
      unknown_.push_back(req.path);
      reply = junk_ ? Reply::Body(std::string(4096, '\x5a')) : Reply::Body("not found\n", 404);
    }
  }
  if (req.method == "POST") reply = post ? post(req) : Reply::Body("ok");
  const bool plain = reply->kind == Reply::Kind::kBody;
  {
    absl::MutexLock l(&mu_);
    req.status = plain ? reply->status : 0;
    seen_.push_back(req);
  }
  switch (reply->kind) {
    case Reply::Kind::kBody:
      return SendBody(c, reply->status, reply->body, reply->headers);
    case Reply::Kind::kSilent:
      // The connection's own thread waits here until the server stops.
      release_.WaitForNotification();
      return MHD_NO;
    case Reply::Kind::kTruncated:
    case Reply::Kind::kDrip:
    case Reply::Kind::kHuge: {
      const uint64_t declared = reply->kind == Reply::Kind::kTruncated ? reply->declared
                                : reply->kind == Reply::Kind::kHuge && reply->declare_length
                                    ? reply->declared
                                    : MHD_SIZE_UNKNOWN;
      auto* s = new Stream{this, reply->kind, reply->body, reply->declared};
      MHD_Response* r = MHD_create_response_from_callback(
          declared, 64 * 1024, &Read, s, [](void* cls) { delete static_cast<Stream*>(cls); });
      if (r == nullptr) delete s;
      return Queue(c, 200, r, {{"Content-Type", "application/octet-stream"}});
    }
  }
  return MHD_NO;
}

}  // namespace infratrail
