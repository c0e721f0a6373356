// End-to-end tests of mutual-TLS writer authentication against a real
// infratrail-server: the server serves TLS, verifies client certificates
// against a CA, and lets only certificates naming an allowlisted identity
// (subject CN or a SAN) append. Readers need no certificate.
//
// The PKI is made per test with the openssl CLI, in the test's temporary
// directory.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

using grpc::StatusCode;

// The name on the server's certificate (it also carries IP:127.0.0.1).
constexpr char kServerName[] = "localhost";
constexpr char kWriterIdentity[] = "writer.example";  // allowlisted, as the CN
constexpr char kCiIdentity[] = "ci.example";          // allowlisted, as a SAN

// A certificate and its private key, PEM.
struct CertAndKey {
  std::string cert_file;
  std::string key_file;
  std::string cert;
  std::string key;
};

// Makes CAs and certificates with the openssl CLI, in one directory. Every
// key is P-256. Each step returns Internal with openssl's stderr on failure.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  // A self-signed CA certificate with subject CN `cn`.
  absl::StatusOr<CertAndKey> MakeCa(const std::string& name, const std::string& cn) {
    const std::string ext = Path(name + ".ext");
    std::ofstream(ext) << "[req]\ndistinguished_name = dn\n[dn]\n"
                       << "[ca]\nbasicConstraints = critical,CA:TRUE\n"
                       << "keyUsage = critical,keyCertSign,cRLSign\n"
                       << "subjectKeyIdentifier = hash\n";
    CertAndKey ca{Path(name + ".pem"), Path(name + ".key"), "", ""};
    if (absl::Status st = Run(name, {"req",
                                     "-x509",
                                     "-new",
                                     "-config",
                                     ext,
                                     "-extensions",
                                     "ca",
                                     "-newkey",
                                     "ec",
                                     "-pkeyopt",
                                     "ec_paramgen_curve:P-256",
                                     "-nodes",
                                     "-keyout",
                                     ca.key_file,
                                     "-out",
                                     ca.cert_file,
                                     "-days",
                                     "2",
                                     "-subj",
                                     "/CN=" + cn});
        !st.ok()) {
      return st;
    }
    return Load(std::move(ca));
  }

  // A certificate for subject CN `cn` signed by `ca`, with the extension
  // lines `extensions` (openssl x509v3_config syntax).
  absl::StatusOr<CertAndKey> Issue(const CertAndKey& ca, const std::string& name,
                                   const std::string& cn, const std::string& extensions) {
    const std::string ext = Path(name + ".ext");
    std::ofstream(ext) << "[req]\ndistinguished_name = dn\n[dn]\n"
                       << "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                       << "keyUsage = critical,digitalSignature\n"
                       << "authorityKeyIdentifier = keyid\n"
                       << extensions;
    const std::string csr = Path(name + ".csr");
    CertAndKey leaf{Path(name + ".pem"), Path(name + ".key"), "", ""};
    if (absl::Status st = Run(name, {"req", "-new", "-config", ext, "-newkey", "ec", "-pkeyopt",
                                     "ec_paramgen_curve:P-256", "-nodes", "-keyout", leaf.key_file,
                                     "-out", csr, "-subj", "/CN=" + cn});
        !st.ok()) {
      return st;
    }
    if (absl::Status st =
            Run(name, {"x509", "-req", "-in", csr, "-CA", ca.cert_file, "-CAkey", ca.key_file,
                       "-set_serial", absl::StrCat(++serial_), "-days", "2", "-extfile", ext,
                       "-extensions", "leaf", "-out", leaf.cert_file});
        !st.ok()) {
      return st;
    }
    return Load(std::move(leaf));
  }

 private:
  std::string Path(const std::string& file) const { return absl::StrCat(dir_, "/", file); }

  absl::Status Run(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), OPENSSL_CLI);
    const std::string err = Path(name + ".openssl.err");
    absl::StatusOr<int> rc = RunProgram(args, Path(name + ".openssl.out"), err);
    if (!rc.ok()) return rc.status();
    if (*rc != 0) {
      return absl::InternalError(absl::StrCat("openssl ", args[1], " for ", name, " exited ", *rc,
                                              ": ", ReadFileOrEmpty(err)));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<CertAndKey> Load(CertAndKey c) {
    c.cert = ReadFileOrEmpty(c.cert_file);
    c.key = ReadFileOrEmpty(c.key_file);
    if (c.cert.empty() || c.key.empty()) {
      return absl::InternalError(
          absl::StrCat("openssl wrote no ", c.cert_file, " or ", c.key_file));
    }
    return c;
  }

  const std::string dir_;
  int serial_ = 0;
};

