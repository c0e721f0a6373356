#include "bench/witness_load_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/witness_load_corpus.h"
#include "core/note.h"
#include "core/note_key.h"

namespace infratrail::witness_load {
namespace {

using Clock = std::chrono::steady_clock;

// An answer's headers beyond this are a broken server, not a slow one.
constexpr size_t kMaxHeaderBytes = size_t{64} << 10;
constexpr absl::string_view kSignatureLinePrefix = "\xE2\x80\x94 ";  // "— "

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// One HTTP/1.1 answer at the start of a connection's input.
struct HttpAnswer {
  int status = 0;
  std::string body;
  size_t consumed = 0;  // bytes of the input it took
  bool close = false;   // the server will close the connection after it
};
enum class Parse { kIncomplete, kComplete, kMalformed };

// Chunked transfer coding (RFC 9112 §7.1), trailers ignored.
Parse ParseChunked(absl::string_view in, size_t pos, HttpAnswer* a) {
  while (true) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == absl::string_view::npos) return Parse::kIncomplete;
    absl::string_view size_text = in.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
      return Parse::kMalformed;
    }
    pos = eol + 2;
    if (size == 0) {
      const size_t end = in.find("\r\n\r\n", pos - 2);
      if (end == absl::string_view::npos) return Parse::kIncomplete;
      a->consumed = end + 4;
      return Parse::kComplete;
    }
    if (in.size() < pos + size + 2) return Parse::kIncomplete;
    a->body.append(in.data() + pos, size);
    pos += size + 2;
  }
}

Parse ParseAnswer(absl::string_view in, HttpAnswer* a) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == absl::string_view::npos) {
    return in.size() > kMaxHeaderBytes ? Parse::kMalformed : Parse::kIncomplete;
  }
  std::vector<absl::string_view> lines = absl::StrSplit(in.substr(0, head_end), "\r\n");
  const absl::string_view status_line = lines[0];
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      !absl::SimpleAtoi(status_line.substr(9, 3), &a->status)) {
    return Parse::kMalformed;
  }
  a->close = absl::StartsWith(status_line, "HTTP/1.0");
  std::optional<uint64_t> length;
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) return Parse::kMalformed;
    const absl::string_view name = lines[i].substr(0, colon);
    const std::string value =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      uint64_t n = 0;
      if (!absl::SimpleAtoi(value, &n)) return Parse::kMalformed;
      length = n;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = absl::StrContains(value, "chunked");
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      if (absl::StrContains(value, "close")) a->close = true;
      if (absl::StrContains(value, "keep-alive")) a->close = false;
    }
  }
  const size_t body_start = head_end + 4;
  if (chunked) return ParseChunked(in, body_start, a);
  if (!length.has_value()) {
    // Only these have no body without saying so; a body up to the close
    // would cost the keep-alive connection, which a witness SHOULD keep.
    if (a->status != 204 && a->status != 304) return Parse::kMalformed;
    length = 0;
  }
  if (in.size() - body_start < *length) return Parse::kIncomplete;
  a->body.assign(in.data() + body_start, *length);
  a->consumed = body_start + *length;
  return Parse::kComplete;
}

absl::StatusOr<addrinfo*> Resolve(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("run: --addr ", addr, " is not HOST:PORT"));
  }
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), addr.substr(colon + 1).c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("run: resolve ", addr, ": ", gai_strerror(rc)));
  }
  return res;
}

struct LogState {
  const std::vector<absl::string_view>* bodies = nullptr;
  size_t next = 0;
  bool stopped = false;
};

struct Conn {
  int fd = -1;
  std::vector<int> logs;
  size_t turn = 0;
  int log = -1;  // the log with a request in flight, -1 if idle
  std::string head;
  absl::string_view body;
  size_t sent = 0;
  bool want_out = false;
  std::string in;
  Clock::time_point started;
};

