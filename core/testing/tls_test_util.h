// TLS for transport tests: a self-signed certificate made at test time, and
// a minimal TLS client on one connection that checks the server against it
// and sees the exact bytes the server sends. Header-only and test-only;
// blocking, for loopback servers.
#ifndef INFRATRAIL_CORE_TESTING_TLS_TEST_UTIL_H_
#define INFRATRAIL_CORE_TESTING_TLS_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace infratrail::testutil {

// A temporary directory, removed with its contents.
class TlsTempDir {
 public:
  TlsTempDir() {
    std::string templ = absl::StrCat(::testing::TempDir(), "/infratrail_tls_XXXXXX");
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
    EXPECT_FALSE(path_.empty()) << "mkdtemp " << templ;
  }
  ~TlsTempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TlsTempDir(const TlsTempDir&) = delete;
  TlsTempDir& operator=(const TlsTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An EC P-256 key and a self-signed certificate for it, valid now, with
// subjectAltName IP:127.0.0.1 (so it is its own CA for a client of
// 127.0.0.1), each written as PEM: `cert_file`, `key_file` (PKCS#8).
struct SelfSignedCert {
  std::string cert_file;
  std::string key_file;
};

inline bool WritePem(const std::string& path, bool (*write)(BIO*, void*), void* object) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  if (bio == nullptr) return false;
  const bool ok = write(bio, object);
  BIO_free(bio);
  return ok;
}

// Empty names on failure (a test's ASSERT catches them).
inline SelfSignedCert MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;
  KeyPtr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  CertPtr cert(X509_new(), &X509_free);
  if (key == nullptr || cert == nullptr) return {};
  X509* x = cert.get();
  bool ok = X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600) != nullptr &&
            X509_set_pubkey(x, key.get()) == 1;
  X509_NAME* subject = X509_get_subject_name(x);
  ok = ok &&
       X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>("infratrail test"), -1, -1,
                                  0) == 1 &&
       X509_set_issuer_name(x, subject) == 1;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
      {NID_subject_key_identifier, "hash"},
      {NID_subject_alt_name, "IP:127.0.0.1"},
  };
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ok = ok && ext != nullptr && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
  }
  ok = ok && X509_sign(x, key.get(), EVP_sha256()) > 0;
  SelfSignedCert out{absl::StrCat(dir, "/", name, ".crt"), absl::StrCat(dir, "/", name, ".key")};
  ok = ok &&
       WritePem(
           out.cert_file,
           [](BIO* b, void* c) { return PEM_write_bio_X509(b, static_cast<X509*>(c)) == 1; }, x) &&
       WritePem(
           out.key_file,
           [](BIO* b, void* k) {
             return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0,
                                             nullptr, nullptr) == 1;
           },
           key.get());
  return ok ? out : SelfSignedCert{};
}

// One TLS connection to 127.0.0.1:`port`, the server checked against the
// CA file (name: 127.0.0.1). ok() once the handshake succeeded.
class TlsTestConnection {
 public:
  // `rcvbuf`: as HttpTestConnection's (a small window holds the server's
  // sender when the client stops reading).
  TlsTestConnection(int port, const std::string& ca_file, int rcvbuf = 0) {
    // OpenSSL writes with write(2): a server that closed the connection
    // (a refusal at accept) must fail the write, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
    SetReadTimeout(absl::Seconds(10));
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
      return;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1") != 1) {
      return;
    }
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsTestConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }
  TlsTestConnection(const TlsTestConnection&) = delete;
  TlsTestConnection& operator=(const TlsTestConnection&) = delete;

  bool ok() const { return ok_; }

  bool Write(absl::string_view bytes) {
    return ok_ && SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
                      static_cast<int>(bytes.size());
  }

  // Reads until `want` is among the bytes read, or the server closes the
  // connection (close_notify, end of stream or reset), or `timeout`
  // passes; everything read so far is kept (received()). True if `want`
  // arrived.
  bool ReadUntil(absl::string_view want, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!absl::StrContains(received_, want)) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // Waits up to `timeout` for the server to close the connection,
  // consuming anything it sends meanwhile.
  bool ClosedByServer(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (ReadSome(deadline)) {
    }
    return closed_;
  }

  const std::string& received() const { return received_; }

 private:
  void SetReadTimeout(absl::Duration d) {
    timeval tv = absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  // False when the connection ended (closed_) or the deadline passed.
  bool ReadSome(absl::Time deadline) {
    if (!ok_ || closed_) return false;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    SetReadTimeout(left);
    char chunk[65536];
    const int n = SSL_read(ssl_, chunk, sizeof(chunk));
    if (n > 0) {
      received_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    const int saved_errno = errno;
    const int error = SSL_get_error(ssl_, n);
    // SO_RCVTIMEO ran out: a retryable read to OpenSSL.
    const bool timed_out =
        error == SSL_ERROR_WANT_READ ||
        (error == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK));
    ERR_clear_error();
    if (timed_out) return false;
    closed_ = true;  // close_notify, end of stream, reset
    return false;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  bool closed_ = false;
  std::string received_;
};

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_CORE_TESTING_TLS_TEST_UTIL_H_
