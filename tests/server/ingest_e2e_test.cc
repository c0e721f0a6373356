// `infratrail ingest` end to end against a real server: files ingested
// twice log each event once; the Kubernetes audit webhook logs 10,000
// events from 100 POSTs exactly once, also across a kill -9 of the webhook
// with the sender retrying, and answers 5xx while the log is down; bad
// records (truncated, wrong types, 100 MB, no resource, a gzip bomb) are
// reported by position and lose nothing around them; a file ingest killed
// with -9 and run again logs every event exactly once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/http/http_fetcher.h"
#include "core/testing/tls_test_util.h"
#include "infratrail/v1/event.pb.h"
#include "nlohmann/json.hpp"
#include "tests/server/cli_fixture.h"
#include "tests/server/log_client.h"

namespace infratrail::testing {
namespace {

// A TCP connection to 127.0.0.1:<port> (reads time out after 90 s), or -1.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{.tv_sec = 90, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// POSTs `body` on the connected `fd` (HTTP/1.1, Connection: close) and
// closes it: the status code, or Unavailable when no answer came.
absl::StatusOr<int> HttpPostOn(int fd, const std::string& body) {
  if (fd < 0) return absl::UnavailableError("not connected");
  std::string response;
  {
    const std::string request = absl::StrCat(
        "POST /audit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: ",
        body.size(), "\r\n\r\n", body);
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  int code = 0;
  if (response.rfind("HTTP/1.1 ", 0) != 0 || !absl::SimpleAtoi(response.substr(9, 3), &code)) {
    return absl::UnavailableError(absl::StrCat("no answer: ", response.substr(0, 80)));
  }
  return code;
}

// POSTs `body` to http://127.0.0.1:<port>/ on a new connection.
absl::StatusOr<int> HttpPost(int port, const std::string& body) {
  return HttpPostOn(ConnectLoopback(port), body);
}

// One audit event at ResponseComplete: a human creating, patching or
// deleting a deployment, or reading a secret (all mapped to events).
std::string AuditEvent(int i) {
  static const char* const kVerbs[] = {"create", "patch", "delete", "get"};
  const char* verb = kVerbs[i % 4];
  const bool secret = i % 4 == 3;
  return absl::StrFormat(
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"e2e-%06d",)"
      R"("stage":"ResponseComplete","requestURI":"/x","verb":"%s","user":{"username":"user%d@example.com"},)"
      R"("sourceIPs":["10.0.0.%d"],"objectRef":{"resource":"%s","namespace":"ns%d","name":"obj%d",%s"apiVersion":"v1"},)"
      R"("responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-01T10:%02d:%02d.%06dZ",)"
      R"("stageTimestamp":"2026-12-01T10:%02d:%02d.%06dZ"})",
      i, verb, i % 7, i % 250, secret ? "secrets" : "deployments", i % 13, i,
      secret ? "" : R"("apiGroup":"apps",)", (i / 60) % 60, i % 60, i, (i / 60) % 60, i % 60, i);
}

std::string EventList(int first, int n) {
  std::string items;
  for (int i = first; i < first + n; ++i) {
    if (!items.empty()) items += ',';
    items += AuditEvent(i);
  }
  return absl::StrCat(
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)", items, "]}");
}

// One CloudTrail record (JSON, one line): kind 0 reads a secret (ACCESS),
// 1 runs two instances (two PROVISIONs), 2 decrypts with a KMS key (ACCESS).
std::string CloudTrailRecord(int i, int kind) {
  std::string call;
  switch (kind) {
    case 0:
      call = absl::StrFormat(
          R"("eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue",)"
          R"("readOnly":true,"requestParameters":{"secretId":"db-%d"},)",
          i % 20);
      break;
    case 1:
      call = absl::StrFormat(
          R"("eventSource":"ec2.amazonaws.com","eventName":"RunInstances","readOnly":false,)"
          R"("responseElements":{"instancesSet":{"items":[{"instanceId":"i-%08xa"},)"
          R"({"instanceId":"i-%08xb"}]}},)",
          i, i);
      break;
    default:
      call = absl::StrFormat(
          R"("eventSource":"kms.amazonaws.com","eventName":"Decrypt","readOnly":true,)"
          R"("resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:123456789012:key/k%d"}],)",
          i % 30);
  }
  return absl::StrFormat(
      R"({"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/u%d"},)"
      R"("eventTime":"2026-11-30T12:%02d:%02dZ",%s"eventID":"e2e-%08d","eventType":"AwsApiCall",)"
      R"("recipientAccountId":"123456789012"})",
      i % 5, (i / 60) % 60, i % 60, call, i);
}