// *out = *value, or a fatal failure; wrap in ASSERT_NO_FATAL_FAILURE.
void AssignOrFail(absl::StatusOr<CertAndKey> value, CertAndKey* out) {
  ASSERT_TRUE(value.ok()) << value.status();
  *out = std::move(*value);
}

class ServerTlsTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    Pki pki(dir_->path());
    ASSERT_NO_FATAL_FAILURE(AssignOrFail(pki.MakeCa("ca", "infratrail test CA"), &ca_));
    ASSERT_NO_FATAL_FAILURE(AssignOrFail(pki.Issue(ca_, "server", kServerName,
                                                   "extendedKeyUsage = serverAuth\n"
                                                   "subjectAltName = DNS:localhost,IP:127.0.0.1\n"),
                                         &server_cert_));
    const std::string client = "extendedKeyUsage = clientAuth\n";
    ASSERT_NO_FATAL_FAILURE(
        AssignOrFail(pki.Issue(ca_, "writer", kWriterIdentity, client), &writer_));
    // Allowlisted only through its SAN: its CN is not on the list.
    ASSERT_NO_FATAL_FAILURE(AssignOrFail(
        pki.Issue(ca_, "ci", "other", client + "subjectAltName = DNS:" + kCiIdentity + "\n"),
        &ci_));
    ASSERT_NO_FATAL_FAILURE(
        AssignOrFail(pki.Issue(ca_, "intruder", "intruder.example",
                               client + "subjectAltName = DNS:intruder.example\n"),
                     &intruder_));
    // Names an allowlisted identity, but no CA the server trusts signed it.
    CertAndKey rogue_ca;
    ASSERT_NO_FATAL_FAILURE(AssignOrFail(pki.MakeCa("rogue-ca", "infratrail test CA"), &rogue_ca));
    ASSERT_NO_FATAL_FAILURE(
        AssignOrFail(pki.Issue(rogue_ca, "rogue", kWriterIdentity,
                               client + "subjectAltName = DNS:" + kCiIdentity + "\n"),
                     &rogue_));
  }

  std::vector<std::string> TlsArgs() const {
    return {"--tls-cert",        server_cert_.cert_file,
            "--tls-key",         server_cert_.key_file,
            "--tls-client-ca",   ca_.cert_file,
            "--writer-identity", kWriterIdentity,
            "--writer-identity", kCiIdentity};
  }

  // A TLS client that trusts the test CA and presents `cert`, or no
  // certificate if null.
  std::unique_ptr<LogClient> TlsClient(const ServerProcess& server, const CertAndKey* cert) const {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ca_.cert;
    if (cert != nullptr) {
      opts.pem_private_key = cert->key;
      opts.pem_cert_chain = cert->cert;
    }
    return std::make_unique<LogClient>(server.address(), grpc::SslCredentials(opts), kServerName);
  }

  // Appends a fresh event as `writer` with wait_for_checkpoint (so the
  // checkpoint covers everything sequenced before, refused calls included),
  // adds it to `authorised`, and checks through `reader` that the log holds
  // exactly `authorised`, in order.
  void ExpectLogHoldsOnly(LogClient& writer, LogClient& reader,
                          std::vector<std::string>& authorised) {
    const std::string fence = MakeEvent();
    v1::AddEventsResponse resp;
    grpc::Status st = writer.AddEvents({fence}, true, &resp);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    authorised.push_back(fence);
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(resp.checkpoint(), vkey());
    ASSERT_TRUE(cp.ok()) << cp.status();
    EXPECT_EQ(cp->size, authorised.size());

    std::string note;
    ASSERT_TRUE(reader.GetCheckpoint(&note).ok());
    absl::StatusOr<Checkpoint> latest = OpenLogCheckpoint(note, vkey());
    ASSERT_TRUE(latest.ok()) << latest.status();
    EXPECT_EQ(latest->size, authorised.size());
    std::vector<std::string> entries;
    st = reader.ReadRange(0, latest->size, &entries);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    EXPECT_EQ(entries, authorised);
    EXPECT_EQ(RootOfEntries(entries), latest->root);
  }

  CertAndKey ca_;
  CertAndKey server_cert_;
  CertAndKey writer_;
  CertAndKey ci_;
  CertAndKey intruder_;
  CertAndKey rogue_;
};

