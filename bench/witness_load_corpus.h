// The request corpus of infratrail-witness-load: C2SP tlog-witness
// add-checkpoint bodies for many logs, generated once (setup), checked
// (verify) and replayed by the load generator (run), so that signing and
// proof building are never part of what a run measures.
//
// Directory layout (docs/benchmarks.md, "Witness add-checkpoint"):
//   setup.json            the parameters below, as JSON
//   logs.txt              "logs/v0\n" then "vkey <verifier key>\n" per log
//   bodies/log-NNNNN.bin  log NNNNN's bodies in send order, each as a 4-byte
//                         big-endian length followed by that many bytes
// Log i signs as "bench.example/log-<i>". Body 0 is "old 0\n\n" + the signed
// checkpoint of size start_size; body k > 0 is "old <size k-1>\n" + the RFC
// 6962 consistency proof from size k-1 to size k (one base64 hash a line) +
// "\n" + the signed checkpoint of size k. Sizes grow by 1..max_step. Every log
// shares one leaf sequence: leaf i is the leaf hash of the entry "leaf <i>".
#ifndef INFRATRAIL_BENCH_WITNESS_LOAD_CORPUS_H_
#define INFRATRAIL_BENCH_WITNESS_LOAD_CORPUS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/hash.h"

namespace infratrail::witness_load {

inline constexpr char kManifestFile[] = "setup.json";
inline constexpr char kLogsFile[] = "logs.txt";
inline constexpr char kBodiesDir[] = "bodies";
inline constexpr char kManifestFormat[] = "infratrail-witness-load/v1";
inline constexpr size_t kLengthPrefixBytes = 4;
// tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
inline constexpr size_t kMaxProofLines = 63;

struct CorpusOptions {
  int logs = 100;
  int requests_per_log = 1000;
  uint64_t start_size = uint64_t{1} << 20;
  int max_step = 64;
  uint64_t seed = 1;  // the size steps; keys are always fresh
  int threads = 2;    // setup only
};

// The origin (and key name) of log `index`.
std::string LogOrigin(int index);
// "<dir>/bodies/log-NNNNN.bin".
std::string BodiesPath(const std::string& dir, int index);
// The entry whose leaf hash is leaf `index` of every log.
std::string LeafEntry(uint64_t index);

struct SetupStats {
  uint64_t bodies = 0;
  uint64_t body_bytes = 0;
  uint64_t proof_hashes = 0;
  uint64_t tree_bytes = 0;  // the node hashes kept while generating
};

// Creates `dir` (which must not hold a corpus yet) and writes a corpus. Fresh
// log keys every time. Errors name the file or the failed check; a generated
// proof that VerifyConsistency refuses is Internal (a bug here, never input).
absl::StatusOr<SetupStats> WriteCorpus(const std::string& dir, const CorpusOptions& options);

// Reads setup.json back (threads is left at its default).
absl::StatusOr<CorpusOptions> ReadManifest(const std::string& dir);

// One log's bodies, memory-mapped read-only; views stay valid for the
// object's lifetime. Not copyable.
class BodyFile {
 public:
  // InvalidArgument "<path>: ..." if a record is truncated or empty.
  static absl::StatusOr<std::unique_ptr<BodyFile>> Open(const std::string& path);
  ~BodyFile();
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;

  const std::vector<absl::string_view>& bodies() const { return bodies_; }
  size_t bytes() const { return size_; }

 private:
  BodyFile() = default;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::vector<absl::string_view> bodies_;
};

// An add-checkpoint body split into its parts (the format only; nothing is
// verified). InvalidArgument naming the bad line.
struct ParsedBody {
  uint64_t old_size = 0;
  std::vector<Hash> proof;
  absl::string_view note;  // the signed checkpoint, a view into the body
};
absl::StatusOr<ParsedBody> ParseBody(absl::string_view body);

struct VerifyStats {
  uint64_t bodies = 0;
  uint64_t body_bytes = 0;
};

// Re-checks a whole corpus as a witness would, and more: every checkpoint's
// signature against logs.txt, its origin, the old size chain from 0, the step
// bounds, every consistency proof, and the first root against the tree
// rebuilt from the leaf sequence. FailedPrecondition "log <i> body <k>: ..."
// at the first bad body; file errors name the file.
absl::StatusOr<VerifyStats> VerifyCorpus(const std::string& dir);

}  // namespace infratrail::witness_load

#endif  // INFRATRAIL_BENCH_WITNESS_LOAD_CORPUS_H_
