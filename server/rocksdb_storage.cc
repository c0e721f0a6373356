#include "server/rocksdb_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/rocksdb_util.h"

namespace infratrail {
namespace {

enum Cf { kMeta = 0, kEntries = 1, kLeafIndex = 2, kTiles = 3 };

std::string IndexKey(uint64_t index) {
  std::string k;
  PutBigEndian64(index, &k);
  return k;
}

// The tiles column family's key: level and index only (storage.h says why
// the width is not part of it).
std::string TileRowKey(const TileId& tile) {
  std::string k(1, static_cast<char>(tile.level));
  PutBigEndian64(tile.index, &k);
  return k;
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The database and column family options of every store, so a copy
// (CopyTo) is laid out exactly like the original.
struct DbLayout {
  rocksdb::DBOptions db_opts;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
};

DbLayout MakeLayout(const RocksDbOptions& options) {
  DbLayout layout;
  layout.db_opts.create_if_missing = options.create_if_missing;
  layout.db_opts.create_missing_column_families = options.create_if_missing;
  layout.db_opts.max_background_jobs = 2;
  layout.db_opts.bytes_per_sync = 1 << 20;
  // Acknowledged writes are made durable by fdatasync of the WAL
  // (WriteOptions::sync in Commit and PutMeta).
  layout.db_opts.paranoid_checks = true;
  layout.db_opts.info_log = NewStderrRocksDbLogger("infratrail-server");
  // Restart after kill -9 must be fast (DESIGN.md: serving within 1 s):
  // replay the WAL into memtables without flushing them at open, and bound
  // the WAL so the replay stays short.
  layout.db_opts.avoid_flush_during_recovery = true;
  layout.db_opts.max_total_wal_size = 64 << 20;

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  auto table = [&](size_t block_size, bool bloom) {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.block_size = block_size;
    if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    rocksdb::ColumnFamilyOptions cf;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    cf.write_buffer_size = 64 << 20;
    return cf;
  };
  layout.cfs = {
      {rocksdb::kDefaultColumnFamilyName, table(4096, false)},
      {"entries", table(64 << 10, false)},
      // Random 32-byte keys: point lookups only, a bloom filter makes the
      // common miss (a new entry) cost no disk read.
      {"leaf_index", table(4096, true)},
      {"tiles", table(16 << 10, false)},
  };
  // Every batch looks up all its leaf hashes, almost all of them new: a
  // memtable bloom filter answers those misses without walking the skiplist.
  layout.cfs[kLeafIndex].options.memtable_prefix_bloom_size_ratio = 0.1;
  layout.cfs[kLeafIndex].options.memtable_whole_key_filtering = true;

  return layout;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStorage>> RocksDbStorage::Open(
    const RocksDbOptions& options) {
  DbLayout layout = MakeLayout(options);
  std::unique_ptr<RocksDbStorage> s(new RocksDbStorage());
  rocksdb::DB* db = nullptr;
  rocksdb::Status st =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(layout.db_opts, options.path, layout.cfs, &s->handles_,
                                         &db)
          : rocksdb::DB::Open(layout.db_opts, options.path, layout.cfs, &s->handles_, &db);
  if (!st.ok()) return RocksDbError(st, absl::StrCat("open ", options.path));
  s->db_.reset(db);
  return s;
}

RocksDbStorage::~RocksDbStorage() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::Status RocksDbStorage::Commit(const CommitBatch& batch) {
  rocksdb::WriteBatch wb;
  for (size_t i = 0; i < batch.entries.size(); ++i) {
    wb.Put(handles_[kEntries], IndexKey(batch.first_index + i), ToSlice(batch.entries[i]));
  }
  // Leaf hashes are random keys; inserted in sorted order, each memtable
  // insert starts its skiplist search from where the previous one ended.
  std::vector<uint32_t> order(batch.leaf_hashes.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return batch.leaf_hashes[a] < batch.leaf_hashes[b]; });
  for (uint32_t i : order) {
    wb.Put(handles_[kLeafIndex], ToSlice(AsBytes(batch.leaf_hashes[i])),
           IndexKey(batch.first_index + i));
  }
  for (const auto& [tile, bytes] : batch.tiles) {
    wb.Put(handles_[kTiles], TileRowKey(tile), bytes);
  }
  wb.Put(handles_[kMeta], ToSlice(kMetaTreeState), EncodeTreeState(batch.state));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // Commit point: once Write returns OK the batch is in the fsync'd WAL;
  // if we die before, WAL replay drops the torn batch as a whole.
  return RocksDbError(db_->Write(wo, &wb), "commit");
}

absl::StatusOr<TreeState> RocksDbStorage::ReadTreeState() {
  std::string value;
  rocksdb::Status st =
      db_->Get(rocksdb::ReadOptions(), handles_[kMeta], ToSlice(kMetaTreeState), &value);
  if (st.IsNotFound()) return TreeState{};
  if (!st.ok()) return RocksDbError(st, "read tree state");
  return DecodeTreeState(value);
}

absl::Status RocksDbStorage::LookupLeaves(absl::Span<const Hash> hashes,
                                          std::vector<std::optional<uint64_t>>* out) {
  out->assign(hashes.size(), std::nullopt);
  if (hashes.empty()) return absl::OkStatus();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(hashes.size());
  for (const Hash& h : hashes) keys.push_back(ToSlice(AsBytes(h)));
  std::vector<rocksdb::PinnableSlice> values(hashes.size());
  std::vector<rocksdb::Status> statuses(hashes.size());
  db_->MultiGet(rocksdb::ReadOptions(), handles_[kLeafIndex], keys.size(), keys.data(),
                values.data(), statuses.data());
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return RocksDbError(statuses[i], "lookup leaf hash");
    if (values[i].size() != 8) return absl::DataLossError("lookup leaf hash: bad index value");
    (*out)[i] = GetBigEndian64(absl::string_view(values[i].data(), 8));
  }
  return absl::OkStatus();
}

absl::Status RocksDbStorage::ReadEntries(uint64_t begin, uint64_t end,
                                         std::vector<std::string>* out) {
  if (begin >= end) return absl::OkStatus();
  const std::string first = IndexKey(begin);
  const std::string limit = IndexKey(end);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(limit);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kEntries]));
  uint64_t next = begin;
  for (it->Seek(first); it->Valid() && next < end; it->Next(), ++next) {
    if (it->key().size() != 8 || GetBigEndian64(absl::string_view(it->key().data(), 8)) != next) {
      return absl::NotFoundError(absl::StrCat("read entries: entry ", next, " missing"));
    }
    out->emplace_back(it->value().data(), it->value().size());
  }
  if (!it->status().ok()) return RocksDbError(it->status(), "read entries");
  if (next != end)
    return absl::NotFoundError(absl::StrCat("read entries: entry ", next, " missing"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> RocksDbStorage::ReadTile(const TileId& tile) {
  if (absl::Status st = CheckStoredTile(tile); !st.ok()) return st;
  std::string value;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), handles_[kTiles], TileRowKey(tile), &value);
  if (!st.ok()) {
    return RocksDbError(st, absl::StrCat("read tile ", tile.level, "/", tile.index));
  }
  return value;
}

