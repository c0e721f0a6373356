// LogClient: the operator's C++ client of an infratrail log's gRPC API.
//
// It adds events (with transparent batching, see BatchWriter), waits for
// inclusion, and fetches checkpoints, entries and proofs. Everything it
// returns that can be verified has been: checkpoints are opened with the
// log's verifier key and witness policy, each new checkpoint is proved
// consistent with the newest one this client verified before, and every
// inclusion or consistency proof is checked against a verified checkpoint
// before it is handed back. A failed check is a VerificationError (see
// IsVerificationError), never retried.
//
// Calls that fail with UNAVAILABLE, RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED
// are retried with exponential backoff and full jitter until the retry
// budget is spent. Retrying an add is safe: the log deduplicates by leaf
// hash, so a resent event comes back as a duplicate with its original
// index.
//
// Several servers (a leader and its standbys, sharing one database): with
// `target` "A,B,C", every call goes to the current server, at first A. A
// call that fails with UNAVAILABLE moves the current server on for every
// thread: to the leader a standby named in its `infratrail-leader` trailer
// when that address is one of the listed ones (retried at once, without a
// backoff sleep, at most once per address in a call, so two standbys
// naming each other cannot loop), else to the next listed server. The
// backoff sleep comes once every listed server has failed in turn. A
// leader that is not listed is never contacted (the token goes only where
// the operator said); the final error names it. Other retried codes stay
// on the same server. Standbys serve reads, verified like any; one that
// lags behind a checkpoint this client verified is asked again (or another
// server is) until it can prove consistency with it.
//
// Thread-safe: one LogClient may be shared by any number of threads.
//
//   LogClientOptions opts;
//   opts.target = "log.example.com:7400";
//   opts.log_key = *NoteVerifier::Parse(vkey);
//   auto client = LogClient::Create(opts);
//   auto results = (*client)->Add({event_bytes}, /*wait=*/true);
//   // results->at(0).receipt is a verified C2SP tlog-proof.
#ifndef INFRATRAIL_CLIENT_LOG_CLIENT_H_
#define INFRATRAIL_CLIENT_LOG_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "core/tlog_proof.h"
#include "core/witness_policy.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail {

struct RetryPolicy {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Total time one call may spend retrying; zero disables retries.
  absl::Duration budget = absl::Seconds(60);
  // Called before each retry's sleep with the error and the sleep (say, to
  // tell a user at a terminal why nothing is happening). May be empty.
  std::function<void(const absl::Status& error, absl::Duration sleep)> on_retry;
};

struct LogClientOptions {
  // "host:port", or any gRPC target name; or several servers of one log,
  // comma-separated ("A,B,C": see above). Blanks around a name are ignored.
  std::string target;

  // Transport. Without `tls`, plaintext (loopback and tests only).
  bool tls = false;
  std::string tls_ca_file;      // PEM roots; empty: the system's roots
  std::string tls_cert_file;    // client certificate chain, for mutual TLS
  std::string tls_key_file;     // its private key
  std::string tls_server_name;  // the name every server's certificate must
                                // carry, when it is not the host in `target`
  std::string token;            // sent as "authorization: Bearer <token>"

  // The log's verifier key. Needed by every call that returns a checkpoint
  // or a proof (FailedPrecondition without it); adds without waiting and
  // GetEntries work without it.
  std::optional<NoteVerifier> log_key;
  WitnessPolicy witness_policy;  // cosignatures a checkpoint must carry

  RetryPolicy retry;
  absl::Duration rpc_timeout = absl::Seconds(30);  // each attempt's deadline
};

// A checkpoint note that verified under the log key and witness policy.
struct SignedCheckpoint {
  std::string note;  // verbatim, with signatures and cosignatures
  VerifiedCheckpoint verified;

  uint64_t size() const { return verified.checkpoint.size; }
  const Hash& root() const { return verified.checkpoint.root; }
};

struct AddResult {
  uint64_t index = 0;
  Hash leaf_hash{};
  // Identical bytes were already in the log (perhaps from an earlier attempt
  // of this same add) at `index`.
  bool duplicate = false;
  // With wait: the verified receipt (the checkpoint that covers the entry and
  // the inclusion proof against it).
  std::optional<TlogProof> receipt;
};