TEST_F(ServerTlsTest, ReadsNeedNoCertificateWritesDo) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<LogClient> reader = TlsClient(*server, nullptr);
  std::string note;
  grpc::Status st = reader->GetCheckpoint(&note);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 0u);

  v1::AddEventsResponse resp;
  EXPECT_TRUE(IsError(reader->AddEvents({MakeEvent()}, false, &resp), StatusCode::UNAUTHENTICATED,
                      "credentials"));
  EXPECT_TRUE(IsError(reader->AddEvents(MakeEvents(3), true, &resp), StatusCode::UNAUTHENTICATED,
                      "credentials"));
  // Over TLS too, refused from the metadata, before the message is read.
  absl::StatusOr<std::string> metrics = HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_NE(metrics->find("infratrail_grpc_writes_refused_before_read_total 2"), std::string::npos);

  std::vector<std::string> authorised;
  std::unique_ptr<LogClient> writer = TlsClient(*server, &writer_);
  ExpectLogHoldsOnly(*writer, *reader, authorised);
}

TEST_F(ServerTlsTest, AllowlistedCommonNameOrSanMayWrite) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  std::vector<std::string> authorised;
  v1::AddEventsResponse resp;

  std::unique_ptr<LogClient> by_cn = TlsClient(*server, &writer_);
  const std::vector<std::string> first = MakeEvents(3);
  grpc::Status st = by_cn->AddEvents(first, false, &resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  ASSERT_EQ(resp.entries_size(), 3);
  EXPECT_EQ(resp.entries(0).index(), 0u);
  authorised.insert(authorised.end(), first.begin(), first.end());

  std::unique_ptr<LogClient> by_san = TlsClient(*server, &ci_);
  const std::vector<std::string> second = MakeEvents(2);
  st = by_san->AddEvents(second, false, &resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  ASSERT_EQ(resp.entries_size(), 2);
  EXPECT_EQ(resp.entries(0).index(), 3u);
  authorised.insert(authorised.end(), second.begin(), second.end());

  std::unique_ptr<LogClient> reader = TlsClient(*server, nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectLogHoldsOnly(*by_san, *reader, authorised));
  ExpectLogHoldsOnly(*by_cn, *reader, authorised);
}

TEST_F(ServerTlsTest, VerifiedCertificateNotOnTheAllowlistIsDenied) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<LogClient> intruder = TlsClient(*server, &intruder_);
  v1::AddEventsResponse resp;
  EXPECT_TRUE(IsError(intruder->AddEvents({MakeEvent()}, false, &resp),
                      StatusCode::PERMISSION_DENIED, "not allowed"));
  EXPECT_TRUE(IsError(intruder->AddEvents(MakeEvents(2), true, &resp),
                      StatusCode::PERMISSION_DENIED, "not allowed"));
  // Its certificate verifies, so it may still read.
  std::string note;
  EXPECT_TRUE(intruder->GetCheckpoint(&note).ok());

  std::vector<std::string> authorised;
  std::unique_ptr<LogClient> writer = TlsClient(*server, &writer_);
  ExpectLogHoldsOnly(*writer, *intruder, authorised);
}

TEST_F(ServerTlsTest, CertificateFromAnotherCaIsRejectedInTheHandshake) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<LogClient> rogue = TlsClient(*server, &rogue_);
  v1::AddEventsResponse resp;
  grpc::Status st = rogue->AddEvents({MakeEvent()}, false, &resp);
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();
  st = rogue->AddEvents(MakeEvents(2), true, &resp);
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();
  std::string note;
  st = rogue->GetCheckpoint(&note);
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();

  std::vector<std::string> authorised;
  std::unique_ptr<LogClient> writer = TlsClient(*server, &writer_);
  std::unique_ptr<LogClient> reader = TlsClient(*server, nullptr);
  ExpectLogHoldsOnly(*writer, *reader, authorised);
}

TEST_F(ServerTlsTest, PlaintextClientIsRefused) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  LogClient plaintext(server->address());
  std::string note;
  grpc::Status st = plaintext.GetCheckpoint(&note);
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();
  v1::AddEventsResponse resp;
  st = plaintext.AddEvents({MakeEvent()}, false, &resp);
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();

  std::vector<std::string> authorised;
  std::unique_ptr<LogClient> writer = TlsClient(*server, &writer_);
  std::unique_ptr<LogClient> reader = TlsClient(*server, nullptr);
  ExpectLogHoldsOnly(*writer, *reader, authorised);
}

