// `infratrail ingest` end to end against a real server: files ingested
// twice log each event once; the Kubernetes audit webhook logs 10,000
// events from 100 POSTs exactly once, also across a kill -9 of the webhook
// with the sender retrying, and answers 5xx while the log is down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

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

// POSTs `body` to http://127.0.0.1:<port>/ (HTTP/1.1, one request per
// connection): the status code, or Unavailable when no answer came.
absl::StatusOr<int> HttpPost(int port, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval tv{.tv_sec = 90, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
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
