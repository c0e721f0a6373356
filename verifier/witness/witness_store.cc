#include "verifier/witness/witness_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/check.h"
#include "core/encoding.h"
#include "core/io/file_util.h"

namespace infratrail {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr size_t kChecksumBytes = 8;
// A record is never larger than this (a note is at most kMaxNoteBytes).
constexpr uint32_t kMaxPayloadBytes = (1u << 20) + 4096;
constexpr absl::string_view kSnapshotMagic = "infratrail-witness-snapshot/v1\n";
constexpr absl::string_view kSnapshotName = "snapshot";
constexpr absl::string_view kJournalPrefix = "journal-";
constexpr absl::string_view kBatchMagic = "ITWB";
// A batch is never larger than this (the queue holds what arrives during one
// fdatasync: requests are at most 128 KiB each and connections are capped).
constexpr uint32_t kMaxBatchBytes = 1u << 30;

std::string JournalName(uint64_t gen) { return absl::StrFormat("journal-%020d", gen); }

absl::Status Errno(absl::string_view op, const std::string& path) {
  return absl::InternalError(absl::StrCat(op, " ", path, ": ", strerror(errno)));
}

uint32_t ReadU32(absl::string_view b) {
  return (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[2])} << 8) | uint32_t{static_cast<uint8_t>(b[3])};
}
uint64_t ReadU64(absl::string_view b) {
  return (uint64_t{ReadU32(b)} << 32) | ReadU32(b.substr(4));
}

void AppendRecord(std::string* out, const CosignedCheckpoint& r) {
  INFRATRAIL_CHECK(r.origin.size() <= 0xffff) << "origin longer than a record holds";
  std::string payload;
  payload.push_back(static_cast<char>(kRecordVersion));
  payload.push_back(static_cast<char>(r.origin.size() >> 8));
  payload.push_back(static_cast<char>(r.origin.size() & 0xff));
  payload.append(r.origin);
  AppendUint64BigEndian(&payload, r.size);
  payload.append(reinterpret_cast<const char*>(r.root.data()), r.root.size());
  AppendUint32BigEndian(&payload, static_cast<uint32_t>(r.note.size()));
  payload.append(r.note);
  AppendUint32BigEndian(out, static_cast<uint32_t>(payload.size()));
  out->append(payload);
  const Hash sum = Sha256(payload);
  out->append(reinterpret_cast<const char*>(sum.data()), kChecksumBytes);
}

// Parses the record at the front of `in`; on success advances `in`.
// nullopt if the bytes do not form a whole, checksummed, well-formed record.
std::optional<CosignedCheckpoint> NextRecord(absl::string_view* in) {
  if (in->size() < 4) return std::nullopt;
  const uint32_t len = ReadU32(*in);
  if (len > kMaxPayloadBytes || in->size() - 4 < size_t{len} + kChecksumBytes) return std::nullopt;
  const absl::string_view payload = in->substr(4, len);
  const Hash sum = Sha256(payload);
  if (memcmp(sum.data(), in->data() + 4 + len, kChecksumBytes) != 0) return std::nullopt;
  absl::string_view p = payload;
  if (p.size() < 3 || static_cast<uint8_t>(p[0]) != kRecordVersion) return std::nullopt;
  const size_t origin_len = (size_t{static_cast<uint8_t>(p[1])} << 8) | static_cast<uint8_t>(p[2]);
  p.remove_prefix(3);
  if (p.size() < origin_len + 8 + kHashSize + 4) return std::nullopt;
  CosignedCheckpoint r;
  r.origin = std::string(p.substr(0, origin_len));
  p.remove_prefix(origin_len);
  r.size = ReadU64(p);
  p.remove_prefix(8);
  memcpy(r.root.data(), p.data(), kHashSize);
  p.remove_prefix(kHashSize);
  const uint32_t note_len = ReadU32(p);
  p.remove_prefix(4);
  if (p.size() != note_len) return std::nullopt;
  r.note = std::string(p);
  in->remove_prefix(4 + len + kChecksumBytes);
  return r;
}