TEST_F(ServerTlsTest, WriterIdentityWithoutClientCaIsAUsageError) {
  for (const bool serve_tls : {false, true}) {
    SCOPED_TRACE(serve_tls ? "with --tls-cert/--tls-key" : "plaintext");
    std::vector<std::string> args = {"--writer-identity", kWriterIdentity};
    if (serve_tls) {
      args.insert(args.end(),
                  {"--tls-cert", server_cert_.cert_file, "--tls-key", server_cert_.key_file});
    }
    absl::StatusOr<std::unique_ptr<ServerProcess>> p =
        ServerProcess::Spawn(dir_->path(), Options(args));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->WaitExit(absl::Seconds(30)).value_or(-1), 2);
    const std::string stderr_text = (*p)->Stderr();
    EXPECT_NE(stderr_text.find("needs --tls-client-ca"), std::string::npos) << stderr_text;
  }
}

TEST_F(ServerTlsTest, ClientCaWithoutWriterIdentityIsAUsageError) {
  // A CA with nobody allowed to write would leave writes open to everyone.
  absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Spawn(
      dir_->path(), Options({"--tls-cert", server_cert_.cert_file, "--tls-key",
                             server_cert_.key_file, "--tls-client-ca", ca_.cert_file}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->WaitExit(absl::Seconds(30)).value_or(-1), 2);
  const std::string stderr_text = (*p)->Stderr();
  EXPECT_NE(stderr_text.find("needs at least one --writer-identity"), std::string::npos)
      << stderr_text;
}

// The infratrail CLI over mutual TLS: an allowlisted certificate writes and
// gets verified receipts; a certificate the server does not allow cannot,
// and the CLI says so with exit 3 (a server refusal), adding nothing.
TEST_F(ServerTlsTest, TheCliWritesOverMutualTlsOnlyWithAnAllowedCertificate) {
  auto server = StartServer(TlsArgs());
  ASSERT_NE(server, nullptr);
  const std::string vkey_file = dir_->path() + "/log.vkey";
  std::ofstream(vkey_file) << vkey() << "\n";
  auto cli = [&](const CertAndKey& cert, const std::string& id) {
    const std::string out = dir_->path() + "/cli-" + id + ".out";
    absl::StatusOr<int> rc = RunProgram({INFRATRAIL_CLI_BIN,
                                         "add",
                                         "--server",
                                         server->address(),
                                         "--tls-ca",
                                         ca_.cert_file,
                                         "--tls-cert",
                                         cert.cert_file,
                                         "--tls-key",
                                         cert.key_file,
                                         "--tls-server-name",
                                         kServerName,
                                         "--retry-for",
                                         "0",
                                         "--kind",
                                         "access",
                                         "--resource-id",
                                         "db-" + id,
                                         "--wait",
                                         "--log-key",
                                         "@" + vkey_file},
                                        out, dir_->path() + "/cli-" + id + ".err");
    return rc.value_or(-1);
  };
  EXPECT_EQ(cli(writer_, "writer"), 0) << ReadFileOrEmpty(dir_->path() + "/cli-writer.err");
  EXPECT_NE(ReadFileOrEmpty(dir_->path() + "/cli-writer.out").find("\"index\":0"),
            std::string::npos);
  EXPECT_EQ(cli(intruder_, "intruder"), 3);
  EXPECT_NE(ReadFileOrEmpty(dir_->path() + "/cli-intruder.err").find("PERMISSION_DENIED"),
            std::string::npos)
      << ReadFileOrEmpty(dir_->path() + "/cli-intruder.err");
  // Reads through the CLI need no client certificate.
  const std::string out = dir_->path() + "/checkpoint.out";
  absl::StatusOr<int> rc =
      RunProgram({INFRATRAIL_CLI_BIN, "checkpoint", "--server", server->address(), "--tls-ca",
                  ca_.cert_file, "--tls-server-name", kServerName, "--log-key", "@" + vkey_file},
                 out, dir_->path() + "/checkpoint.err");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << ReadFileOrEmpty(dir_->path() + "/checkpoint.err");
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(ReadFileOrEmpty(out), vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 1u);
}

}  // namespace
}  // namespace infratrail::testing
