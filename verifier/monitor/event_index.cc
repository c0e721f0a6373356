#include "verifier/monitor/event_index.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/encoding.h"
#include "core/io/rocksdb_util.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/monitor/event_index_format.h"

namespace infratrail {

namespace ix = event_index;

namespace {

// Entries deleted per batch by Truncate.
constexpr uint64_t kTruncateChunk = 4096;

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// The posting keys of an entry; each maps to its fingerprint.
std::vector<std::string> PostingKeys(const IndexedEvent& e) {
  std::vector<std::string> keys = {ix::PostingKey(ix::AllPrefix(), e.index)};
  if (!e.parsed) return keys;
  if (!e.resource_id.empty())
    keys.push_back(ix::PostingKey(ix::ResourcePrefix(e.resource_id), e.index));
  if (!e.actor.empty()) keys.push_back(ix::PostingKey(ix::ActorPrefix(e.actor), e.index));
  keys.push_back(ix::PostingKey(ix::KindPrefix(e.kind), e.index));
  return keys;
}

rocksdb::ColumnFamilyOptions TableOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                          size_t block_size, size_t write_buffer) {
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = block_size;
  // Index and filter blocks live in the cache too, so it bounds them.
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  cf.write_buffer_size = write_buffer;
  cf.max_write_buffer_number = 2;
  cf.level_compaction_dynamic_level_bytes = true;
  // LZ4 on every level. Debian's RocksDB has ZSTD too, but as the
  // bottommost compression (where dynamic level sizing puts nearly all the
  // data) it took half of the compaction threads' CPU: the 10^6-event
  // benchmark built at 0.7x the speed for 15 % less disk, and reads
  // decompress slower (docs/event_index.md).
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType c) {
    return std::find(supported.begin(), supported.end(), c) != supported.end();
  };
  cf.compression = has(rocksdb::kLZ4Compression)      ? rocksdb::kLZ4Compression
                   : has(rocksdb::kSnappyCompression) ? rocksdb::kSnappyCompression
                                                      : rocksdb::kNoCompression;
  return cf;
}

}  // namespace

// Adds not yet written: their records already in the batch, their postings
// kept apart to be put in key order.
struct EventIndex::Pending {
  v1::InfraEvent event;  // reused: parsing into it again keeps its allocations
  rocksdb::WriteBatch batch;
  uint64_t end = 0;  // entries [written_, end) are in the batch, if it is not empty
  std::vector<std::string> fingerprints;
  std::vector<std::pair<std::string, size_t>> postings;  // key, its fingerprint
  std::vector<std::pair<uint64_t, ix::Zone>> zones;      // block, the times added to it

  void Clear() {
    batch.Clear();
    fingerprints.clear();
    postings.clear();
    zones.clear();
  }
};

EventIndex::EventIndex(std::string dir, EventIndexOptions options)
    : dir_(std::move(dir)), options_(options), pending_(std::make_unique<Pending>()) {
  options_.max_examined = std::max<uint64_t>(options_.max_examined, 1);
}