// The batch at the front of `in` ("ITWB" || u32 length || records ||
// checksum): its records, advancing `in`; nullopt if it does not check out.
std::optional<std::vector<CosignedCheckpoint>> NextBatch(absl::string_view* in) {
  if (in->size() < kBatchMagic.size() + 4 || !absl::StartsWith(*in, kBatchMagic)) {
    return std::nullopt;
  }
  const uint32_t len = ReadU32(in->substr(kBatchMagic.size()));
  const size_t header = kBatchMagic.size() + 4;
  if (len > kMaxBatchBytes || in->size() - header < size_t{len} + kChecksumBytes) {
    return std::nullopt;
  }
  absl::string_view records = in->substr(header, len);
  const Hash sum = Sha256(records);
  if (memcmp(sum.data(), in->data() + header + len, kChecksumBytes) != 0) return std::nullopt;
  std::vector<CosignedCheckpoint> out;
  while (!records.empty()) {
    std::optional<CosignedCheckpoint> r = NextRecord(&records);
    if (!r) return std::nullopt;
    out.push_back(*std::move(r));
  }
  in->remove_prefix(header + len + kChecksumBytes);
  return out;
}

// Whether a whole batch starts anywhere in `rest` (after a bad one: then the
// bad one is damage, not a write cut short).
bool AnyBatchIn(absl::string_view rest) {
  for (size_t at = rest.find(kBatchMagic); at != absl::string_view::npos;
       at = rest.find(kBatchMagic, at + 1)) {
    absl::string_view candidate = rest.substr(at);
    if (NextBatch(&candidate)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WitnessStore>> WitnessStore::Open(const std::string& dir,
                                                                 WitnessStoreOptions options) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir", dir);
  std::unique_ptr<WitnessStore> store(new WitnessStore(dir, std::move(options)));
  if (absl::Status s = store->Recover(); !s.ok()) return s;
  store->committer_ = std::thread([s = store.get()] { s->Run(); });
  return store;
}

WitnessStore::~WitnessStore() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (committer_.joinable()) committer_.join();
  if (journal_fd_ >= 0) close(journal_fd_);
}

// Applies a recovered record; corruption if it goes back.
static absl::Status Apply(absl::flat_hash_map<std::string, CosignedCheckpoint>* state,
                          CosignedCheckpoint r, absl::string_view where) {
  auto it = state->find(r.origin);
  if (it != state->end()) {
    if (r.size < it->second.size || (r.size == it->second.size && r.root != it->second.root)) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": log \"", r.origin, "\" goes from size ", it->second.size, " to ",
                       r.size, r.size == it->second.size ? " with another root" : "",
                       ": the state is corrupt; refusing to start (docs/witness.md, \"State\")"));
    }
    it->second = std::move(r);
  } else {
    std::string origin = r.origin;
    state->emplace(std::move(origin), std::move(r));
  }
  return absl::OkStatus();
}

