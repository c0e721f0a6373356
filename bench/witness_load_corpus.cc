#include "bench/witness_load_corpus.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/encoding.h"
#include "core/io/file_util.h"
#include "core/node_id.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/proof.h"
#include "nlohmann/json.hpp"

namespace infratrail::witness_load {
namespace {

// Bounds the node hashes setup keeps in memory (64 bytes per leaf: 2 GiB).
constexpr uint64_t kMaxTreeLeaves = uint64_t{1} << 25;

absl::Status ErrnoStatus(absl::string_view op, const std::string& path) {
  return absl::InternalError(absl::StrCat(op, " ", path, ": ", std::strerror(errno)));
}

// Every perfect node of the tree of `size` leaves, level by level, so that
// any consistency proof up to `size` is a plan and a few look-ups.
class Tree {
 public:
  Tree(uint64_t size, Hasher& hasher) {
    levels_.emplace_back();
    levels_[0].reserve(size);
    for (uint64_t i = 0; i < size; ++i) levels_[0].push_back(hasher.HashLeaf(LeafEntry(i)));
    while (levels_.back().size() >= 2) {
      const std::vector<Hash>& below = levels_.back();
      std::vector<Hash> level;
      level.reserve(below.size() / 2);
      for (size_t j = 0; j + 1 < below.size(); j += 2) {
        level.push_back(hasher.HashChildren(below[j], below[j + 1]));
      }
      levels_.push_back(std::move(level));
    }
  }

  uint64_t bytes() const {
    uint64_t n = 0;
    for (const auto& level : levels_) n += level.size() * kHashSize;
    return n;
  }

  absl::StatusOr<Hash> Root(uint64_t size, Hasher& hasher) const {
    std::vector<Hash> hashes;
    for (const NodeId& id : DecomposeRange(0, size)) hashes.push_back(Node(id));
    absl::StatusOr<CompactRange> range = CompactRange::FromHashes(0, size, std::move(hashes));
    if (!range.ok()) return range.status();
    return range->Root(hasher);
  }

  absl::StatusOr<std::vector<Hash>> Consistency(uint64_t size1, uint64_t size2,
                                                Hasher& hasher) const {
    absl::StatusOr<ProofPlan> plan = PlanConsistency(size1, size2);
    if (!plan.ok()) return plan.status();
    std::vector<Hash> fetched;
    fetched.reserve(plan->nodes.size());
    for (const NodeId& id : plan->nodes) fetched.push_back(Node(id));
    return plan->Rehash(fetched, hasher);
  }

 private:
  const Hash& Node(const NodeId& id) const { return levels_[id.level][id.index]; }

  std::vector<std::vector<Hash>> levels_;
};

void AppendRecord(std::string* out, absl::string_view body) {
  AppendUint32BigEndian(out, static_cast<uint32_t>(body.size()));
  out->append(body.data(), body.size());
}

absl::Status WriteWholeFile(const std::string& path, absl::string_view data) {
  FILE* f = std::fopen(path.c_str(), "wbx");
  if (f == nullptr) return ErrnoStatus("create", path);
  const bool wrote = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) return ErrnoStatus("write", path);
  return absl::OkStatus();
}

struct LogJob {
  int index;
  const NoteSigner* signer;
};

// Generates and writes one log's bodies; adds to `stats` (owned by the caller's
// thread). Every proof is checked before it is written.
absl::Status WriteLog(const std::string& dir, const CorpusOptions& options, const Tree& tree,
                      const LogJob& job, Hasher& hasher, SetupStats* stats) {
  std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(job.index));
  std::uniform_int_distribution<int> step(1, options.max_step);
  std::string out;
  uint64_t prev_size = 0;
  Hash prev_root = Hasher::EmptyRoot();
  for (int k = 0; k < options.requests_per_log; ++k) {
    const uint64_t size = k == 0 ? options.start_size : prev_size + step(rng);
    absl::StatusOr<Hash> root = tree.Root(size, hasher);
    if (!root.ok()) return root.status();
    std::string body = absl::StrCat("old ", prev_size, "\n");
    if (k > 0) {
      absl::StatusOr<std::vector<Hash>> proof = tree.Consistency(prev_size, size, hasher);
      if (!proof.ok()) return proof.status();
      absl::Status ok = VerifyConsistency(prev_size, size, prev_root, *root, *proof, hasher);
      if (!ok.ok()) {
        return absl::InternalError(absl::StrCat("setup: log ", job.index, " body ", k,
                                                ": generated proof refused: ", ok.message()));
      }
      for (const Hash& h : *proof) absl::StrAppend(&body, HashToBase64(h), "\n");
      stats->proof_hashes += proof->size();
    }
    body.push_back('\n');
    const Checkpoint checkpoint{LogOrigin(job.index), size, *root, {}};
    absl::StatusOr<std::string> note = SignNote(checkpoint.Body(), {job.signer, 1});
    if (!note.ok()) return note.status();
    body.append(*note);
    AppendRecord(&out, body);
    stats->bodies++;
    stats->body_bytes += body.size();
    prev_size = size;
    prev_root = *root;
  }
  return WriteWholeFile(BodiesPath(dir, job.index), out);
}

