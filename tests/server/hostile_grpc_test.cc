// End-to-end tests of the gRPC port against hostile clients, and of the
// start-up and SIGHUP handling of writer tokens and key files
// (docs/operations.md, "Limits and hostile clients"):
//   - a flood of idle connections beyond the descriptor limit is refused at
//     accept, checkpoints keep being published, and the port serves again
//     once the flood ends;
//   - GetEntries streams are bounded in number and cut off when stalled;
//   - an AddEvents without writer credentials is refused from its metadata,
//     before its message is read;
//   - an unparsable request is INVALID_ARGUMENT, and libprotobuf's
//     complaints go through the server's log, rate-limited;
//   - tokens reload on SIGHUP; bad token and key files are refused.
// Each server runs in the test's own directory on ephemeral ports.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

using grpc::StatusCode;

constexpr char kToken[] = "ci-token-0123456789abcdef";
constexpr char kOtherToken[] = "batch-token-0123456789abcdef";
constexpr char kPrlimit[] = "/usr/bin/prlimit";

double Metric(const ServerProcess& server, absl::string_view series) {
  return ScrapeMetric(server.metrics_port(), series);
}

// Polls until `done` or `timeout`; its last answer.
template <typename F>
bool Eventually(F done, absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

bool StderrHas(const ServerProcess& server, absl::string_view text) {
  return absl::StrContains(server.Stderr(), text);
}

// A client connection that sent the HTTP/2 preface and an empty SETTINGS
// frame and then does nothing. -1 if it could not connect.
int OpenIdleHttp2(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, kPreface, sizeof(kPreface) - 1, MSG_NOSIGNAL) != sizeof(kPreface) - 1) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits until the server has answered every connection in `fds`, either
// with data (gRPC's SETTINGS: it was accepted) or by closing it (refused at
// accept). How many it answered by `timeout`.
size_t AwaitAnswers(const std::vector<int>& fds, absl::Duration timeout) {
  std::vector<pollfd> pending;
  pending.reserve(fds.size());
  for (int fd : fds) pending.push_back({fd, POLLIN, 0});
  size_t answered = 0;
  const absl::Time deadline = absl::Now() + timeout;
  while (!pending.empty() && absl::Now() < deadline) {
    if (poll(pending.data(), pending.size(), 100) < 0) break;
    std::vector<pollfd> still;
    for (const pollfd& p : pending) {
      if (p.revents != 0) {
        ++answered;
      } else {
        still.push_back({p.fd, POLLIN, 0});
      }
    }
    pending.swap(still);
  }
  return answered;
}

// This process opens more sockets than the server may: its own soft
// descriptor limit goes up to its hard one.
void RaiseOwnDescriptorLimit() {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

// Adds `n` entries of about 60 KiB each, and waits for a checkpoint over
// them.
void FillWithBigEntries(LogClient& client, int n) {
  for (int done = 0; done < n; done += 10) {
    std::vector<std::string> batch;
    batch.reserve(10);
    for (int i = 0; i < 10; ++i) batch.push_back(MakeEvent(60000));
    v1::AddEventsResponse resp;
    ASSERT_TRUE(client.AddEvents(batch, done + 10 >= n, &resp).ok());
  }
}

// A GetEntries stream that took its first message and reads no more. Its
// channel does not probe bandwidth, so its receive window stays at 64 KiB
// and the server cannot finish the stream into the client's buffers.
struct StalledStream {
  grpc::ClientContext ctx;
  std::unique_ptr<v1::Log::Stub> stub;
  std::unique_ptr<grpc::ClientReader<v1::GetEntriesResponse>> reader;

  bool Open(const std::string& address, uint64_t count) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stub = v1::Log::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    v1::GetEntriesRequest req;
    req.set_start(0);
    req.set_count(count);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    reader = stub->GetEntries(&ctx, req);
    v1::GetEntriesResponse first;
    return reader->Read(&first);
  }
  grpc::Status Cancel() {
    ctx.TryCancel();
    v1::GetEntriesResponse ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }
};