// Writes `text` gzipped to `path`.
bool WriteGzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = true;
  for (size_t at = 0; ok && at < text.size(); at += 1 << 20) {
    const size_t n = std::min<size_t>(1 << 20, text.size() - at);
    ok = gzwrite(f, text.data() + at, static_cast<unsigned>(n)) == static_cast<int>(n);
  }
  return gzclose(f) == Z_OK && ok;
}

class IngestE2eTest : public CliTest {
 protected:
  // Starts `infratrail ingest k8s-audit --listen` against `server`; its port.
  int StartWebhook(ServerProcess& server, const std::string& name,
                   std::vector<std::string> extra = {}, int port = 0, bool tls = false) {
    std::vector<std::string> argv = {INFRATRAIL_CLI_BIN,
                                     "ingest",
                                     "k8s-audit",
                                     "--listen",
                                     absl::StrCat("127.0.0.1:", port),
                                     "--server",
                                     server.address(),
                                     "--cluster",
                                     "e2e"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string err = dir_->path() + "/" + name + ".stderr";
    absl::StatusOr<pid_t> pid = SpawnChild(argv, dir_->path() + "/" + name + ".out", err);
    EXPECT_TRUE(pid.ok()) << pid.status();
    webhook_pid_ = pid.value_or(-1);
    // Its stderr names the bound port once it listens.
    const std::string listening =
        absl::StrCat("listening on ", tls ? "https" : "http", "://127.0.0.1:");
    for (int tries = 0; tries < 3000; ++tries) {
      const std::string text = ReadFileOrEmpty(err);
      const size_t at = text.find(listening);
      if (at != std::string::npos) {
        int p = 0;
        const std::string rest = text.substr(at + listening.size());
        if (absl::SimpleAtoi(rest.substr(0, rest.find('/')), &p)) return p;
      }
      if (WaitPid(webhook_pid_, absl::Milliseconds(10)).ok()) break;  // exited
    }
    ADD_FAILURE() << "webhook did not start: " << ReadFileOrEmpty(err);
    return 0;
  }

  void KillWebhook() {
    if (webhook_pid_ <= 0) return;
    kill(webhook_pid_, SIGKILL);
    EXPECT_TRUE(WaitPid(webhook_pid_, absl::Seconds(30)).ok());
    webhook_pid_ = -1;
  }

  void TearDown() override {
    KillWebhook();
    CliTest::TearDown();
  }

  // The first `n` entries of the log, once a checkpoint covers them
  // (entries are served up to the latest checkpoint).
  std::vector<std::string> Entries(ServerProcess& server, uint64_t n) {
    LogClient client(server.address());
    uint64_t size = 0;
    for (int polls = 0; polls < 3000 && size < n; ++polls) {
      std::string note;
      if (client.GetCheckpoint(&note).ok()) {
        const std::vector<std::string> lines = absl::StrSplit(note, '\n');
        if (lines.size() > 1 && absl::SimpleAtoi(lines[1], &size) && size >= n) break;
      }
      absl::SleepFor(absl::Milliseconds(10));  // polling for a condition, bounded
    }
    EXPECT_GE(size, n);
    std::vector<std::string> out;
    EXPECT_TRUE(client.ReadRange(0, n, &out).ok());
    return out;
  }

  // A series of the webhook's /metrics: its value, 0 if absent, -1 if
  // /metrics did not answer.
  double Metric(int port, const std::string& series) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create({});
    if (!fetcher.ok()) return -1;
    absl::StatusOr<HttpResponse> r =
        (*fetcher)->Get(absl::StrCat("http://127.0.0.1:", port, "/metrics"), 1 << 20);
    if (!r.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      double v = 0;
      if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ") &&
          absl::SimpleAtod(line, &v)) {
        return v;
      }
    }
    return 0;
  }

  // Waits until the webhook has read `n` audit records (a POST it took is
  // being processed).
  bool WaitForRecords(int port, double n) {
    for (int polls = 0; polls < 3000; ++polls) {
      if (Metric(port, kRecords) >= n) return true;
      absl::SleepFor(absl::Milliseconds(10));  // polling for a condition, bounded
    }
    return false;
  }

  static constexpr char kRecords[] = "infratrail_ingest_records_total{source=\"k8s-audit\"}";

  pid_t webhook_pid_ = -1;
};

