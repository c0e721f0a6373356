#include "server/catch_up_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/compact_range.h"
#include "core/hash.h"
#include "core/http/http_fetcher.h"
#include "core/io/file_util.h"
#include "core/tile.h"
#include "core/witness_policy.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "server/command_common.h"
#include "server/exit_codes.h"
#include "server/metrics.h"
#include "server/rocksdb_storage.h"
#include "server/sequencer.h"
#include "server/tile_cache.h"
#include "server/tree_reader.h"

namespace infratrail {
namespace {

constexpr size_t kMaxCheckpointBytes = 1 << 20;
constexpr size_t kMaxBundleBytes = kTileWidth * (kMaxBundleEntrySize + 2);
// Bounds memory against a hostile mirror: at most this many bundles of up
// to kMaxBundleBytes each are held at once (~270 MB; real ones are ~100 KB).
constexpr size_t kBundlesPerRound = 16;
constexpr size_t kEntriesPerCommit = 4096;

// A C2SP tlog-tiles mirror: a base URL or a directory. Reads answer the
// file's bytes, nullopt if it is not there (404), or an error.
class Mirror {
 public:
  static absl::StatusOr<Mirror> Open(const std::string& from, const std::string& ca_file) {
    Mirror m;
    m.base_ = std::string(absl::StripSuffix(from, "/"));
    if (absl::StartsWith(from, "http://") || absl::StartsWith(from, "https://")) {
      HttpFetcherOptions options;
      options.ca_file = ca_file;
      options.user_agent = "infratrail-server catch-up";
      absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(options);
      if (!f.ok()) return f.status();
      m.http_ = std::shared_ptr<HttpFetcher>(std::move(*f));
    }
    return m;
  }

  std::vector<absl::StatusOr<std::optional<std::string>>> Read(
      const std::vector<std::string>& paths, size_t max_bytes) {
    std::vector<absl::StatusOr<std::optional<std::string>>> out;
    if (http_ == nullptr) {
      for (const std::string& p : paths) {
        const std::string file = absl::StrCat(base_, "/", p);
        std::error_code ec;
        if (!std::filesystem::exists(file, ec)) {
          out.emplace_back(std::nullopt);
          continue;
        }
        absl::StatusOr<std::string> bytes = ReadFileBounded(file, max_bytes);
        if (!bytes.ok()) {
          out.emplace_back(bytes.status());
        } else {
          out.emplace_back(std::optional<std::string>(*std::move(bytes)));
        }
      }
      return out;
    }
    std::vector<HttpGet> gets;
    gets.reserve(paths.size());
    for (const std::string& p : paths)
      gets.push_back(HttpGet{absl::StrCat(base_, "/", p), max_bytes});
    // Transport errors and 5xx are retried a few times; a 404 is an answer.
    std::vector<absl::StatusOr<HttpResponse>> got = http_->GetMany(gets);
    for (size_t i = 0; i < got.size(); ++i) {
      for (int attempt = 1; attempt < 3 && Retryable(got[i]); ++attempt) {
        got[i] = http_->Get(gets[i].url, max_bytes);
      }
      if (!got[i].ok()) {
        out.emplace_back(got[i].status());
      } else if (got[i]->status == 404) {
        out.emplace_back(std::nullopt);
      } else if (got[i]->status != 200) {
        out.emplace_back(
            absl::UnavailableError(absl::StrCat("GET ", gets[i].url, ": HTTP ", got[i]->status)));
      } else {
        out.emplace_back(std::optional<std::string>(std::move(got[i]->body)));
      }
    }
    return out;
  }

 private:
  static bool Retryable(const absl::StatusOr<HttpResponse>& r) {
    if (!r.ok()) return absl::IsUnavailable(r.status()) || absl::IsDeadlineExceeded(r.status());
    return r->status >= 500;
  }