absl::Status CheckOptions(const CorpusOptions& o) {
  if (o.logs < 1) return absl::InvalidArgumentError("setup: --logs must be >= 1");
  if (o.requests_per_log < 1) {
    return absl::InvalidArgumentError("setup: --requests-per-log must be >= 1");
  }
  if (o.start_size < 1) return absl::InvalidArgumentError("setup: --start-size must be >= 1");
  if (o.max_step < 1) return absl::InvalidArgumentError("setup: --max-step must be >= 1");
  if (o.threads < 1) return absl::InvalidArgumentError("setup: --threads must be >= 1");
  const uint64_t most = o.start_size + static_cast<uint64_t>(o.requests_per_log) * o.max_step;
  if (o.start_size > kMaxTreeLeaves || most > kMaxTreeLeaves) {
    return absl::InvalidArgumentError(absl::StrCat("setup: --start-size + --requests-per-log * ",
                                                   "--max-step must be <= ", kMaxTreeLeaves));
  }
  return absl::OkStatus();
}

}  // namespace

std::string LogOrigin(int index) { return absl::StrCat("bench.example/log-", index); }

std::string BodiesPath(const std::string& dir, int index) {
  return absl::StrFormat("%s/%s/log-%05d.bin", dir, kBodiesDir, index);
}

std::string LeafEntry(uint64_t index) { return absl::StrCat("leaf ", index); }

absl::StatusOr<SetupStats> WriteCorpus(const std::string& dir, const CorpusOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir) / kBodiesDir, ec);
  if (ec) return absl::InternalError(absl::StrCat("setup: create ", dir, ": ", ec.message()));
  if (std::filesystem::exists(std::filesystem::path(dir) / kManifestFile)) {
    return absl::FailedPreconditionError(absl::StrCat("setup: ", dir, " already holds a corpus"));
  }

  std::vector<NoteSigner> signers;
  std::string logs_txt = "logs/v0\n";
  for (int i = 0; i < options.logs; ++i) {
    absl::StatusOr<NoteSigner> signer = NoteSigner::Generate(LogOrigin(i));
    if (!signer.ok()) return signer.status();
    absl::StrAppend(&logs_txt, "vkey ", signer->VerifierKey(), "\n");
    signers.push_back(*std::move(signer));
  }

  Hasher hasher;
  const Tree tree(
      options.start_size + static_cast<uint64_t>(options.requests_per_log - 1) * options.max_step,
      hasher);

  const int threads = std::min(options.threads, options.logs);
  std::vector<SetupStats> stats(threads);
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Hasher own;
      for (int i = t; i < options.logs && results[t].ok(); i += threads) {
        results[t] = WriteLog(dir, options, tree, {i, &signers[i]}, own, &stats[t]);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  SetupStats total;
  total.tree_bytes = tree.bytes();
  for (int t = 0; t < threads; ++t) {
    if (!results[t].ok()) return results[t];
    total.bodies += stats[t].bodies;
    total.body_bytes += stats[t].body_bytes;
    total.proof_hashes += stats[t].proof_hashes;
  }

  if (absl::Status s = WriteWholeFile(absl::StrCat(dir, "/", kLogsFile), logs_txt); !s.ok()) {
    return s;
  }
  // Written last: its presence says the corpus is complete.
  const nlohmann::ordered_json manifest = {
      {"format", kManifestFormat},
      {"logs", options.logs},
      {"requests_per_log", options.requests_per_log},
      {"start_size", options.start_size},
      {"max_step", options.max_step},
      {"seed", options.seed},
  };
  if (absl::Status s =
          WriteWholeFile(absl::StrCat(dir, "/", kManifestFile), manifest.dump(2) + "\n");
      !s.ok()) {
    return s;
  }
  return total;
}