// The event loop. Owned by the one thread that calls Run.
class Runner {
 public:
  Runner(const RunOptions& options, std::vector<LogState> logs, const addrinfo* addr,
         std::optional<NoteVerifier> witness)
      : options_(options), logs_(std::move(logs)), addr_(addr), witness_(std::move(witness)) {}
  ~Runner() {
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  absl::Status Connect(int connections);
  RunResult Run();

 private:
  int Dial();
  void Drop(size_t c, absl::string_view why);
  void SendNext(size_t c);
  void Flush(size_t c);
  void Read(size_t c);
  void Answered(size_t c, const HttpAnswer& a);
  void Fail(int log, int request, int status, std::string detail);
  void Stop(const char* reason) {
    if (stop_reason_.empty()) stop_reason_ = reason;
  }

  const RunOptions& options_;
  std::vector<LogState> logs_;
  const addrinfo* addr_;
  std::optional<NoteVerifier> witness_;
  std::string host_header_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::string stop_reason_;  // non-empty: send nothing new
  int in_flight_ = 0;
  uint64_t answered_200_ = 0;
  Clock::time_point last_answer_;
  RunResult result_;
};

int Runner::Dial() {
  const int fd = ::socket(addr_->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, addr_->ai_addr, addr_->ai_addrlen) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

absl::Status Runner::Connect(int connections) {
  host_header_ = options_.addr;
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) return absl::InternalError(absl::StrCat("run: epoll: ", std::strerror(errno)));
  conns_.resize(connections);
  for (size_t i = 0; i < logs_.size(); ++i) conns_[i % connections].logs.push_back(i);
  for (size_t c = 0; c < conns_.size(); ++c) {
    conns_[c].fd = Dial();
    if (conns_[c].fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("run: connect ", options_.addr, ": ", std::strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, conns_[c].fd, &ev);
  }
  return absl::OkStatus();
}

void Runner::Fail(int log, int request, int status, std::string detail) {
  logs_[log].stopped = true;
  if (!result_.first_failure.has_value()) {
    if (detail.size() > 300) detail.resize(300);
    result_.first_failure = RunFailure{log, request, status, std::move(detail)};
  }
}

// The connection is unusable: a request in flight on it is lost (its log
// stops), and the connection is dialled again for its other logs.
void Runner::Drop(size_t c, absl::string_view why) {
  Conn& conn = conns_[c];
  if (conn.log >= 0) {
    result_.errors["transport"]++;
    Fail(conn.log, static_cast<int>(logs_[conn.log].next), 0, std::string(why));
    conn.log = -1;
    in_flight_--;
  }
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, conn.fd, nullptr);
  ::close(conn.fd);
  conn.fd = -1;
  conn.in.clear();
  conn.want_out = false;
  if (!stop_reason_.empty()) return;
  conn.fd = Dial();
  if (conn.fd < 0) {
    for (int log : conn.logs) {
      if (!logs_[log].stopped) Fail(log, static_cast<int>(logs_[log].next), 0, "reconnect failed");
    }
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, conn.fd, &ev);
  SendNext(c);
}

void Runner::SendNext(size_t c) {
  Conn& conn = conns_[c];
  if (!stop_reason_.empty() || conn.fd < 0) return;
  for (size_t j = 0; j < conn.logs.size(); ++j) {
    const int log = conn.logs[(conn.turn + j) % conn.logs.size()];
    LogState& state = logs_[log];
    if (state.stopped) continue;
    conn.turn = (conn.turn + j + 1) % conn.logs.size();
    if (state.next == state.bodies->size()) {
      Stop("bodies");
      return;
    }
    conn.log = log;
    conn.body = (*state.bodies)[state.next];
    conn.head = absl::StrCat("POST /add-checkpoint HTTP/1.1\r\nHost: ", host_header_,
                             "\r\nContent-Length: ", conn.body.size(), "\r\n\r\n");
    conn.sent = 0;
    conn.started = Clock::now();
    in_flight_++;
    Flush(c);
    return;
  }
}

void Runner::Flush(size_t c) {
  Conn& conn = conns_[c];
  while (true) {
    const size_t total = conn.head.size() + conn.body.size();
    if (conn.sent == total) break;
    iovec iov[2];
    int n = 0;
    if (conn.sent < conn.head.size()) {
      iov[n++] = {conn.head.data() + conn.sent, conn.head.size() - conn.sent};
      iov[n++] = {const_cast<char*>(conn.body.data()), conn.body.size()};
    } else {
      const size_t off = conn.sent - conn.head.size();
      iov[n++] = {const_cast<char*>(conn.body.data()) + off, conn.body.size() - off};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    const ssize_t w = ::sendmsg(conn.fd, &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (w < 0) return Drop(c, absl::StrCat("send: ", std::strerror(errno)));
    conn.sent += static_cast<size_t>(w);
  }
  const bool want_out = conn.sent < conn.head.size() + conn.body.size();
  if (want_out != conn.want_out) {
    conn.want_out = want_out;
    epoll_event ev{};
    ev.events = want_out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u64 = c;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, conn.fd, &ev);
  }
}

void Runner::Read(size_t c) {
  char buf[16384];
  while (true) {
    Conn& conn = conns_[c];
    const ssize_t r = ::recv(conn.fd, buf, sizeof(buf), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) return Drop(c, r == 0 ? "connection closed" : std::strerror(errno));
    conn.in.append(buf, static_cast<size_t>(r));
    HttpAnswer a;
    const Parse p = ParseAnswer(conn.in, &a);
    if (p == Parse::kIncomplete) continue;
    if (p == Parse::kMalformed || conn.log < 0) {
      result_.errors["bad_response"]++;
      if (conn.log < 0) return Drop(c, "answer with no request");
      Fail(conn.log, static_cast<int>(logs_[conn.log].next), 0, "malformed HTTP answer");
      conn.log = -1;
      in_flight_--;
      return Drop(c, "malformed HTTP answer");
    }
    conn.in.erase(0, a.consumed);
    Answered(c, a);
    if (!conn.in.empty()) {
      result_.errors["bad_response"]++;
      return Drop(c, "bytes after the answer");
    }
    if (a.close) return Drop(c, "closed by the server");
    SendNext(c);
    return;
  }
}

void Runner::Answered(size_t c, const HttpAnswer& a) {
  Conn& conn = conns_[c];
  const Clock::time_point now = Clock::now();
  const int log = conn.log;
  LogState& state = logs_[log];
  const int request = static_cast<int>(state.next);
  conn.log = -1;
  in_flight_--;
  last_answer_ = now;
  result_.requests++;
  result_.status_counts[a.status]++;
  result_.latencies_us.push_back(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - conn.started).count()));
  if (a.status != 200) return Fail(log, request, a.status, a.body);
  if (!absl::StartsWith(a.body, kSignatureLinePrefix) || !absl::EndsWith(a.body, "\n")) {
    result_.errors["bad_response"]++;
    return Fail(log, request, a.status, absl::StrCat("200 body is not signature lines: ", a.body));
  }
  if (witness_.has_value() && answered_200_++ % options_.verify_every == 0) {
    absl::StatusOr<ParsedBody> sent = ParseBody(conn.body);
    absl::StatusOr<Note> note =
        sent.ok() ? OpenNote(absl::StrCat(sent->note, a.body), {&*witness_, 1}) : sent.status();
    if (!note.ok()) {
      result_.errors["bad_cosignature"]++;
      return Fail(log, request, a.status, absl::StrCat("cosignature: ", note.status().message()));
    }
    result_.cosignatures_verified++;
  }
  state.next++;
}