TEST_F(IngestE2eTest, WebhookLogsEveryEventOnceAcrossAKilledWebhook) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  int port = StartWebhook(*server, "webhook1");
  ASSERT_GT(port, 0);
  constexpr int kPosts = 100, kPerPost = 100;
  int retries = 0;
  for (int post = 0; post < kPosts; ++post) {
    const std::string body = EventList(post * kPerPost, kPerPost);
    if (post == 50) {
      // The webhook dies while this POST is in flight: logged or not, the
      // sender gets no answer and must send it again.
      std::thread killer([&] { KillWebhook(); });
      absl::StatusOr<int> lost = HttpPost(port, body);
      killer.join();
      ASSERT_TRUE(!lost.ok() || *lost == 200) << *lost;
      port = StartWebhook(*server, "webhook2", {}, port);  // the same URL
      ASSERT_GT(port, 0);
      ++retries;
    }
    absl::StatusOr<int> code = HttpPost(port, body);
    ASSERT_TRUE(code.ok()) << code.status() << " at POST " << post;
    ASSERT_EQ(*code, 200) << "POST " << post;
  }
  EXPECT_EQ(retries, 1);
  const std::vector<std::string> entries = Entries(*server, kPosts * kPerPost);
  ASSERT_EQ(entries.size(), static_cast<size_t>(kPosts * kPerPost));
  std::set<std::string> ids;
  for (const std::string& e : entries) {
    v1::InfraEvent event;
    ASSERT_TRUE(event.ParseFromString(e));
    ids.insert(event.attributes().at("k8s.audit_id"));
    EXPECT_EQ(event.resource().provider(), "k8s:e2e");
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kPosts * kPerPost));  // each logged once
  // Nothing beyond them.
  LogClient client(server->address());
  std::vector<std::string> more;
  client.GetEntries(kPosts * kPerPost, 1, &more);
  EXPECT_TRUE(more.empty());
}

TEST_F(IngestE2eTest, WebhookAnswers503WhileTheLogIsDown) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string address = server->address();
  const int port = StartWebhook(*server, "webhook", {"--retry-for", "1s", "--timeout", "1s"});
  ASSERT_GT(port, 0);
  ASSERT_EQ(HttpPost(port, EventList(0, 10)).value_or(-1), 200);
  ASSERT_TRUE(server->Terminate().ok());
  EXPECT_EQ(HttpPost(port, EventList(10, 10)).value_or(-1), 503);
  // Garbage is the sender's fault: 400, not a retry.
  EXPECT_EQ(HttpPost(port, "this is not JSON").value_or(-1), 400);
  ServerOptions o = Options();
  o.grpc_addr = address;
  absl::StatusOr<std::unique_ptr<ServerProcess>> again = ServerProcess::Start(dir_->path(), o);
  ASSERT_TRUE(again.ok()) << again.status();
  server = *std::move(again);
  // The sender retries, as the API server does, until the webhook's channel
  // has reconnected.
  int code = 0;
  for (int attempt = 0; attempt < 30 && code != 200; ++attempt) {
    code = HttpPost(port, EventList(10, 10)).value_or(-1);
    ASSERT_TRUE(code == 200 || code == 503) << code;
  }
  EXPECT_EQ(code, 200);
  EXPECT_EQ(Entries(*server, 20).size(), 20u);
}

