#include "verifier/monitor/index_keeper.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/compact_range.h"
#include "core/tile.h"

namespace infratrail {

absl::StatusOr<std::shared_ptr<EventIndex>> OpenEventIndex(const std::string& state_dir,
                                                           std::string* note) {
  const std::string dir = absl::StrCat(state_dir, "/index");
  absl::StatusOr<std::unique_ptr<EventIndex>> index = EventIndex::Open(dir);
  if (index.ok()) return std::shared_ptr<EventIndex>(*std::move(index));
  // Derived data: start again rather than refuse to start.
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(dir, ": ", index.status().message(),
                                               "; and it could not be removed: ", ec.message()));
  }
  *note = absl::StrCat(dir, ": ", index.status().message(), "; removed, to be rebuilt");
  index = EventIndex::Open(dir);
  if (!index.ok()) return index.status();
  return std::shared_ptr<EventIndex>(*std::move(index));
}

absl::Status IndexKeeper::Align(uint64_t committed_next) {
  // Behind: what it holds may be the part a rebuild wrote before it died.
  if (index_->next() < committed_next) index_->HideEntries(true);
  if (index_->next() <= committed_next) return absl::OkStatus();
  if (absl::Status s = index_->Truncate(committed_next); !s.ok()) return s;
  return index_->Sync();
}

absl::Status IndexKeeper::Add(uint64_t index, absl::string_view entry, const Hash& leaf) {
  // Below next(): held already. Above: the index is behind, and its
  // rebuild reads the entry again; the audit goes on meanwhile.
  if (index != index_->next()) return absl::OkStatus();
  return index_->Add(index, entry, leaf);
}

absl::Status IndexKeeper::BeforeCommit(const AuditState& audit,
                                       const std::vector<Finding>& findings) {
  if (index_->next() > audit.next) {
    // The audit fell back (its target was a lie): what it read toward it
    // is not verified.
    if (absl::Status s = index_->Truncate(audit.next); !s.ok()) return s;
  }
  if (!findings.empty()) {
    if (absl::Status s = index_->AddFindings(findings); !s.ok()) return s;
  }
  return index_->Sync();
}

IndexKeeper::RebuildResult IndexKeeper::Rebuild(const AuditState& audit, uint64_t size,
                                                LogSource* source, const std::string& origin,
                                                const std::function<bool()>& stop) {
  RebuildResult result;
  // Hidden from the console until the entries read are found to hash to
  // the verified tree: whatever stops the rebuild keeps them hidden.
  index_->HideEntries(true);
  if (absl::Status s = index_->Truncate(0); !s.ok()) {
    result.status = s;
    return result;
  }
  const uint64_t end = audit.next;
  size = std::max(size, end);
  Hasher hasher;
  CompactRange range;
  constexpr size_t kBundlesPerBatch = 16;
  std::vector<TileId> batch;
  for (uint64_t first = 0; first < end;) {
    if (stop && stop()) {
      result.status = absl::CancelledError("stopped while rebuilding the event index");
      return result;
    }
    batch.clear();
    for (uint64_t b = first / kTileWidth; batch.size() < kBundlesPerBatch && b * kTileWidth < end;
         ++b) {
      batch.push_back(
          TileId{.level = 0, .index = b, .width = TileWidthAt(0, b, size), .entries = true});
    }
    std::vector<absl::StatusOr<std::string>> bodies = source->Tiles(batch);
    for (size_t k = 0; k < batch.size(); ++k) {
      const TileId& t = batch[k];
      if (k >= bodies.size() || !bodies[k].ok()) {
        result.status = absl::UnavailableError(
            absl::StrCat("rebuilding the event index: ", t.Path(), ": ",
                         k >= bodies.size() ? "no answer" : bodies[k].status().message()));
        return result;
      }
      absl::StatusOr<std::vector<absl::string_view>> entries = DecodeEntryBundleViews(*bodies[k]);
      if (!entries.ok() || entries->size() != t.width) {
        result.status = absl::UnavailableError(absl::StrCat(
            "rebuilding the event index: ", t.Path(), ": ",
            entries.ok() ? absl::StrCat(entries->size(), " entries, expected ", t.width)
                         : std::string(entries.status().message())));
        return result;
      }
      const uint64_t base = t.index * kTileWidth;
      for (uint64_t j = 0; j < t.width && base + j < end; ++j) {
        const Hash leaf = hasher.HashLeaf((*entries)[j]);
        range.AppendLeaf(leaf, hasher);
        if (absl::Status s = index_->Add(base + j, (*entries)[j], leaf); !s.ok()) {
          result.status = s;
          return result;
        }
      }
      first = base + t.width;
    }
  }
  absl::StatusOr<Hash> rebuilt = range.Root(hasher);
  absl::StatusOr<Hash> verified = audit.range.Root(hasher);
  if (!rebuilt.ok() || !verified.ok() || *rebuilt != *verified) {
    // Not kept: the index holds only what the monitor verified.
    (void)index_->Truncate(0);
    (void)index_->Sync();
    Finding f;
    f.time = absl::Now();
    f.severity = Severity::kCritical;
    f.rule = "log.entries_changed";
    f.origin = origin;
    f.message = absl::StrCat("rebuilding the event index, the log's entries [0, ", end,
                             ") no longer hash to the tree the monitor verified: the log serves "
                             "other entries than it did");
    result.finding = std::move(f);
    return result;
  }
  result.status = index_->Sync();
  if (result.status.ok()) index_->HideEntries(false);
  return result;
}

}  // namespace infratrail