EventIndex::~EventIndex() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::StatusOr<std::unique_ptr<EventIndex>> EventIndex::Open(const std::string& dir,
                                                             const EventIndexOptions& options) {
  std::unique_ptr<EventIndex> index(new EventIndex(dir, options));
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.paranoid_checks = true;
  db_opts.max_background_jobs = 2;
  db_opts.info_log = NewStderrRocksDbLogger("infratrail-verifier");
  db_opts.max_total_wal_size = 64 << 20;
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Memtables of every column family together stay within
  // write_buffer_bytes, charged to the block cache.
  db_opts.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes, cache);
  const size_t per_cf = std::max<size_t>(options.write_buffer_bytes / 2, 1 << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (size_t cf = 0; cf < std::size(ix::kCfNames); ++cf) {
    // Events are read by point lookups scattered over the log: small
    // blocks make each one decompress little.
    cfs.emplace_back(ix::kCfNames[cf], TableOptions(cache, 4 << 10, per_cf));
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(db_opts, dir, cfs, &index->handles_, &db);
  if (!st.ok()) return RocksDbError(st, absl::StrCat("open event index ", dir));
  index->db_.reset(db);
  if (absl::Status s = index->Load(); !s.ok()) return s;
  return index;
}

absl::Status EventIndex::Destroy(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("delete event index ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status EventIndex::Load() {
  const std::string what = absl::StrCat("open event index ", dir_);
  std::string format;
  rocksdb::Status st =
      db_->Get(rocksdb::ReadOptions(), handles_[ix::kMeta], ix::kFormatKey, &format);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[ix::kMeta]));
  if (st.IsNotFound()) {
    it->SeekToFirst();
    if (it->Valid() || !it->status().ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": not an event index (no format key); delete it to rebuild"));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    st = db_->Put(wo, handles_[ix::kMeta], ix::kFormatKey, ix::kFormatValue);
  }
  if (!st.ok()) return RocksDbError(st, what);
  if (!format.empty() && format != ix::kFormatValue) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": format \"", format, "\", not \"", ix::kFormatValue, "\"; delete it to rebuild"));
  }
  std::unique_ptr<rocksdb::Iterator> last(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[ix::kEvents]));
  last->SeekToLast();
  uint64_t next = 0;
  if (last->Valid()) {
    if (last->key().size() != 8) {
      return absl::DataLossError(
          absl::StrCat(what, ": an event key of ", last->key().size(), " bytes, not 8"));
    }
    next = ReadUint64BigEndian(ToView(last->key())) + 1;
  }
  if (!last->status().ok()) return RocksDbError(last->status(), what);
  std::vector<ix::Zone> zones((next + ix::kZoneBlock - 1) / ix::kZoneBlock);
  for (it->Seek("z"); it->Valid() && it->key().starts_with("z"); it->Next()) {
    const uint64_t block =
        it->key().size() == 9 ? ReadUint64BigEndian(ToView(it->key()).substr(1)) : UINT64_MAX;
    ix::Zone zone;
    if (!ix::Zone::Decode(ToView(it->value()), &zone)) {
      return absl::DataLossError(absl::StrCat(what, ": zone key ", it->key().ToString(true),
                                              " is not one this version wrote"));
    }
    // A Truncate that died between its batches leaves zones above the
    // entries: ignored, and rewritten when entries come back.
    if (block < zones.size()) zones[block] = zone;
  }
  if (!it->status().ok()) return RocksDbError(it->status(), what);
  written_ = next;
  absl::MutexLock l(&mu_);
  next_ = next;
  zones_ = std::move(zones);
  return absl::OkStatus();
}

void EventIndex::HideEntries(bool hidden) {
  absl::MutexLock l(&mu_);
  hidden_ = hidden;
}

absl::Status EventIndex::CheckShown(absl::string_view operation) const {
  absl::ReaderMutexLock l(&mu_);
  if (!hidden_) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(operation, ": event index ", dir_,
                                             ": its entries are being rebuilt; try again later"));
}

uint64_t EventIndex::next() const {
  absl::ReaderMutexLock l(&mu_);
  return next_;
}

absl::Status EventIndex::Write(rocksdb::WriteBatch* batch, absl::string_view operation) {
  absl::Status s = RocksDbError(db_->Write(rocksdb::WriteOptions(), batch),
                                absl::StrCat(operation, ": event index ", dir_));
  if (!s.ok()) sticky_ = s;
  return s;
}

absl::Status EventIndex::Add(uint64_t index, absl::string_view entry, const Hash& leaf_hash) {
  if (!sticky_.ok()) return sticky_;
  if (const uint64_t expected = next(); index != expected) {
    return absl::FailedPreconditionError(
        absl::StrCat("EventIndex::Add: index ", index, " is not the next one, ", expected));
  }
  IndexedEvent e;
  e.index = index;
  e.leaf_hash = leaf_hash;
  Pending& p = *pending_;
  ix::Summarize(entry, &p.event, &e);
  p.batch.Put(handles_[ix::kEvents], ix::EventKey(index), ix::EncodeEvent(e, entry));
  p.fingerprints.push_back(ix::EncodeFingerprint(e));
  for (std::string& key : PostingKeys(e))
    p.postings.emplace_back(std::move(key), p.fingerprints.size() - 1);
  if (e.occurred_at) {
    const uint64_t block = index / ix::kZoneBlock;
    if (p.zones.empty() || p.zones.back().first != block) p.zones.emplace_back(block, ix::Zone());
    p.zones.back().second.Add(absl::ToUnixMicros(*e.occurred_at));
  }
  p.end = index + 1;
  {
    absl::MutexLock l(&mu_);
    next_ = index + 1;
  }
  if (p.batch.GetDataSize() >= options_.add_buffer_bytes) return FlushPending();
  return absl::OkStatus();
}