  std::string base_;
  std::shared_ptr<HttpFetcher> http_;
};

// Entries staged between the two passes: uint32 big-endian length, bytes.
class StagingFile {
 public:
  explicit StagingFile(std::string path) : path_(std::move(path)) {}
  ~StagingFile() {
    if (f_ != nullptr) std::fclose(f_);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  absl::Status OpenForWrite() { return OpenMode("wb"); }
  absl::Status OpenForRead() { return OpenMode("rb"); }
  absl::Status Append(absl::string_view entry) {
    const uint32_t n = static_cast<uint32_t>(entry.size());
    const unsigned char len[4] = {
        static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
        static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    if (std::fwrite(len, 1, 4, f_) != 4 || std::fwrite(entry.data(), 1, n, f_) != n) {
      return absl::UnavailableError(absl::StrCat("write ", path_, " failed"));
    }
    return absl::OkStatus();
  }
  // The next entry into *out; false at the end.
  absl::StatusOr<bool> Next(std::string* out) {
    unsigned char len[4];
    const size_t got = std::fread(len, 1, 4, f_);
    if (got == 0) return false;
    if (got != 4) return absl::DataLossError(absl::StrCat("read ", path_, ": truncated"));
    const uint32_t n = (uint32_t{len[0]} << 24) | (uint32_t{len[1]} << 16) |
                       (uint32_t{len[2]} << 8) | uint32_t{len[3]};
    out->resize(n);
    if (std::fread(out->data(), 1, n, f_) != n) {
      return absl::DataLossError(absl::StrCat("read ", path_, ": truncated"));
    }
    return true;
  }

 private:
  absl::Status OpenMode(const char* mode) {
    if (f_ != nullptr) std::fclose(f_);
    f_ = std::fopen(path_.c_str(), mode);
    if (f_ == nullptr) return absl::UnavailableError(absl::StrCat("open ", path_, " failed"));
    return absl::OkStatus();
  }
  std::string path_;
  std::FILE* f_ = nullptr;
};

struct Failure {
  int code;
  std::string message;
};

// Pass 1: fetches entries [from, to) into `staging`, appending their leaf
// hashes to `range`.
std::optional<Failure> FetchEntries(Mirror& mirror, uint64_t from, uint64_t to, CompactRange& range,
                                    StagingFile& staging) {
  Hasher hasher;
  const uint64_t first_bundle = from / kTileWidth;
  const uint64_t end_bundle = (to + kTileWidth - 1) / kTileWidth;
  absl::Time next_report = absl::Now() + absl::Seconds(5);
  for (uint64_t k = first_bundle; k < end_bundle; k += kBundlesPerRound) {
    std::vector<TileId> tiles;
    std::vector<std::string> paths;
    for (uint64_t b = k; b < end_bundle && b < k + kBundlesPerRound; ++b) {
      const uint64_t width = std::min<uint64_t>(kTileWidth, to - b * kTileWidth);
      tiles.push_back(TileId{0, b, static_cast<uint32_t>(width), true});
      paths.push_back(tiles.back().Path());
    }
    std::vector<absl::StatusOr<std::optional<std::string>>> got =
        mirror.Read(paths, kMaxBundleBytes);
    for (size_t i = 0; i < tiles.size(); ++i) {
      // A partial bundle may have been replaced by the full one since the
      // mirror's checkpoint: take the full one and use its prefix.
      if (got[i].ok() && !got[i]->has_value() && !tiles[i].IsFull()) {
        TileId full = tiles[i];
        full.width = kTileWidth;
        got[i] = std::move(mirror.Read({full.Path()}, kMaxBundleBytes)[0]);
      }
      if (!got[i].ok()) return Failure{kExitStore, std::string(got[i].status().message())};
      if (!got[i]->has_value()) {
        return Failure{kExitStore, absl::StrCat("mirror has no ", paths[i])};
      }
      absl::StatusOr<std::vector<absl::string_view>> bundle = DecodeEntryBundleViews(**got[i]);
      if (!bundle.ok() || bundle->size() < tiles[i].width) {
        return Failure{
            kExitInconsistent,
            absl::StrCat("mirror's ", paths[i], " is not a bundle of ", tiles[i].width, " entries",
                         bundle.ok() ? "" : absl::StrCat(": ", bundle.status().message()))};
      }
      const uint64_t base = tiles[i].index * kTileWidth;
      for (uint64_t j = std::max(from, base) - base; j < tiles[i].width; ++j) {
        const absl::string_view entry = (*bundle)[j];
        range.AppendLeaf(HashLeaf(entry), hasher, nullptr);
        if (absl::Status st = staging.Append(entry); !st.ok()) {
          return Failure{kExitStore, std::string(st.message())};
        }
      }
    }
    // Progress every 5 s at most, and at the end.
    if (range.end() == to || absl::Now() >= next_report) {
      next_report = absl::Now() + absl::Seconds(5);
      std::cerr << "infratrail-server: catch-up: fetched " << range.end() - from << " of "
                << to - from << " entries\n";
    }
  }
  return std::nullopt;
}

// Pass 2: commits the staged entries through a sequencer, checking that
// each lands at the next index.
std::optional<Failure> CommitEntries(LogStorage& storage, uint64_t from, StagingFile& staging,
                                     TreeHead* head) {
  prometheus::Registry registry;
  Metrics metrics(registry);
  SequencerOptions options;
  options.max_batch_entries = kEntriesPerCommit;
  absl::StatusOr<std::unique_ptr<Sequencer>> seq =
      Sequencer::Start(&storage, options, &metrics, nullptr);
  if (!seq.ok()) return Failure{kExitStore, std::string(seq.status().message())};
  uint64_t next = from;
  for (bool more = true; more;) {
    std::vector<PendingEntry> batch;
    std::string entry;
    while (batch.size() < kEntriesPerCommit) {
      absl::StatusOr<bool> got = staging.Next(&entry);
      if (!got.ok()) return Failure{kExitStore, std::string(got.status().message())};
      if (!*got) {
        more = false;
        break;
      }
      batch.push_back(PendingEntry{entry, HashLeaf(entry)});
    }
    if (batch.empty()) break;
    absl::Notification done;
    absl::Status status;
    std::vector<SequenceResult> results;
    absl::Status queued =
        (*seq)->Add(std::move(batch), [&](absl::Status st, std::vector<SequenceResult> r) {
          status = std::move(st);
          results = std::move(r);
          done.Notify();
        });
    if (!queued.ok()) return Failure{kExitStore, std::string(queued.message())};
    done.WaitForNotification();
    if (!status.ok()) return Failure{kExitStore, std::string(status.message())};
    for (const SequenceResult& r : results) {
      if (r.duplicate || r.index != next) {
        return Failure{kExitInconsistent,
                       absl::StrCat("entry ", next, " of the mirror is a duplicate of entry ",
                                    r.index, "; a log never holds one entry twice")};
      }
      ++next;
    }
  }
  *head = (*seq)->head();
  (*seq)->Stop();
  return std::nullopt;
}

}  // namespace

CLI::App* AddCatchUpCommand(CLI::App& app, CatchUpArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "catch-up",
      "Bring a stopped server's store up to a mirror of the same log (export directory or "
      "tiles URL), verifying every entry against the mirror's signed checkpoint");
  cmd->add_option("--data-dir", args.data_dir, "Data directory (the server must be stopped)")
      ->required();
  cmd->add_option("--from", args.from,
                  "Mirror: http(s)://HOST/PREFIX serving C2SP tlog-tiles, or an export directory")
      ->required();
  cmd->add_option("--log-key", args.log_key, "Log verifier key (or @file)")->required();
  cmd->add_option("--ca-file", args.ca_file, "PEM CA bundle for an https mirror");
  return cmd;
}

int RunCatchUp(const CatchUpArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  auto fail = [](int code, absl::string_view msg) {
    Say(absl::StrCat("catch-up: ", msg));
    return code;
  };
  absl::StatusOr<std::optional<NoteVerifier>> key = ParseLogKeyFlag(args.log_key, "--log-key");
  if (!key.ok()) return fail(kExitUsage, key.status().message());
  if (!key->has_value()) return fail(kExitUsage, "--log-key: empty");
  absl::StatusOr<Mirror> mirror = Mirror::Open(args.from, args.ca_file);
  if (!mirror.ok()) return fail(kExitUsage, mirror.status().message());

  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(
      RocksDbOptions{.path = args.data_dir + "/rocksdb", .create_if_missing = false});
  if (!db.ok()) {
    return fail(kExitStore, absl::StrCat(db.status().message(),
                                         " (the server must be stopped during catch-up)"));
  }
  absl::StatusOr<std::optional<std::string>> identity = (*db)->GetMeta(kMetaLogIdentity);
  if (!identity.ok()) return fail(kExitStore, identity.status().message());
  const std::string vkey_text = (*key)->vkey();
  if (identity->has_value() && **identity != vkey_text) {
    return fail(kExitUsage, absl::StrCat("the data directory belongs to ", **identity,
                                         ", not to --log-key ", vkey_text));
  }
  absl::StatusOr<TreeState> state = (*db)->ReadTreeState();
  if (!state.ok()) return fail(kExitStore, state.status().message());

  std::vector<absl::StatusOr<std::optional<std::string>>> note =
      mirror->Read({"checkpoint"}, kMaxCheckpointBytes);
  if (!note[0].ok()) return fail(kExitStore, note[0].status().message());
  if (!note[0]->has_value()) return fail(kExitStore, "the mirror has no checkpoint");
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(**note[0], **key, WitnessPolicy{});
  if (!cp.ok()) {
    return fail(kExitInconsistent,
                absl::StrCat("the mirror's checkpoint: ", cp.status().message()));
  }
  const uint64_t target = cp->checkpoint.size;
  const Hash& target_root = cp->checkpoint.root;
  nlohmann::json out = {{"catch_up_from", args.from},
                        {"store_size_before", state->size},
                        {"checkpoint_size", target}};

  if (target <= state->size) {
    // Nothing to fetch; the store must still agree with the mirror.
    prometheus::Registry registry;
    Metrics metrics(registry);
    TileCache cache(64 << 20, &metrics);
    TreeReader reader(db->get(), &cache);
    absl::StatusOr<Hash> root = reader.RootAt(target);
    if (!root.ok()) return fail(kExitStore, root.status().message());
    if (*root != target_root) {
      return fail(
          kExitInconsistent,
          absl::StrCat("FORK: the store's tree at size ", target, " has root ", HashToBase64(*root),
                       " but the mirror's signed checkpoint says ", HashToBase64(target_root)));
    }
    out["tree_size"] = state->size;
    out["entries_added"] = 0;
    std::cout << out.dump() << std::endl;
    return kExitOk;
  }

  absl::StatusOr<CompactRange> range = CompactRange::FromHashes(0, state->size, state->right_edge);
  if (!range.ok()) return fail(kExitStore, range.status().message());
  StagingFile staging(args.data_dir + "/catch-up.staging");
  if (absl::Status st = staging.OpenForWrite(); !st.ok()) return fail(kExitStore, st.message());
  if (std::optional<Failure> f = FetchEntries(*mirror, state->size, target, *range, staging)) {
    return fail(f->code, f->message);
  }
  Hasher hasher;
  absl::StatusOr<Hash> fetched_root = range->Root(hasher);
  if (!fetched_root.ok()) return fail(kExitStore, fetched_root.status().message());
  if (*fetched_root != target_root) {
    return fail(kExitInconsistent,
                absl::StrCat("the store's ", state->size, " entries and the mirror's entries [",
                             state->size, ", ", target, ") hash to ", HashToBase64(*fetched_root),
                             ", not to the mirror's signed root ", HashToBase64(target_root),
                             ": the mirror (or this store) is not that log; nothing written"));
  }
  // Every entry is now verified against the signed checkpoint; only now is
  // anything written.
  if (absl::Status st = staging.OpenForRead(); !st.ok()) return fail(kExitStore, st.message());
  TreeHead head;
  if (std::optional<Failure> f = CommitEntries(**db, state->size, staging, &head)) {
    return fail(f->code, f->message);
  }
  if (head.size != target || head.root != target_root) {
    return fail(kExitInconsistent, absl::StrCat("after committing, the store's tree is size ",
                                                head.size, " root ", HashToBase64(head.root)));
  }
  if (!identity->has_value()) {
    if (absl::Status st = (*db)->PutMeta(kMetaLogIdentity, vkey_text); !st.ok()) {
      return fail(kExitStore, st.message());
    }
  }
  out["tree_size"] = head.size;
  out["root"] = HashToBase64(head.root);
  out["entries_added"] = head.size - state->size;
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << out.dump() << std::endl;
  return kExitOk;
}

}  // namespace infratrail