TEST_F(IngestE2eTest, FileIngestedTwiceIsLoggedOnce) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::string lines;
  for (int i = 0; i < 500; ++i) lines += AuditEvent(i) + "\n";
  lines += "{\"kind\":\"Event\",\"truncated\n";
  const std::string file = Write("audit.log", lines);
  ASSERT_EQ(Cli({"ingest", "k8s-audit", "--server", server->address(), "--cluster", "e2e", "--file",
                 file}),
            0)
      << err_;
  std::vector<std::string> first = Lines(out_);
  ASSERT_EQ(first.size(), 500u);
  const auto line = nlohmann::json::parse(first[7]);
  EXPECT_EQ(line["source_position"], file + ":8");
  EXPECT_FALSE(line["duplicate"].get<bool>());
  EXPECT_TRUE(absl::StrContains(err_, file + ":501: not JSON")) << err_;
  EXPECT_TRUE(absl::StrContains(err_, "501 records: 500 events logged (0 duplicates)")) << err_;
  // Again, from stdin this time: the same events, all duplicates.
  ASSERT_EQ(Cli({"ingest", "k8s-audit", "--server", server->address(), "--cluster", "e2e", "--file",
                 "-", "--strict"}),
            0)
      << err_;
  // (stdin is empty under RunProgram: nothing read, nothing logged.)
  EXPECT_TRUE(Lines(out_).empty());
  ASSERT_EQ(Cli({"ingest", "k8s-audit", "--server", server->address(), "--cluster", "e2e", "--file",
                 file, "--strict"}),
            2);
  // --strict stops at the bad line, after everything before it is sent.
  std::vector<std::string> second = Lines(out_);
  ASSERT_EQ(second.size(), 500u);
  for (size_t i = 0; i < second.size(); ++i) {
    const auto a = nlohmann::json::parse(first[i]), b = nlohmann::json::parse(second[i]);
    EXPECT_EQ(a["index"], b["index"]);
    EXPECT_TRUE(b["duplicate"].get<bool>());
  }
  EXPECT_TRUE(absl::StrContains(err_, file + ":501: not JSON")) << err_;
  EXPECT_TRUE(absl::StrContains(err_, "(--strict)")) << err_;
  EXPECT_EQ(Entries(*server, 500).size(), 500u);
}

// The log indexes of the lines `out` printed, which must all be well formed.
std::vector<uint64_t> Indexes(const std::string& out, size_t* duplicates = nullptr) {
  std::vector<uint64_t> indexes;
  for (const std::string& line : Lines(out)) {
    const auto j = nlohmann::json::parse(line);
    indexes.push_back(j.at("index").get<uint64_t>());
    if (duplicates != nullptr && j.at("duplicate").get<bool>()) ++*duplicates;
  }
  return indexes;
}

TEST_F(IngestE2eTest, BadCloudTrailRecordsAreNamedByPositionAndLoseNothingAroundThem) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  // A 100 MB record: a string value of 100 MB inside an otherwise good record.
  std::string huge = CloudTrailRecord(99, 0);
  huge.insert(huge.size() - 1, absl::StrCat(",\"padding\":\"", std::string(100 << 20, 'x'), "\""));
  const std::string lines = absl::StrCat(
      CloudTrailRecord(1, 0), "\n",                            // 1: logged
      R"({"eventID":"e2e-trunc","eventName":"GetSecr)", "\n",  // 2: truncated
      R"({"eventID":"e2e-type","eventName":5,"eventTime":"2026-11-30T12:00:00Z"})", "\n",  // 3
      R"({"eventID":"e2e-nores","eventName":"PutBucketPolicy","eventSource":"s3.amazonaws.com",)"
      R"("eventTime":"2026-11-30T12:00:00Z","userIdentity":{"type":"Root"}})",
      "\n",                           // 4
      huge, "\n",                     // 5: 100 MB
      CloudTrailRecord(6, 1), "\n",   // 6: two events
      "[1,2\n",                       // 7: broken array
      CloudTrailRecord(8, 2), "\n");  // 8: logged
  const std::string file = Write("trail.jsonl", lines);
  const std::vector<std::string> args = {"ingest",          "cloudtrail", "--server",
                                         server->address(), "--file",     file};
  ASSERT_EQ(Cli(args), 0) << err_.substr(0, 2000);
  std::vector<std::string> out = Lines(out_);
  ASSERT_EQ(out.size(), 4u) << out_;
  const char* const kPositions[] = {":1", ":6:instancesSet[0]", ":6:instancesSet[1]", ":8"};
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(out[i])["source_position"], file + kPositions[i]);
  }
  // Each bad record is named with its line and why, once.
  EXPECT_TRUE(absl::StrContains(err_, file + ":2: not JSON")) << err_;
  EXPECT_TRUE(absl::StrContains(err_, file + ":3: unmapped: eventName: a number, not a string"))
      << err_;
  EXPECT_TRUE(absl::StrContains(err_, file + ":4: unmapped: no resource")) << err_;
  EXPECT_TRUE(absl::StrContains(err_, file + ":5: record longer than 16777216 bytes "
                                             "(--max-record-bytes): skipped"))
      << err_;
  EXPECT_TRUE(absl::StrContains(err_, file + ":7: not JSON")) << err_;
  EXPECT_TRUE(absl::StrContains(
      err_, "8 records: 4 events logged (0 duplicates), 0 skipped, 2 unmapped, 3 unreadable"))
      << err_;
  const std::vector<uint64_t> first = Indexes(out_);
  EXPECT_EQ(std::set<uint64_t>(first.begin(), first.end()), (std::set<uint64_t>{0, 1, 2, 3}));

  // --strict stops at line 2, after line 1 is sent (a duplicate now).
  std::vector<std::string> strict = args;
  strict.push_back("--strict");
  ASSERT_EQ(Cli(strict), 2) << err_;
  size_t duplicates = 0;
  EXPECT_EQ(Indexes(out_, &duplicates), std::vector<uint64_t>{first[0]});
  EXPECT_EQ(duplicates, 1u);
  EXPECT_TRUE(absl::StrContains(err_, file + ":2: not JSON")) << err_;
  EXPECT_FALSE(absl::StrContains(err_, file + ":3:")) << err_;

  // Read again: the same four entries, nothing new.
  ASSERT_EQ(Cli(args), 0) << err_;
  duplicates = 0;
  EXPECT_EQ(Indexes(out_, &duplicates), first);
  EXPECT_EQ(duplicates, 4u);
  EXPECT_TRUE(absl::StrContains(err_, "4 events logged (4 duplicates)")) << err_;
  const std::vector<std::string> entries = Entries(*server, 4);
  ASSERT_EQ(entries.size(), 4u);
  std::vector<std::string> more;
  LogClient(server->address()).GetEntries(4, 1, &more);
  EXPECT_TRUE(more.empty());
}