class HostileGrpcTest : public ServerTest {
 protected:
  std::string WriteTokens(const std::string& text, mode_t mode = 0600) {
    std::string path = dir_->path() + "/tokens";
    std::ofstream(path, std::ios::trunc) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  // Runs a server expected to refuse to start: its exit code, and stderr.
  int ExitCodeOf(const ServerOptions& options, std::string* stderr_text) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Spawn(dir_->path(), options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    const int rc = (*p)->WaitExit(absl::Seconds(30)).value_or(-1);
    *stderr_text = (*p)->Stderr();
    return rc;
  }
};

TEST_F(HostileGrpcTest, IdleConnectionFloodBeyondTheDescriptorLimitLeavesNoDamage) {
  if (access(kPrlimit, X_OK) != 0) GTEST_SKIP() << kPrlimit << " not found";
  RaiseOwnDescriptorLimit();
  ServerOptions o = Options();
  // The server raises its soft limit to the hard one, 256.
  o.launcher = {kPrlimit, "--nofile=128:256"};
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(dir_->path(), o);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(StderrHas(**server, "open files limit 256"));
  LogClient before((*server)->address());
  ASSERT_TRUE(AddAndWaitForCheckpoint(before, vkey()).ok());

  std::vector<int> flood;
  for (int i = 0; i < 400; ++i) {
    const int fd = OpenIdleHttp2((*server)->grpc_port());
    ASSERT_GE(fd, 0) << "connection " << i;
    flood.push_back(fd);
  }
  // Every connection is served or closed at accept; none is left in the
  // listener's backlog.
  EXPECT_EQ(AwaitAnswers(flood, absl::Seconds(30)), flood.size());
  EXPECT_TRUE(Eventually(
      [&] { return Metric(**server, "infratrail_grpc_connections_refused_total") > 0; }));
  // While the flood holds its descriptors, checkpoints are still signed
  // and published (the server's own files have their reserve).
  absl::StatusOr<Checkpoint> during = AddAndWaitForCheckpoint(before, vkey());
  EXPECT_TRUE(during.ok()) << during.status();

  for (int fd : flood) close(fd);
  // A new connection, a new write and a new checkpoint.
  LogClient after((*server)->address());
  absl::StatusOr<Checkpoint> cp;
  EXPECT_TRUE(Eventually([&] {
    cp = AddAndWaitForCheckpoint(after, vkey());
    return cp.ok();
  })) << cp.status();
  EXPECT_EQ(cp->size, 3u);
  std::string note;
  EXPECT_TRUE(after.GetCheckpoint(&note).ok());
}

TEST_F(HostileGrpcTest, EntriesStreamsBeyondTheLimitAreRefused) {
  std::unique_ptr<ServerProcess> server = StartServer({"--grpc-max-entries-streams", "2"});
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  FillWithBigEntries(client, 150);

  StalledStream a, b;
  ASSERT_TRUE(a.Open(server->address(), 150));
  ASSERT_TRUE(b.Open(server->address(), 150));
  std::vector<std::string> got;
  EXPECT_TRUE(IsError(client.GetEntries(0, 1, &got), StatusCode::RESOURCE_EXHAUSTED,
                      "GetEntries: 2 streams are open"));
  EXPECT_EQ(Metric(*server, "infratrail_grpc_get_entries_streams"), 2);
  a.Cancel();
  b.Cancel();
  // Once the server has seen them go, streams are served again.
  grpc::Status st;
  EXPECT_TRUE(Eventually([&] {
    got.clear();
    st = client.GetEntries(0, 150, &got);
    return st.error_code() != StatusCode::RESOURCE_EXHAUSTED;
  }));
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(got.size(), 150u);
}

TEST_F(HostileGrpcTest, StalledEntriesStreamIsCancelled) {
  std::unique_ptr<ServerProcess> server = StartServer({"--grpc-stalled-stream-timeout", "1"});
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  FillWithBigEntries(client, 150);

  StalledStream s;
  ASSERT_TRUE(s.Open(server->address(), 150));
  EXPECT_TRUE(Eventually(
      [&] { return Metric(*server, "infratrail_grpc_get_entries_stalled_total") == 1; }));
  v1::GetEntriesResponse resp;
  while (s.reader->Read(&resp)) {
  }
  EXPECT_EQ(s.reader->Finish().error_code(), StatusCode::CANCELLED);
  EXPECT_TRUE(
      Eventually([&] { return Metric(*server, "infratrail_grpc_get_entries_streams") == 0; }));
}

TEST_F(HostileGrpcTest, WriteWithoutCredentialsIsRefusedBeforeItsMessageIsRead) {
  const std::string tokens = WriteTokens(absl::StrCat("ci ", kToken, "\n"));
  std::unique_ptr<ServerProcess> server = StartServer({"--tokens-file", tokens});
  ASSERT_NE(server, nullptr);
  std::vector<std::string> big;
  big.reserve(500);
  for (int i = 0; i < 500; ++i) big.push_back(MakeEvent(60000));  // ~30 MB

  LogClient anonymous(server->address());
  v1::AddEventsResponse resp;
  EXPECT_TRUE(IsError(anonymous.AddEvents(big, false, &resp), StatusCode::UNAUTHENTICATED,
                      "AddEvents: writer credentials required"));
  LogClient stranger(server->address(), "not-a-token-0123456789");
  EXPECT_TRUE(IsError(stranger.AddEvents(big, false, &resp), StatusCode::PERMISSION_DENIED,
                      "AddEvents: credentials not allowed"));
  // Refused by the auth filter: the handler, which runs only once the
  // message is read and parsed, never saw them.
  EXPECT_EQ(Metric(*server, "infratrail_grpc_writes_refused_before_read_total"), 2);
  EXPECT_EQ(Metric(*server,
                   "infratrail_grpc_requests_total{code=\"UNAUTHENTICATED\",method=\"AddEvents\"}"),
            -1);
  EXPECT_EQ(
      Metric(*server,
             "infratrail_grpc_requests_total{code=\"PERMISSION_DENIED\",method=\"AddEvents\"}"),
      -1);
  // Writers and readers are unaffected.
  LogClient writer(server->address(), kToken);
  EXPECT_TRUE(AddAndWaitForCheckpoint(writer, vkey()).ok());
  std::string note;
  EXPECT_TRUE(anonymous.GetCheckpoint(&note).ok());
}

// Sends `request` bytes to the unary `method`; the status.
grpc::Status CallRaw(const std::string& address, const std::string& method,
                     const std::string& request) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&ctx, method, req, &cq);
  call->StartCall();
  grpc::ByteBuffer resp;
  grpc::Status st;
  call->Finish(&resp, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  return st;
}