absl::StatusOr<CorpusOptions> ReadManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFile);
  absl::StatusOr<std::string> text = ReadFileBounded(path, 1 << 16);
  if (!text.ok()) return text.status();
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("format", "") != kManifestFormat) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a ", kManifestFormat, " manifest"));
  }
  CorpusOptions o;
  for (const char* key : {"logs", "requests_per_log", "start_size", "max_step", "seed"}) {
    if (!j.contains(key) || !j[key].is_number_unsigned()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", key, " missing or not a count"));
    }
  }
  o.logs = j["logs"].get<int>();
  o.requests_per_log = j["requests_per_log"].get<int>();
  o.start_size = j["start_size"].get<uint64_t>();
  o.max_step = j["max_step"].get<int>();
  o.seed = j["seed"].get<uint64_t>();
  if (absl::Status s = CheckOptions(o); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return o;
}

absl::StatusOr<std::unique_ptr<BodyFile>> BodyFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    absl::Status s = ErrnoStatus("stat", path);
    ::close(fd);
    return s;
  }
  std::unique_ptr<BodyFile> file(new BodyFile());
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    file->map_ = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file->map_ == MAP_FAILED) {
      file->map_ = nullptr;
      absl::Status s = ErrnoStatus("mmap", path);
      ::close(fd);
      return s;
    }
  }
  ::close(fd);
  const absl::string_view data(static_cast<const char*>(file->map_), file->size_);
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < kLengthPrefixBytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": truncated length at byte ", pos));
    }
    const uint32_t len = ReadUint32BigEndian(data.substr(pos, kLengthPrefixBytes));
    pos += kLengthPrefixBytes;
    if (len == 0 || len > data.size() - pos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": record ", file->bodies_.size(),
                                                     " of ", len, " bytes is truncated"));
    }
    file->bodies_.push_back(data.substr(pos, len));
    pos += len;
  }
  return file;
}

BodyFile::~BodyFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

absl::StatusOr<ParsedBody> ParseBody(absl::string_view body) {
  ParsedBody parsed;
  size_t nl = body.find('\n');
  if (nl == absl::string_view::npos || !absl::StartsWith(body, "old ")) {
    return absl::InvalidArgumentError("body: first line is not \"old <size>\"");
  }
  absl::StatusOr<uint64_t> old = ParseDecimalStrict(body.substr(4, nl - 4), "old size");
  if (!old.ok()) return old.status();
  parsed.old_size = *old;
  size_t pos = nl + 1;
  while (true) {
    nl = body.find('\n', pos);
    if (nl == absl::string_view::npos) return absl::InvalidArgumentError("body: no empty line");
    const absl::string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) break;
    if (parsed.proof.size() == kMaxProofLines) {
      return absl::InvalidArgumentError("body: more than 63 proof lines");
    }
    absl::StatusOr<Hash> h = HashFromBase64(line, "proof line");
    if (!h.ok()) return h.status();
    parsed.proof.push_back(*h);
  }
  parsed.note = body.substr(pos);
  return parsed;
}

}  // namespace infratrail::witness_load