// Results go to stdout from the sending thread while problems go to stderr
// from the reading one: each result line is printed once and whole.
TEST_F(IngestE2eTest, ResultLinesArePrintedOnceWhileProblemsAreReported) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  constexpr int kEvents = 8000;
  std::string text;
  for (int i = 0; i < kEvents; ++i) {
    absl::StrAppend(&text, CloudTrailRecord(i, 0), "\n", R"({"eventID":"u)", i,
                    R"(","eventName":"StopInstances"})", "\n");
  }
  const std::string file = Write("mixed.jsonl", text);
  ASSERT_EQ(Cli({"ingest", "cloudtrail", "--server", server->address(), "--file", file,
                 "--report-unmapped", "1000000", "--batch", "4", "--linger", "1ms"}),
            0)
      << err_.substr(0, 2000);
  std::set<std::string> positions;
  size_t lines = 0;
  for (const std::string& line : Lines(out_)) {
    ++lines;
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    positions.insert(nlohmann::json::parse(line)["source_position"].get<std::string>());
  }
  EXPECT_EQ(lines, static_cast<size_t>(kEvents));
  EXPECT_EQ(positions.size(), static_cast<size_t>(kEvents));
  EXPECT_TRUE(absl::StrContains(err_, absl::StrCat(kEvents, " unmapped"))) << err_.substr(0, 500);
}

TEST_F(IngestE2eTest, GzipBombEndsTheInputAfterLoggingWhatCameBeforeIt) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  // Three records, then 64 MiB of blank lines (64 KiB gzipped): past
  // --max-decompressed-bytes the input ends, and the second file is still
  // read.
  std::string text;
  for (int i = 0; i < 3; ++i) absl::StrAppend(&text, CloudTrailRecord(i, 0), "\n");
  text.append(64 << 20, '\n');
  absl::StrAppend(&text, CloudTrailRecord(3, 0), "\n");
  const std::string bomb = dir_->path() + "/bomb.json.gz";
  ASSERT_TRUE(WriteGzip(bomb, text));
  const std::string next = dir_->path() + "/next.json.gz";
  ASSERT_TRUE(WriteGzip(next, absl::StrCat(CloudTrailRecord(4, 2), "\n")));
  ASSERT_EQ(Cli({"ingest", "cloudtrail", "--server", server->address(), "--file", bomb, "--file",
                 next, "--max-decompressed-bytes", "16777216"}),
            2)
      << err_;
  const std::vector<std::string> out = Lines(out_);
  ASSERT_EQ(out.size(), 4u) << out_ << err_;
  EXPECT_EQ(nlohmann::json::parse(out[2])["source_position"], bomb + ":3");
  EXPECT_EQ(nlohmann::json::parse(out[3])["source_position"], next + ":1");
  EXPECT_TRUE(absl::StrContains(
      err_, bomb + ": decompresses to more than 16777216 bytes (--max-decompressed-bytes)"))
      << err_;
  EXPECT_TRUE(absl::StrContains(err_, "1 of 2 inputs ended early")) << err_;
  EXPECT_EQ(Entries(*server, 4).size(), 4u);
}