// Sends `request` bytes to the server-streaming `method`; the status.
grpc::Status StreamRaw(const std::string& address, const std::string& method,
                       const std::string& request) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  call->WriteLast(req, grpc::WriteOptions(), reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  return st;
}

TEST_F(HostileGrpcTest, UnparsableRequestIsInvalidArgument) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  // Field 1, length-delimited, claiming far more bytes than follow.
  const std::string garbage("\x0a\xff\xff\xff\x0f\x01", 6);
  EXPECT_TRUE(IsError(CallRaw(server->address(), "/infratrail.v1.Log/AddEvents", garbage),
                      StatusCode::INVALID_ARGUMENT, "AddEvents: request: cannot be parsed"));
  EXPECT_TRUE(IsError(CallRaw(server->address(), "/infratrail.v1.Log/GetCheckpoint", garbage),
                      StatusCode::INVALID_ARGUMENT, "GetCheckpoint: request"));
  EXPECT_TRUE(IsError(StreamRaw(server->address(), "/infratrail.v1.Log/GetEntries", garbage),
                      StatusCode::INVALID_ARGUMENT, "GetEntries: request"));
  // An unknown method stays UNIMPLEMENTED.
  EXPECT_EQ(CallRaw(server->address(), "/infratrail.v1.Log/NoSuchMethod", "").error_code(),
            StatusCode::UNIMPLEMENTED);
}

TEST_F(HostileGrpcTest, ProtobufComplaintsGoThroughTheServerLogRateLimited) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  for (int i = 0; i < 30; ++i) {
    // A resource id that is not UTF-8: libprotobuf logs an ERROR when it
    // refuses to parse it.
    v1::InfraEvent e = MakeEventProto();
    e.mutable_resource()->set_id("MARKERMARKER");
    std::string bytes = e.SerializeAsString();
    bytes.replace(bytes.find("MARKERMARKER"), 12,
                  "\xff\xfe\xfd\xfc\xff\xfe\xfd\xfc\xff\xfe\xfd\xfc");
    v1::AddEventsResponse resp;
    EXPECT_EQ(client.AddEvents({bytes}, false, &resp).error_code(), StatusCode::INVALID_ARGUMENT);
  }
  const std::string err = server->Stderr();
  int routed = 0;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "[libprotobuf")) << line;
    if (absl::StartsWith(line, "infratrail-server: protobuf error")) ++routed;
  }
  EXPECT_GE(routed, 1);
  EXPECT_LE(routed, 10);
}