struct EntryAndProof {
  std::string entry;  // the entry bytes, as submitted
  TlogProof receipt;  // verified: its leaf hash is HashLeaf(entry)
};

struct ConsistencyProof {
  uint64_t from_size = 0;
  Hash from_root{};  // the root of the first from_size entries, now proven
  SignedCheckpoint to;
  std::vector<Hash> proof;
};

struct IndexedEntry {
  uint64_t index = 0;
  std::string data;
};

// A failed verification: a wrong signature, an inconsistent checkpoint, a
// proof that does not check out. DataLoss with a payload that
// IsVerificationError recognises.
absl::Status VerificationError(absl::string_view message);
bool IsVerificationError(const absl::Status& status);
// `status` with "<prefix>: " before its message, payloads kept.
absl::Status AnnotateStatus(const absl::Status& status, absl::string_view prefix);

// The servers `target` lists, in order: InvalidArgument naming `target` for
// an empty list or name, or a name given twice.
absl::StatusOr<std::vector<std::string>> SplitLogTarget(absl::string_view target);

// A channel LogClient::Create uses: to `server` (one of SplitLogTarget's),
// over the transport the tls* fields of `options` describe, with the API's
// message limits. InvalidArgument for an unusable combination or an
// unreadable file, naming the field. Does not connect yet.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateLogChannel(const LogClientOptions& options,
                                                                const std::string& server);

class LogClient {
 public:
  // InvalidArgument for unusable options (no target, a bad target list, an
  // unreadable TLS file, a client certificate without its key). Does not
  // connect yet.
  static absl::StatusOr<std::unique_ptr<LogClient>> Create(LogClientOptions options);
  ~LogClient();

  const LogClientOptions& options() const { return options_; }

  // Adds `entries` (serialized InfraEvents; ValidateEntry is checked first,
  // InvalidArgument "entries[i]..." before anything is sent) in one RPC of
  // at most kMaxEntriesPerAdd (proto/limits.h). Results are in input order.
  // With `wait`, returns once a checkpoint covers them, with verified
  // receipts. Retried as described above. For many entries, use BatchWriter.
  absl::StatusOr<std::vector<AddResult>> Add(absl::Span<const std::string> entries, bool wait);

  // The latest checkpoint, verified and proved consistent with the newest
  // this client saw before.
  absl::StatusOr<SignedCheckpoint> GetCheckpoint();
  // The latest checkpoint note as served, unverified (for display when no
  // log key is known).
  absl::StatusOr<std::string> GetCheckpointNote();
  // Verifies a checkpoint note obtained elsewhere (a saved one, a
  // witness's): the log key and witness policy, and consistency with the
  // newest checkpoint this client verified (fetching a proof).
  absl::StatusOr<SignedCheckpoint> VerifyCheckpoint(const std::string& note);
  // The newest checkpoint this client has verified, if any.
  std::optional<SignedCheckpoint> LatestVerified() const;

  // The entry at `index` and its verified receipt against `at` (nullptr:
  // the latest checkpoint). NotFound (from the server) if the entry is not
  // covered by it.
  absl::StatusOr<EntryAndProof> GetEntryAndProof(uint64_t index,
                                                 const SignedCheckpoint* at = nullptr);
  // A verified receipt for the entry with `leaf_hash` against `at`
  // (nullptr: the latest checkpoint).
  absl::StatusOr<TlogProof> ProveLeafHash(const Hash& leaf_hash,
                                          const SignedCheckpoint* at = nullptr);
  // Waits until a checkpoint covers `index`, then returns its verified
  // receipt. DeadlineExceeded after `timeout`, checked between polls (a
  // poll itself may retry an unavailable server within the retry budget).
  absl::StatusOr<TlogProof> WaitForInclusion(uint64_t index, const Hash& leaf_hash,
                                             absl::Duration timeout);