absl::Status EventIndex::FlushPending() {
  Pending& p = *pending_;
  if (p.batch.Count() == 0) return absl::OkStatus();
  // In key order, each memtable insert starts from where the one before
  // ended instead of searching the skiplist from its top (3x faster here).
  std::sort(p.postings.begin(), p.postings.end());
  for (const auto& [key, fingerprint] : p.postings) {
    p.batch.Put(handles_[ix::kPostings], key, p.fingerprints[fingerprint]);
  }
  {
    // Widened before the write, so a reader never skips what it can see.
    absl::MutexLock l(&mu_);
    zones_.resize(std::max<size_t>(zones_.size(), (p.end + ix::kZoneBlock - 1) / ix::kZoneBlock));
    for (const auto& [block, zone] : p.zones) {
      zones_[block].Merge(zone);
      p.batch.Put(handles_[ix::kMeta], ix::ZoneKey(block), zones_[block].Encode());
    }
  }
  absl::Status s = Write(&p.batch, "add");
  if (s.ok()) written_ = p.end;
  p.Clear();
  return s;
}

absl::Status EventIndex::Sync() {
  if (!sticky_.ok()) return sticky_;
  if (absl::Status s = FlushPending(); !s.ok()) return s;
  // Commit point: once the WAL is synced every write before it survives a
  // crash; if we die before, the monitor's state.json (committed only after
  // this returns) is behind the index or equal, and it truncates the index.
  absl::Status s = RocksDbError(db_->SyncWAL(), absl::StrCat("sync: event index ", dir_));
  if (!s.ok()) sticky_ = s;
  return s;
}

absl::Status EventIndex::Truncate(uint64_t n) {
  if (!sticky_.ok()) return sticky_;
  if (n >= next()) return absl::OkStatus();
  // Rare (a crash, a lying checkpoint): written first, then deleted.
  if (absl::Status s = FlushPending(); !s.ok()) return s;
  if (absl::Status s = TruncateWritten(n); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  next_ = n;
  return absl::OkStatus();
}

absl::Status EventIndex::TruncateWritten(uint64_t n) {
  // From the top down, a chunk per batch: after each, the database holds a
  // prefix of the log, as after any crash.
  while (written_ > n) {
    const uint64_t lo = std::max(n, written_ > kTruncateChunk ? written_ - kTruncateChunk : 0);
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[ix::kEvents]));
    for (it->Seek(ToSlice(ix::EventKey(lo))); it->Valid(); it->Next()) {
      IndexedEvent e;
      if (it->key().size() != 8) break;
      e.index = ReadUint64BigEndian(ToView(it->key()));
      // A record that does not decode leaves its secondary keys behind:
      // harmless, as every search checks the record it finds.
      if (!ix::DecodeEvent(e.index, ToView(it->value()), &e).ok()) e.parsed = false;
      batch.Delete(handles_[ix::kEvents], it->key());
      for (const std::string& key : PostingKeys(e)) batch.Delete(handles_[ix::kPostings], key);
    }
    if (!it->status().ok()) return RocksDbError(it->status(), "truncate: event index " + dir_);
    if (absl::Status s = Write(&batch, "truncate"); !s.ok()) return s;
    written_ = lo;
  }
  // The zones: those wholly at or above n go, the one n cuts is narrowed to
  // what is left. Deleted entries are gone already, so narrowing now never
  // hides what a reader can see.
  const uint64_t first_gone = (n + ix::kZoneBlock - 1) / ix::kZoneBlock;
  rocksdb::WriteBatch batch;
  size_t zones = 0;
  {
    absl::ReaderMutexLock l(&mu_);
    zones = zones_.size();
  }
  for (uint64_t b = first_gone; b < zones; ++b) batch.Delete(handles_[ix::kMeta], ix::ZoneKey(b));
  std::optional<ix::Zone> partial;
  if (n % ix::kZoneBlock != 0) {
    absl::StatusOr<ix::Zone> z = ComputeZone(n / ix::kZoneBlock, n);
    if (!z.ok()) return z.status();
    partial = *z;
    batch.Put(handles_[ix::kMeta], ix::ZoneKey(n / ix::kZoneBlock), z->Encode());
  }
  if (absl::Status s = Write(&batch, "truncate"); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  zones_.resize(std::min<size_t>(zones_.size(), first_gone));
  if (partial) zones_[n / ix::kZoneBlock] = *partial;
  return absl::OkStatus();
}