TEST_F(HostileGrpcTest, SighupReloadsTokensAndKeepsThemOnABadFile) {
  const std::string tokens = WriteTokens(absl::StrCat("ci ", kToken, "\n"));
  std::unique_ptr<ServerProcess> server = StartServer({"--tokens-file", tokens});
  ASSERT_NE(server, nullptr);
  LogClient batch(server->address(), kOtherToken);
  v1::AddEventsResponse resp;
  EXPECT_EQ(batch.AddEvents({MakeEvent()}, false, &resp).error_code(),
            StatusCode::PERMISSION_DENIED);

  WriteTokens(absl::StrCat("ci ", kToken, "\nbatch ", kOtherToken, "\n"));
  ASSERT_TRUE(server->Signal(SIGHUP).ok());
  ASSERT_TRUE(Eventually([&] { return StderrHas(*server, "2 writers (was 1)"); }))
      << server->Stderr();
  EXPECT_TRUE(batch.AddEvents({MakeEvent()}, false, &resp).ok());

  // One token for two writers: refused, the previous tokens stay.
  WriteTokens(absl::StrCat("ci ", kToken, "\nbatch ", kOtherToken, "\nops ", kToken, "\n"));
  ASSERT_TRUE(server->Signal(SIGHUP).ok());
  ASSERT_TRUE(Eventually([&] { return StderrHas(*server, "keeping the previous tokens"); }));
  EXPECT_TRUE(StderrHas(*server, "lines 1 and 3"));
  EXPECT_TRUE(batch.AddEvents({MakeEvent()}, false, &resp).ok());
  {
    LogClient ci(server->address(), kToken);
    EXPECT_TRUE(ci.AddEvents({MakeEvent()}, false, &resp).ok());
  }
  // Still serving after two SIGHUPs; SIGTERM drains as ever.
  EXPECT_EQ(server->Terminate().value_or(-1), 0);
}

TEST_F(HostileGrpcTest, RefusesOneTokenForTwoWriters) {
  const std::string tokens =
      WriteTokens(absl::StrCat("# writers\nci ", kToken, "\nops ", kToken, "\n"));
  std::string err;
  EXPECT_EQ(ExitCodeOf(Options({"--tokens-file", tokens}), &err), 2);
  EXPECT_TRUE(absl::StrContains(err, tokens + " lines 2 and 3")) << err;
}

TEST_F(HostileGrpcTest, WarnsAboutTokensOthersCanReadOrSentInPlaintext) {
  const std::string tokens = WriteTokens(absl::StrCat("ci ", kToken, "\n"), 0644);
  ServerOptions o = Options({"--tokens-file", tokens});
  o.grpc_addr = "0.0.0.0:0";
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(dir_->path(), o);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(StderrHas(**server, "--tokens-file " + tokens + " is readable by group or others"));
  EXPECT_TRUE(
      StderrHas(**server, "bearer tokens are accepted in plaintext on --grpc-addr 0.0.0.0"));
}

TEST_F(HostileGrpcTest, RefusesASigningKeyOthersCanRead) {
  ASSERT_EQ(chmod(key_.key_file.c_str(), 0640), 0);
  std::string err;
  EXPECT_EQ(ExitCodeOf(Options(), &err), 2);
  EXPECT_TRUE(
      absl::StrContains(err, "--signing-key " + key_.key_file + " is readable by group or others"))
      << err;
  std::unique_ptr<ServerProcess> server = StartServer({"--allow-insecure-key-permissions"});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(StderrHas(*server, "warning: --signing-key"));
}

TEST_F(HostileGrpcTest, TlsCertWithoutKeyNamesTheMissingFlag) {
  std::string err;
  EXPECT_EQ(ExitCodeOf(Options({"--tls-cert", dir_->path() + "/server.crt"}), &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--tls-cert: needs --tls-key")) << err;
  EXPECT_EQ(ExitCodeOf(Options({"--tls-key", dir_->path() + "/server.key"}), &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--tls-key: needs --tls-cert")) << err;
  // Refused before the data directory is touched.
  EXPECT_FALSE(std::filesystem::exists(data_dir_));
}

}  // namespace
}  // namespace infratrail::testing