TEST_F(IngestE2eTest, FileIngestKilledMidwayAndRunAgainLogsEveryEventOnce) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  constexpr int kRecords = 20000;  // kind 1 maps to 2 events: 26,667 events
  std::string text;
  int events = 0;
  for (int i = 0; i < kRecords; ++i) {
    absl::StrAppend(&text, CloudTrailRecord(i, i % 3), "\n");
    events += i % 3 == 1 ? 2 : 1;
  }
  const std::string file = Write("trail.jsonl", text);
  const std::vector<std::string> args = {
      INFRATRAIL_CLI_BIN, "ingest", "cloudtrail", "--server", server->address(),
      "--file",           file,     "--batch",    "64"};
  const std::string out1 = dir_->path() + "/killed.out";
  absl::StatusOr<pid_t> pid = SpawnChild(args, out1, dir_->path() + "/killed.err");
  ASSERT_TRUE(pid.ok()) << pid.status();
  // kill -9 once a thousand events are acknowledged, well before the end.
  size_t acknowledged = 0;
  for (int polls = 0; polls < 30000; ++polls) {
    acknowledged = Lines(ReadFileOrEmpty(out1)).size();
    if (acknowledged >= 1000 || WaitPid(*pid, absl::Milliseconds(1)).ok()) break;
  }
  kill(*pid, SIGKILL);
  WaitPid(*pid, absl::Seconds(30)).IgnoreError();
  // The lines printed before the kill (the last may be cut short).
  std::vector<std::string> before = Lines(ReadFileOrEmpty(out1));
  if (!before.empty() && !nlohmann::json::accept(before.back())) before.pop_back();
  ASSERT_GE(before.size(), 1000u);
  ASSERT_LT(before.size(), static_cast<size_t>(events)) << "the run ended before the kill";

  ASSERT_EQ(Cli(std::vector<std::string>(args.begin() + 1, args.end())), 0) << err_;
  size_t duplicates = 0;
  const std::vector<uint64_t> indexes = Indexes(out_, &duplicates);
  ASSERT_EQ(indexes.size(), static_cast<size_t>(events));
  // Everything acknowledged before the kill comes back as a duplicate at the
  // same index; the whole log is exactly the file's events.
  EXPECT_GE(duplicates, before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(before[i])["index"].get<uint64_t>(), indexes[i]) << i;
  }
  const std::set<uint64_t> unique(indexes.begin(), indexes.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(events));
  EXPECT_EQ(*unique.rbegin(), static_cast<uint64_t>(events - 1));
  std::vector<std::string> more;
  const std::vector<std::string> entries = Entries(*server, events);
  ASSERT_EQ(entries.size(), static_cast<size_t>(events));
  std::set<std::string> event_ids;
  for (const std::string& e : entries) {
    v1::InfraEvent event;
    ASSERT_TRUE(event.ParseFromString(e));
    event_ids.insert(event.attributes().at("aws.event_id") +
                     event.resource().id());  // RunInstances gives two per event ID
  }
  EXPECT_EQ(event_ids.size(), static_cast<size_t>(events));
}