absl::Status WitnessStore::Recover() {
  absl::flat_hash_map<std::string, CosignedCheckpoint> state;
  uint64_t snapshot_gen = 0;
  uint64_t snapshot_bytes = 0;
  const std::string snapshot_path = absl::StrCat(dir_, "/", kSnapshotName);
  absl::StatusOr<std::string> snap = ReadFileToString(snapshot_path);
  if (snap.ok()) {
    absl::string_view s = *snap;
    snapshot_bytes = s.size();
    auto corrupt = [&](absl::string_view why) {
      return absl::FailedPreconditionError(absl::StrCat(
          snapshot_path, ": ", why, "; refusing to start (docs/witness.md, \"State\")"));
    };
    if (s.size() < kSnapshotMagic.size() + 8 + kHashSize || !absl::StartsWith(s, kSnapshotMagic)) {
      return corrupt("not a witness snapshot");
    }
    const absl::string_view body = s.substr(0, s.size() - kHashSize);
    const Hash sum = Sha256(body);
    if (memcmp(sum.data(), s.data() + body.size(), kHashSize) != 0) {
      return corrupt("checksum mismatch");
    }
    absl::string_view in = body.substr(kSnapshotMagic.size());
    snapshot_gen = ReadU64(in);
    in.remove_prefix(8);
    while (!in.empty()) {
      const size_t offset = body.size() - in.size();
      std::optional<CosignedCheckpoint> r = NextRecord(&in);
      if (!r) return corrupt(absl::StrCat("bad record at offset ", offset));
      if (absl::Status st = Apply(&state, *std::move(r), snapshot_path); !st.ok()) return st;
    }
  } else if (!absl::IsNotFound(snap.status())) {
    return snap.status();
  }

  std::vector<uint64_t> gens;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return Errno("opendir", dir_);
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    uint64_t gen = 0;
    if (absl::StartsWith(name, kJournalPrefix) &&
        absl::SimpleAtoi(name.substr(kJournalPrefix.size()), &gen)) {
      gens.push_back(gen);
    }
  }
  closedir(d);
  std::sort(gens.begin(), gens.end());
  uint64_t active = snapshot_gen;
  uint64_t journal_bytes = 0;
  for (size_t i = 0; i < gens.size(); ++i) {
    const std::string path = absl::StrCat(dir_, "/", JournalName(gens[i]));
    if (gens[i] < snapshot_gen) {
      // Folded into the snapshot; a crash came before it was removed.
      if (unlink(path.c_str()) != 0) return Errno("unlink", path);
      continue;
    }
    absl::StatusOr<std::string> data = ReadFileToString(path);
    if (!data.ok()) return data.status();
    absl::string_view in = *data;
    while (!in.empty()) {
      const size_t offset = data->size() - in.size();
      std::optional<std::vector<CosignedCheckpoint>> batch = NextBatch(&in);
      if (!batch) {
        if (i + 1 != gens.size() || AnyBatchIn(in.substr(1))) {
          return absl::FailedPreconditionError(absl::StrCat(
              path, ": bad batch at offset ", offset,
              i + 1 != gens.size() ? " in a journal that is not the last"
                                   : " with whole batches after it (damage, not a cut-short write)",
              "; refusing to start (docs/witness.md, \"State\")"));
        }
        // A write a crash cut short at the end of the last journal: never
        // acknowledged (its fdatasync had not returned).
        torn_bytes_ = data->size() - offset;
        if (truncate(path.c_str(), static_cast<off_t>(offset)) != 0) return Errno("truncate", path);
        data->resize(offset);
        break;
      }
      for (CosignedCheckpoint& r : *batch) {
        if (absl::Status st = Apply(&state, std::move(r), absl::StrCat(path, " at ", offset));
            !st.ok()) {
          return st;
        }
      }
    }
    active = gens[i];
    journal_bytes = data->size();
  }
  if (absl::Status s = OpenJournal(active); !s.ok()) return s;
  if (torn_bytes_ > 0 && fdatasync(journal_fd_) != 0)
    return Errno("fdatasync", JournalName(active));
  absl::MutexLock l(&mu_);
  durable_ = std::move(state);
  journal_bytes_ = journal_bytes;
  snapshot_bytes_ = snapshot_bytes;
  return absl::OkStatus();
}

absl::Status WitnessStore::OpenJournal(uint64_t gen) {
  const std::string path = absl::StrCat(dir_, "/", JournalName(gen));
  const bool existed = access(path.c_str(), F_OK) == 0;
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  if (!existed) {
    if (absl::Status s = SyncDirectory(dir_); !s.ok()) {
      close(fd);
      return s;
    }
  }
  journal_fd_ = fd;
  gen_ = gen;
  return absl::OkStatus();
}

// Folds the journal into a new snapshot of generation gen_ + 1, then starts
// journal gen_ + 1 and removes the old one. Crash points: before the
// snapshot's rename, recovery reads the old snapshot and journal; after it,
// the new snapshot, and deletes the old journal (its generation is older).
absl::Status WitnessStore::Compact() {
  const uint64_t next = gen_ + 1;
  std::string data(kSnapshotMagic);
  AppendUint64BigEndian(&data, next);
  {
    absl::MutexLock l(&mu_);
    for (const auto& [origin, r] : durable_) AppendRecord(&data, r);
  }
  const Hash sum = Sha256(data);
  data.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  // The next journal exists (empty, its name durable) before the snapshot
  // that points past the current one: if it cannot be made, nothing has
  // changed and the current journal stays in use.
  const std::string old = absl::StrCat(dir_, "/", JournalName(gen_));
  const uint64_t was = gen_;
  const int was_fd = journal_fd_;
  journal_fd_ = -1;
  if (absl::Status s = OpenJournal(next); !s.ok()) {
    journal_fd_ = was_fd;
    gen_ = was;
    return s;
  }
  // If we die here: snapshot `was`, journals `was` and the empty `next`.
  if (absl::Status s = WriteFileAtomic(absl::StrCat(dir_, "/", kSnapshotName), data, 0600);
      !s.ok()) {
    // The empty `next` journal is harmless at recovery; keep appending to
    // the current one, which the old snapshot still points to.
    close(journal_fd_);
    journal_fd_ = was_fd;
    gen_ = was;
    return s;
  }
  // If we die here: the new snapshot, and recovery deletes journal `was`.
  close(was_fd);
  if (unlink(old.c_str()) != 0) return Errno("unlink", old);
  absl::MutexLock l(&mu_);
  snapshot_bytes_ = data.size();
  journal_bytes_ = 0;
  return absl::OkStatus();
}