absl::StatusOr<std::optional<std::string>> RocksDbStorage::GetMeta(absl::string_view key) {
  std::string value;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], ToSlice(key), &value);
  if (st.IsNotFound()) return std::optional<std::string>();
  if (!st.ok()) return RocksDbError(st, absl::StrCat("read meta ", key));
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbStorage::PutMeta(absl::string_view key, absl::string_view value) {
  if (key == kMetaTreeState) return absl::InvalidArgumentError("PutMeta: tree_state is reserved");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return RocksDbError(db_->Put(wo, handles_[kMeta], ToSlice(key), ToSlice(value)),
                      absl::StrCat("write meta ", key));
}

std::vector<std::pair<std::string, uint64_t>> RocksDbStorage::SstBytesByColumnFamily() {
  static constexpr const char* kNames[] = {"meta", "entries", "leaf_index", "tiles"};
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < handles_.size(); ++i) {
    uint64_t v = 0;
    db_->GetIntProperty(handles_[i], "rocksdb.total-sst-files-size", &v);
    out.emplace_back(kNames[i], v);
  }
  return out;
}

absl::StatusOr<CopyReport> RocksDbStorage::CopyTo(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("copy to ", path, ": already exists"));
  }
  // Built under a temporary name and renamed into place, so a copy that
  // died half-way is never mistaken for a store.
  const std::string partial = path + ".partial";
  const std::string sst_dir = path + ".sst";
  fs::remove_all(partial, ec);
  fs::remove_all(sst_dir, ec);
  fs::create_directories(sst_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("copy to ", path, ": ", ec.message()));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{sst_dir};

  RocksDbOptions dest_options;
  dest_options.path = partial;
  dest_options.block_cache_bytes = 8 << 20;
  DbLayout layout = MakeLayout(dest_options);
  // One snapshot for every column family: the copy is one instant of the
  // store, a whole number of committed batches.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~Release() {
      if (snapshot != nullptr) db->ReleaseSnapshot(snapshot);
    }
  } release{db_.get(), snapshot};

  CopyReport report;
  std::vector<std::vector<std::string>> files(handles_.size());
  constexpr uint64_t kMaxSstBytes = uint64_t{256} << 20;
  for (size_t cf = 0; cf < handles_.size(); ++cf) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ro.fill_cache = false;
    ro.readahead_size = 4 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[cf]));
    const rocksdb::Options sst_options(layout.db_opts, layout.cfs[cf].options);
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    uint64_t file_bytes = 0;
    auto finish = [&]() -> absl::Status {
      if (writer == nullptr) return absl::OkStatus();
      rocksdb::Status st = writer->Finish();
      writer.reset();
      return RocksDbError(st, "copy: finish table file");
    };
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (writer == nullptr) {
        writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), sst_options);
        files[cf].push_back(absl::StrCat(sst_dir, "/", cf, "-", files[cf].size(), ".sst"));
        if (absl::Status st = RocksDbError(writer->Open(files[cf].back()), "copy: table file");
            !st.ok()) {
          return st;
        }
        file_bytes = 0;
      }
      if (absl::Status st = RocksDbError(writer->Put(it->key(), it->value()), "copy: put");
          !st.ok()) {
        return st;
      }
      file_bytes += it->key().size() + it->value().size();
      report.keys += 1;
      report.bytes += it->key().size() + it->value().size();
      if (file_bytes >= kMaxSstBytes) {
        if (absl::Status st = finish(); !st.ok()) return st;
      }
    }
    if (!it->status().ok()) return RocksDbError(it->status(), "copy: read");
    if (absl::Status st = finish(); !st.ok()) return st;
  }

  {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(layout.db_opts, partial, layout.cfs, &handles, &raw);
    if (!st.ok()) return RocksDbError(st, absl::StrCat("copy: create ", partial));
    std::unique_ptr<rocksdb::DB> dest(raw);
    absl::Status result;
    for (size_t cf = 0; cf < handles.size() && result.ok(); ++cf) {
      if (files[cf].empty()) continue;
      rocksdb::IngestExternalFileOptions ingest;
      ingest.move_files = true;
      result = RocksDbError(dest->IngestExternalFile(handles[cf], files[cf], ingest),
                            "copy: ingest table files");
    }
    // The ingested files are synced and named in the synced MANIFEST.
    for (rocksdb::ColumnFamilyHandle* h : handles) dest->DestroyColumnFamilyHandle(h);
    if (absl::Status closed = RocksDbError(dest->Close(), "copy: close"); result.ok()) {
      result = closed;
    }
    if (!result.ok()) return result;
  }
  // Commit point: the copy is complete and durable under its temporary
  // name; the rename makes it the store at `path`, all or nothing.
  if (absl::Status st = SyncDirectory(partial); !st.ok()) return st;
  fs::rename(partial, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("copy: rename to ", path, ": ", ec.message()));
  const std::string parent = fs::absolute(path).parent_path().string();
  if (absl::Status st = SyncDirectory(parent); !st.ok()) return st;
  return report;
}

}  // namespace infratrail