  // The consistency proof from size `from` (>= 1) to `to` (nullptr: the
  // latest checkpoint). The root at `from` is not taken on trust: it is
  // computed from entry from-1's inclusion proof, and the consistency proof
  // binds it to the signed root, so a verified result proves it.
  absl::StatusOr<ConsistencyProof> GetConsistencyProof(uint64_t from,
                                                       const SignedCheckpoint* to = nullptr);
  // Checks that `older` is a prefix of `newer` (both verified checkpoints of
  // this log), fetching the proof. VerificationError if it is not. A server
  // that has not published `newer` yet (a lagging standby: OUT_OF_RANGE) is
  // treated as unavailable: retried, or another server is asked.
  absl::Status CheckConsistent(const SignedCheckpoint& older, const SignedCheckpoint& newer);

  // Entries [start, start+count), in order, passed to `sink` as they
  // arrive; `sink` returning false stops early (OK). Entries are not
  // verified here (a monitor's audit does that); OutOfRange beyond the tree.
  absl::Status GetEntries(uint64_t start, uint64_t count,
                          const std::function<bool(const IndexedEntry&)>& sink);

 private:
  friend class BatchWriter;
  explicit LogClient(LogClientOptions options);

  // Add without the validation (the caller did it).
  absl::StatusOr<std::vector<AddResult>> AddValidated(absl::Span<const std::string> entries,
                                                      bool wait);
  // One of the servers `target` lists.
  struct Server {
    std::string address;
    std::unique_ptr<v1::Log::StubInterface> stub;
  };
  using Attempt = std::function<absl::Status(const Server& server)>;

  // Sets the attempt's deadline and the bearer token.
  void Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const;
  // One unary RPC with retries: each attempt gets a fresh context (deadline,
  // token) and a cleared `resp`; errors name `rpc` and the server.
  template <typename Req, typename Resp>
  absl::Status Call(grpc::Status (v1::Log::StubInterface::*method)(grpc::ClientContext*, const Req&,
                                                                   Resp*),
                    absl::string_view rpc, const Req& req, Resp* resp) {
    return WithRetries([&](const Server& server) {
      grpc::ClientContext ctx;
      Prepare(&ctx, options_.rpc_timeout);
      resp->Clear();
      const grpc::Status st = (server.stub.get()->*method)(&ctx, req, resp);
      return GrpcToStatus(st, rpc, server, ctx);
    });
  }
  // A gRPC status as absl::Status: same code, the message naming `rpc`, the
  // server and the code. The leader an UNAVAILABLE answer's trailer names
  // rides along as a payload that WithRetries takes off.
  static absl::Status GrpcToStatus(const grpc::Status& st, absl::string_view rpc,
                                   const Server& server, const grpc::ClientContext& ctx);

  // Runs `attempt` against the current server until it succeeds, fails for
  // good, or the retry budget is spent, moving between servers as the
  // class comment says.
  absl::Status WithRetries(const Attempt& attempt);
  // The index of the current server.
  size_t Current() const;
  // Makes `to` current, if `from` still is (another thread may have moved
  // on already, and its view is as fresh as ours).
  void MoveOn(size_t from, size_t to);
  // The listed server named `address`, if any.
  std::optional<size_t> Find(absl::string_view address) const;
  // Verifies a note the server sent, and that it is consistent with the
  // newest this client verified; records it as the newest if larger.
  absl::StatusOr<SignedCheckpoint> Adopt(const std::string& note, absl::string_view what);
  absl::StatusOr<TlogProof> MakeReceipt(
      uint64_t index, const Hash& leaf_hash, const SignedCheckpoint& cp,
      const google::protobuf::RepeatedPtrField<std::string>& proof, absl::string_view what);
  absl::Status NeedKey(absl::string_view what) const;

  LogClientOptions options_;
  std::vector<Server> servers_;  // set by Create, then immutable; not empty
  mutable absl::Mutex server_mu_;
  size_t current_ ABSL_GUARDED_BY(server_mu_) = 0;  // into servers_
  mutable absl::Mutex mu_;
  std::optional<SignedCheckpoint> latest_ ABSL_GUARDED_BY(mu_);
  // Roots of sizes already proven consistent with latest_ (so pairwise
  // consistent): a checkpoint matching one needs no new proof. Bounded.
  std::map<uint64_t, Hash> proven_roots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_LOG_CLIENT_H_