RunResult Runner::Run() {
  result_.connections = static_cast<int>(conns_.size());
  result_.logs = static_cast<int>(logs_.size());
  result_.latencies_us.reserve(1 << 20);
  const double cpu0 = CpuSeconds();
  const Clock::time_point start = Clock::now();
  last_answer_ = start;
  const Clock::time_point deadline =
      start + std::chrono::microseconds(absl::ToInt64Microseconds(options_.duration));
  Clock::time_point drain_deadline = Clock::time_point::max();
  for (size_t c = 0; c < conns_.size(); ++c) SendNext(c);
  epoll_event events[256];
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) Stop("duration");
    if (in_flight_ == 0) {
      Stop("errors");  // nothing in flight and nothing sent: every log stopped
      break;
    }
    if (!stop_reason_.empty() && drain_deadline == Clock::time_point::max()) {
      drain_deadline = now + std::chrono::microseconds(absl::ToInt64Microseconds(options_.drain));
    }
    if (now >= drain_deadline) {
      result_.errors["timeout"] += in_flight_;
      for (Conn& conn : conns_) {
        if (conn.log >= 0) Fail(conn.log, static_cast<int>(logs_[conn.log].next), 0, "timeout");
      }
      break;
    }
    const Clock::time_point wake = stop_reason_.empty() ? deadline : drain_deadline;
    const int64_t wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
    const int n =
        ::epoll_wait(epoll_, events, 256, static_cast<int>(std::clamp<int64_t>(wait_ms, 1, 100)));
    for (int i = 0; i < n; ++i) {
      const size_t c = events[i].data.u64;
      if (conns_[c].fd < 0) continue;
      if ((events[i].events & EPOLLOUT) != 0 && conns_[c].want_out) Flush(c);
      if (conns_[c].fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read(c);
    }
  }
  result_.client_cpu_seconds = CpuSeconds() - cpu0;
  result_.seconds = std::chrono::duration<double>(last_answer_ - start).count();
  result_.stop_reason = stop_reason_;
  std::sort(result_.latencies_us.begin(), result_.latencies_us.end());
  return std::move(result_);
}

}  // namespace

