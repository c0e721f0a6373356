#include "verifier/witness/witness.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/checkpoint.h"
#include "core/cosignature.h"
#include "core/encoding.h"
#include "core/note.h"
#include "core/proof.h"
#include "verifier/witness/witness_metrics.h"

namespace infratrail {
namespace {

struct Request {
  uint64_t old_size = 0;
  std::vector<Hash> proof;
  absl::string_view note;
};

WitnessReply Refuse(int status, absl::string_view why, std::string origin = "") {
  WitnessReply r;
  r.status = status;
  r.body = absl::StrCat(why, "\n");
  r.origin = std::move(origin);
  return r;
}

// The request body: "old <N>\n", up to 63 base64 hashes one per line, an
// empty line, then the signed checkpoint. Each line ends in "\n".
absl::StatusOr<Request> ParseBody(absl::string_view body) {
  Request req;
  auto next_line = [&body](absl::string_view* line) {
    const size_t nl = body.find('\n');
    if (nl == absl::string_view::npos) return false;
    *line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    return true;
  };
  absl::string_view line;
  if (!next_line(&line) || !absl::ConsumePrefix(&line, "old ")) {
    return absl::InvalidArgumentError("the body must start with the line \"old <size>\"");
  }
  if (line.empty() || (line.size() > 1 && line[0] == '0') ||
      !std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(line, &req.old_size)) {
    return absl::InvalidArgumentError(
        "old size: not a decimal number without leading zeros that fits 64 bits");
  }
  while (true) {
    if (!next_line(&line)) {
      return absl::InvalidArgumentError("no empty line between the proof and the checkpoint");
    }
    if (line.empty()) break;
    if (req.proof.size() == kMaxWitnessProofLines) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxWitnessProofLines, " consistency proof lines"));
    }
    absl::StatusOr<std::string> raw =
        Base64DecodeStrict(line, absl::StrCat("proof line ", req.proof.size() + 1));
    if (!raw.ok()) return raw.status();
    if (raw->size() != kHashSize) {
      return absl::InvalidArgumentError(absl::StrCat("proof line ", req.proof.size() + 1, ": ",
                                                     raw->size(), " bytes, not a 32-byte hash"));
    }
    Hash h;
    std::copy(raw->begin(), raw->end(), h.begin());
    req.proof.push_back(h);
  }
  req.note = body;
  return req;
}

}  // namespace

Witness::Witness(NoteSigner key, const KnownLogs* logs, WitnessStore* store, WitnessOptions options,
                 WitnessMetrics* metrics)
    : key_(std::move(key)),
      logs_(logs),
      store_(store),
      options_(std::move(options)),
      metrics_(metrics) {
  absl::MutexLock l(&mu_);
  for (CosignedCheckpoint& r : store_->All()) {
    auto slot = std::make_unique<Slot>();
    {
      absl::MutexLock sl(&slot->mu);
      slot->cosigned = true;
      slot->size = r.size;
      slot->root = r.root;
    }
    slots_.emplace(r.origin, std::move(slot));
  }
}

Witness::Slot* Witness::SlotFor(const std::string& origin) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<Slot>& slot = slots_[origin];
  if (slot == nullptr) slot = std::make_unique<Slot>();
  return slot.get();
}

bool Witness::TakeToken(Slot* slot) {
  if (options_.rate_per_log <= 0) return true;
  const absl::Time now = options_.now();
  const double burst = std::max(1.0, options_.burst_per_log);
  if (slot->tokens < 0) {
    slot->tokens = burst;
  } else {
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - slot->refilled));
    slot->tokens = std::min(burst, slot->tokens + elapsed * options_.rate_per_log);
  }
  slot->refilled = now;
  if (slot->tokens < 1) return false;
  slot->tokens -= 1;
  return true;
}