// A POST over --max-body-bytes is refused with 413; with every worker busy
// (the log is down and the retry budget long) and as many POSTs waiting,
// the next is answered 503 at once instead of piling up.
TEST_F(IngestE2eTest, WebhookRefusesOversizedBodiesAndSaysBusyInsteadOfQueueing) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = StartWebhook(
      *server, "webhook",
      {"--workers", "1", "--max-body-bytes", "65536", "--retry-for", "120s", "--timeout", "1s"});
  ASSERT_GT(port, 0);
  const std::string big = EventList(0, 200);
  ASSERT_GT(big.size(), 65536u);
  EXPECT_EQ(HttpPost(port, big).value_or(-1), 413);
  EXPECT_EQ(HttpPost(port, "").value_or(-1), 400);  // nothing to log is the sender's error
  EXPECT_EQ(HttpPost(port, " \r\n").value_or(-1), 400);
  EXPECT_EQ(HttpPost(port, "42").value_or(-1), 400);  // JSON, but no audit event
  ASSERT_EQ(HttpPost(port, EventList(0, 10)).value_or(-1), 200);
  ASSERT_TRUE(server->Terminate().ok());

  auto metric = [&](const std::string& series) { return Metric(port, series); };
  ASSERT_EQ(metric(kRecords), 11.0);  // the 10 events and the `42`
  // The one worker takes the first POST and retries against the dead log.
  std::future<absl::StatusOr<int>> held =
      std::async(std::launch::async, [&] { return HttpPost(port, EventList(10, 5)); });
  ASSERT_TRUE(WaitForRecords(port, 16));
  // Of three more, one waits for the worker and two are turned away.
  std::vector<std::future<absl::StatusOr<int>>> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(std::async(std::launch::async,
                              [&, i] { return HttpPost(port, EventList(20 + 5 * i, 5)); }));
  }
  int busy = 0;
  for (int polls = 0; polls < 3000 && busy < 2; ++polls) {
    busy = 0;
    for (auto& f : more) {
      if (f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) ++busy;
    }
    if (busy < 2) absl::SleepFor(absl::Milliseconds(10));  // polling for a condition, bounded
  }
  ASSERT_EQ(busy, 2);
  int answered_503 = 0;
  for (auto& f : more) {
    if (f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      EXPECT_EQ(f.get().value_or(-1), 503);
      ++answered_503;
    }
  }
  EXPECT_EQ(answered_503, 2);
  EXPECT_EQ(metric("infratrail_ingest_webhook_requests_total{code=\"503\"}"), 2.0);
  EXPECT_EQ(metric("infratrail_ingest_webhook_requests_total{code=\"413\"}"), 1.0);
  // Nothing more was read: the waiting POST has not been looked at.
  EXPECT_EQ(metric(kRecords), 16.0);
  KillWebhook();  // the held POSTs end without an answer, as the API server would see
  EXPECT_FALSE(held.get().ok());
  for (auto& f : more) {
    if (f.valid()) {
      EXPECT_FALSE(f.get().ok());
    }
  }
}

// --max-connections bounds what uploads can hold in memory: connections
// past it are closed at accept, counted, and those held are served.
TEST_F(IngestE2eTest, WebhookClosesConnectionsPastMaxConnections) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = StartWebhook(*server, "webhook", {"--max-connections", "2"});
  ASSERT_GT(port, 0);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(ConnectLoopback(port));
  for (int fd : fds) ASSERT_GE(fd, 0);
  // Wait until the webhook has closed three of them (all five then went
  // through accept; the two it holds wait for a request).
  std::vector<bool> closed(fds.size(), false);
  int n_closed = 0;
  for (int polls = 0; polls < 3000 && n_closed < 3; ++polls) {
    n_closed = 0;
    for (size_t i = 0; i < fds.size(); ++i) {
      char c;
      const ssize_t got = recv(fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT);
      closed[i] = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      n_closed += closed[i] ? 1 : 0;
    }
    if (n_closed < 3) absl::SleepFor(absl::Milliseconds(10));  // polling, bounded
  }
  ASSERT_EQ(n_closed, 3);
  int served = 0;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (closed[i]) {
      close(fds[i]);
      continue;
    }
    EXPECT_EQ(HttpPostOn(fds[i], EventList(static_cast<int>(i) * 10, 10)).value_or(-1), 200);
    ++served;
  }
  EXPECT_EQ(served, 2);
  EXPECT_EQ(
      Metric(port, "infratrail_ingest_webhook_connections_closed_total{reason=\"total_cap\"}"),
      3.0);
  EXPECT_EQ(Entries(*server, 20).size(), 20u);
}