bool RunResult::ok() const {
  if (!errors.empty()) return false;
  for (const auto& [status, count] : status_counts) {
    if (status != 200 && count > 0) return false;
  }
  return requests > 0;
}

absl::StatusOr<RunResult> RunLoad(const std::string& dir, const RunOptions& options) {
  if (options.connections < 1) return absl::InvalidArgumentError("run: --connections must be >= 1");
  if (options.verify_every < 1)
    return absl::InvalidArgumentError("run: --verify-every must be >= 1");
  std::optional<NoteVerifier> witness;
  if (!options.witness_vkey.empty()) {
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(options.witness_vkey);
    if (v.ok() && v->type() == SigType::kEd25519) v = v->AsCosignatureVerifier();
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("run: --witness-vkey: ", v.status().message()));
    }
    witness = *std::move(v);
  }
  absl::StatusOr<CorpusOptions> corpus = ReadManifest(dir);
  if (!corpus.ok()) return corpus.status();
  std::vector<std::unique_ptr<BodyFile>> files;
  std::vector<LogState> logs(corpus->logs);
  for (int i = 0; i < corpus->logs; ++i) {
    absl::StatusOr<std::unique_ptr<BodyFile>> f = BodyFile::Open(BodiesPath(dir, i));
    if (!f.ok()) return f.status();
    files.push_back(*std::move(f));
    logs[i].bodies = &files.back()->bodies();
  }
  absl::StatusOr<addrinfo*> addr = Resolve(options.addr);
  if (!addr.ok()) return addr.status();
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addr_owner(*addr, &freeaddrinfo);
  Runner runner(options, std::move(logs), *addr, std::move(witness));
  if (absl::Status s = runner.Connect(std::min(options.connections, corpus->logs)); !s.ok()) {
    return s;
  }
  return runner.Run();
}

}  // namespace infratrail::witness_load