void WitnessStore::Commit(CosignedCheckpoint record, Done done) {
  Enqueue(Pending{std::move(record), std::move(done)});
}

void WitnessStore::AfterDurable(Done done) { Enqueue(Pending{std::nullopt, std::move(done)}); }

void WitnessStore::Enqueue(Pending p) {
  absl::Status failed;
  {
    absl::MutexLock l(&mu_);
    if (failed_.ok() && !stopping_) {
      queue_.push_back(std::move(p));
      return;
    }
    failed = failed_.ok() ? absl::UnavailableError("the witness store is closing") : failed_;
  }
  std::move(p.done)(failed);
}

void WitnessStore::Run() {
  for (;;) {
    std::vector<Pending> batch;
    absl::Status status;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
      // Nothing is written after a failure, not even what was queued
      // before it was noticed.
      status = failed_;
    }
    std::string records;
    for (const Pending& p : batch) {
      if (p.record) AppendRecord(&records, *p.record);
    }
    if (status.ok() && !records.empty()) {
      std::string buf(kBatchMagic);
      AppendUint32BigEndian(&buf, static_cast<uint32_t>(records.size()));
      buf.append(records);
      const Hash sum = Sha256(records);
      buf.append(reinterpret_cast<const char*>(sum.data()), kChecksumBytes);
      const std::string path = absl::StrCat(dir_, "/", JournalName(gen_));
      absl::string_view rest = buf;
      while (!rest.empty() && status.ok()) {
        const ssize_t n = write(journal_fd_, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) status = Errno("write", path);
        if (n > 0) rest.remove_prefix(static_cast<size_t>(n));
      }
      if (status.ok() && options_.sync_fault) status = options_.sync_fault();
      // If we die here, before fdatasync returns: nothing in this batch was
      // acknowledged; recovery cuts the batch off unless all of it reached
      // the disk (a cosignature the caller never saw is harmless).
      if (status.ok() && fdatasync(journal_fd_) != 0) status = Errno("fdatasync", path);
      if (!status.ok()) {
        status = absl::UnavailableError(
            absl::StrCat("witness state: ", status.message(),
                         "; the witness has stopped cosigning (restart to recover)"));
      }
      if (status.ok()) {
        absl::MutexLock l(&mu_);
        journal_bytes_ += buf.size();
      }
    }
    bool compact = false;
    {
      absl::MutexLock l(&mu_);
      if (!status.ok()) {
        // Sticky: what reached the disk is unknown, so nothing more is
        // written; the callers are told, and so is everyone after them.
        if (failed_.ok()) failed_ = status;
        status = failed_;
        for (Pending& p : queue_) batch.push_back(std::move(p));
        queue_.clear();
      } else {
        // Durable: the records are what recovery would find.
        bool wrote = false;
        for (const Pending& p : batch) {
          if (p.record) {
            durable_[p.record->origin] = *p.record;
            wrote = true;
          }
        }
        if (wrote) ++batches_;
        compact = journal_bytes_ >= options_.compact_after_bytes;
      }
    }
    for (Pending& p : batch) std::move(p.done)(status);
    if (compact) {
      if (absl::Status s = Compact(); !s.ok()) {
        absl::MutexLock l(&mu_);
        failed_ = absl::UnavailableError(
            absl::StrCat("witness state: compaction: ", s.message(), "; restart to recover"));
      }
    }
  }
}

std::vector<CosignedCheckpoint> WitnessStore::All() const {
  absl::MutexLock l(&mu_);
  std::vector<CosignedCheckpoint> out;
  out.reserve(durable_.size());
  for (const auto& [origin, r] : durable_) out.push_back(r);
  return out;
}

std::optional<CosignedCheckpoint> WitnessStore::Latest(const std::string& origin) const {
  absl::MutexLock l(&mu_);
  auto it = durable_.find(origin);
  if (it == durable_.end()) return std::nullopt;
  return it->second;
}

absl::Status WitnessStore::health() const {
  absl::MutexLock l(&mu_);
  return failed_;
}

uint64_t WitnessStore::bytes() const {
  absl::MutexLock l(&mu_);
  return snapshot_bytes_ + journal_bytes_;
}

uint64_t WitnessStore::batches() const {
  absl::MutexLock l(&mu_);
  return batches_;
}

}  // namespace infratrail