// SIGTERM while a POST waits for the log: the webhook turns new POSTs away
// (503), answers the one being processed once its events are logged, and
// only then stops.
TEST_F(IngestE2eTest, WebhookStoppedBySigtermAnswersThePostBeingProcessed) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = StartWebhook(*server, "webhook",
                                {"--workers", "1", "--timeout", "60s", "--retry-for", "60s"});
  ASSERT_GT(port, 0);
  ASSERT_EQ(HttpPost(port, EventList(0, 10)).value_or(-1), 200);
  ASSERT_EQ(kill(server->pid(), SIGSTOP), 0);  // the log hangs, the POST waits
  std::future<absl::StatusOr<int>> held =
      std::async(std::launch::async, [&] { return HttpPost(port, EventList(10, 20)); });
  ASSERT_TRUE(WaitForRecords(port, 30));
  ASSERT_EQ(kill(webhook_pid_, SIGTERM), 0);
  // Once it is stopping, a new POST is turned away to be sent again later.
  int code = 0;
  for (int attempt = 0; attempt < 3000 && code != 503; ++attempt) {
    code = HttpPost(port, EventList(30, 1)).value_or(-1);
    ASSERT_TRUE(code == 503 || code == -1) << code;           // -1: not listening yet/any more
    if (code != 503) absl::SleepFor(absl::Milliseconds(10));  // polling, bounded
  }
  EXPECT_EQ(code, 503);
  ASSERT_EQ(kill(server->pid(), SIGCONT), 0);
  EXPECT_EQ(held.get().value_or(-1), 200);  // answered, not cut off
  absl::StatusOr<int> exit = WaitPid(webhook_pid_, absl::Seconds(60));
  webhook_pid_ = -1;
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
  EXPECT_EQ(Entries(*server, 30).size(), 30u);
}

TEST_F(IngestE2eTest, WebhookOverHttpsLogsWhatIsPostedAndRefusesPlainHttp) {
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  const testutil::SelfSignedCert cert = testutil::MakeSelfSignedCert(dir_->path(), "webhook");
  ASSERT_FALSE(cert.cert_file.empty());
  const int port = StartWebhook(
      *server, "webhook", {"--listen-tls-cert", cert.cert_file, "--listen-tls-key", cert.key_file},
      0, /*tls=*/true);
  ASSERT_GT(port, 0);
  HttpFetcherOptions options;
  options.ca_file = cert.cert_file;  // the API server's kubeconfig names the CA the same way
  absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create(options);
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  absl::StatusOr<HttpResponse> r = (*fetcher)->Post(absl::StrCat("https://127.0.0.1:", port, "/"),
                                                    EventList(0, 50), "application/json", 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body).value("events", -1), 50) << r->body;
  // Plain HTTP to the HTTPS port gets no answer.
  EXPECT_FALSE(HttpPost(port, EventList(50, 1)).ok());
  const std::vector<std::string> entries = Entries(*server, 50);
  ASSERT_EQ(entries.size(), 50u);
  std::set<std::string> audit_ids;
  for (const std::string& e : entries) {
    v1::InfraEvent event;
    ASSERT_TRUE(event.ParseFromString(e));
    audit_ids.insert(event.attributes().at("k8s.audit_id"));
  }
  EXPECT_EQ(audit_ids.size(), 50u);
  EXPECT_TRUE(audit_ids.contains("e2e-000000") && audit_ids.contains("e2e-000049"));
}

TEST_F(IngestE2eTest, DryRunPrintsTheMappedEventsAndSendsNothing) {
  std::string lines;
  for (int i = 0; i < 8; ++i) lines += AuditEvent(i) + "\n";
  const std::string file = Write("audit.log", lines);
  // No server at all: --dry-run does not connect.
  ASSERT_EQ(Cli({"ingest", "k8s-audit", "--dry-run", "--cluster", "e2e", "--file", file}), 0)
      << err_;
  const std::vector<std::string> out = Lines(out_);
  ASSERT_EQ(out.size(), 8u);
  const auto first = nlohmann::json::parse(out[0]);
  EXPECT_EQ(first["source_position"], file + ":1");
  EXPECT_EQ(first["event"]["kind"], "PROVISION");
  EXPECT_EQ(first["event"]["attributes"]["k8s.audit_id"], "e2e-000000");
  EXPECT_TRUE(absl::StrContains(err_, "8 records: 8 events mapped (dry run: nothing sent)"))
      << err_;
  EXPECT_FALSE(absl::StrContains(err_, "logged")) << err_;
}

}  // namespace
}  // namespace infratrail::testing