void Witness::AddCheckpoint(absl::string_view body, Done done) {
  absl::StatusOr<Request> req = ParseBody(body);
  if (!req.ok()) return std::move(done)(Refuse(400, req.status().message()));
  absl::StatusOr<Note> parsed = ParseNote(req->note);
  if (!parsed.ok()) return std::move(done)(Refuse(400, parsed.status().message()));
  absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(parsed->text);
  if (!cp.ok()) {
    return std::move(done)(
        Refuse(400, absl::StrCat("the note is not a checkpoint: ", cp.status().message())));
  }
  if (req->old_size > cp->size) {
    return std::move(done)(
        Refuse(400, absl::StrCat("old size ", req->old_size, " > checkpoint size ", cp->size)));
  }
  const WitnessLog* log = logs_->Find(cp->origin);
  if (log == nullptr) {
    return std::move(done)(Refuse(404, absl::StrCat("unknown log origin \"", cp->origin, "\"")));
  }
  const std::string& origin = log->origin;
  absl::StatusOr<Note> note = OpenNote(req->note, log->keys);
  if (!note.ok()) {
    // The note parsed above, so every refusal here is about the log's
    // signatures (none by its key, one that does not verify, or two
    // different ones by its key).
    return std::move(done)(
        Refuse(403, absl::StrCat("checkpoint signature: ", note.status().message()), origin));
  }
  if (cp->size == 0 && cp->root != Sha256("")) {
    return std::move(done)(
        Refuse(422, "a checkpoint of size 0 must have the empty tree's root", origin));
  }
  if (req->old_size == 0 && !req->proof.empty()) {
    return std::move(done)(Refuse(
        422, "old size 0 takes an empty proof (the empty tree is a prefix of any tree)", origin));
  }

  Slot* slot = SlotFor(origin);
  absl::MutexLock l(&slot->mu);
  if (req->old_size != slot->size) {
    WitnessReply r;
    r.status = 409;
    r.body = absl::StrCat(slot->size, "\n");
    r.content_type = kTlogSizeContentType;
    r.origin = origin;
    return std::move(done)(std::move(r));
  }
  if (req->old_size != 0 || slot->cosigned) {
    // From the cosigned tree: same size needs the same root (and no proof),
    // a larger one a proof that the cosigned tree is its prefix.
    Hasher hasher;
    absl::Status consistent =
        req->old_size == 0
            ? absl::OkStatus()
            : VerifyConsistency(req->old_size, cp->size, slot->root, cp->root, req->proof, hasher);
    if (req->old_size == cp->size && cp->root != slot->root) {
      return std::move(done)(
          Refuse(422,
                 absl::StrCat("size ", cp->size,
                              " was cosigned with another root: refusing a second "
                              "history"),
                 origin));
    }
    if (!consistent.ok()) {
      return std::move(done)(Refuse(422,
                                    absl::StrCat("consistency proof from ", req->old_size, " to ",
                                                 cp->size, ": ", consistent.message()),
                                    origin));
    }
  }
  // Only a request that moves the log forward costs a record and counts
  // against the log's rate: nobody else can make one (it needs a new
  // checkpoint the log signed), so replays of its public checkpoints cannot
  // use up its budget.
  const bool advances = !slot->cosigned || cp->size > slot->size;
  if (advances && !TakeToken(slot)) {
    WitnessReply r = Refuse(429,
                            absl::StrCat("log \"", origin, "\" is over its rate of ",
                                         options_.rate_per_log, " new checkpoints per second"),
                            origin);
    r.retry_after_s = 1;
    return std::move(done)(std::move(r));
  }
  const int64_t now = absl::ToUnixSeconds(options_.now());
  absl::StatusOr<NoteSignature> cosig =
      Cosign(key_, note->text, static_cast<uint64_t>(std::max<int64_t>(now, 1)));
  if (!cosig.ok()) return std::move(done)(Refuse(400, cosig.status().message()));

  auto reply = [done = std::move(done), line = cosig->Line(), origin = std::string(origin),
                metrics = metrics_](const absl::Status& s) mutable {
    if (!s.ok()) return std::move(done)(Refuse(503, s.message(), origin));
    if (metrics != nullptr) metrics->Cosigned(origin);
    WitnessReply r;
    r.body = std::move(line);
    r.origin = std::move(origin);
    std::move(done)(std::move(r));
  };
  if (!advances) {
    // The same checkpoint again: nothing new to record, but the answer
    // waits until the state it repeats is durable (it may still be queued).
    store_->AfterDurable(std::move(reply));
    return;
  }
  CosignedCheckpoint record;
  record.origin = origin;
  record.size = cp->size;
  record.root = cp->root;
  record.note = absl::StrCat(note->text, "\n");
  for (const NoteSignature& s : note->verified) record.note.append(s.Line());
  record.note.append(cosig->Line());
  slot->cosigned = true;
  slot->size = cp->size;
  slot->root = cp->root;
  // Queued under the log's lock: the store writes this log's records in the
  // order of their sizes, and this reply waits for its own.
  store_->Commit(std::move(record), std::move(reply));
}

std::optional<std::string> Witness::CheckpointByOriginHash(absl::string_view origin_hash) const {
  const WitnessLog* log = logs_->FindByOriginHash(origin_hash);
  if (log == nullptr) return std::nullopt;
  std::optional<CosignedCheckpoint> r = store_->Latest(log->origin);
  if (!r) return std::nullopt;
  return std::move(r->note);
}

}  // namespace infratrail