absl::StatusOr<ix::Zone> EventIndex::ComputeZone(uint64_t block, uint64_t end) const {
  ix::Zone zone;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[ix::kPostings]));
  const std::string all = ix::AllPrefix();
  for (it->Seek(ToSlice(ix::PostingKey(all, end - 1))); it->Valid(); it->Next()) {
    uint64_t index = 0;
    ix::Fingerprint f;
    if (!it->key().starts_with(all) || !ix::PostingIndex(ToView(it->key()), &index) ||
        index < block * ix::kZoneBlock) {
      break;
    }
    if (ix::DecodeFingerprint(ToView(it->value()), &f) && f.has_time) {
      zone.Add(f.micros);
    }
  }
  if (!it->status().ok()) return RocksDbError(it->status(), "truncate: event index " + dir_);
  return zone;
}

absl::Status EventIndex::AddFindings(const std::vector<Finding>& findings) {
  if (!sticky_.ok()) return sticky_;
  rocksdb::WriteBatch batch;
  // The time key of each seq as stored before, or as put earlier in this
  // batch: replaced with the record, so a seq has one time key.
  std::map<uint64_t, std::string> time_keys;
  for (const Finding& f : findings) {
    const std::string key = ix::FindingKey(f.seq);
    auto known = time_keys.find(f.seq);
    if (known == time_keys.end()) {
      std::string old;
      rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), handles_[ix::kFindings], key, &old);
      if (!st.ok() && !st.IsNotFound()) {
        return RocksDbError(st, absl::StrCat("add finding ", f.seq, ": event index ", dir_));
      }
      ix::FindingHeader h;
      if (st.ok() && ix::DecodeFindingHeader(f.seq, old, &h).ok()) {
        known = time_keys.emplace(f.seq, ix::FindingTimeKey(h.micros, f.seq)).first;
      }
    }
    if (known != time_keys.end()) batch.Delete(handles_[ix::kFindings], known->second);
    const std::string time_key = ix::FindingTimeKey(absl::ToUnixMicros(f.time), f.seq);
    batch.Put(handles_[ix::kFindings], key, ix::EncodeFinding(f));
    batch.Put(handles_[ix::kFindings], time_key, std::string(1, static_cast<char>(f.severity)));
    time_keys[f.seq] = time_key;
  }
  return Write(&batch, "add findings");
}

absl::Status EventIndex::TruncateFindings(uint64_t next_seq) {
  if (!sticky_.ok()) return sticky_;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[ix::kFindings]));
  // Finding keys run from the highest seq down to the lowest.
  uint64_t seq = 0;
  for (it->Seek(ToSlice(ix::FindingKey(UINT64_MAX)));
       it->Valid() && ix::FindingSeq(ToView(it->key()), &seq) && seq >= next_seq; it->Next()) {
    ix::FindingHeader h;
    if (ix::DecodeFindingHeader(seq, ToView(it->value()), &h).ok()) {
      batch.Delete(handles_[ix::kFindings], ix::FindingTimeKey(h.micros, seq));
    }
    batch.Delete(handles_[ix::kFindings], it->key());
  }
  if (!it->status().ok()) {
    return RocksDbError(it->status(), absl::StrCat("truncate findings: event index ", dir_));
  }
  return Write(&batch, "truncate findings");
}

}  // namespace infratrail
