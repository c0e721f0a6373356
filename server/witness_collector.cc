#include "server/witness_collector.h"

#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/encoding.h"
#include "core/http/http_fetcher.h"
#include "core/note_key.h"
#include "server/metrics.h"

namespace infratrail {

struct WitnessCollector::Job {
  uint64_t round = 0;
  std::string note;
  uint64_t size = 0;  // the checkpoint's tree size
};

// Fields below `thread` are guarded by the collector's mu_.
struct WitnessCollector::Worker {
  std::string name;  // the policy's name for it (the metric label)
  NoteVerifier key;  // its cosignature key
  std::string url;   // <prefix>/add-checkpoint
  std::unique_ptr<HttpFetcher> http;
  WitnessMetrics metrics;
  std::thread thread;

  uint64_t size = 0;        // what it last cosigned, as far as we know
  uint64_t done_round = 0;  // the last round it finished (either way)
  uint64_t cosigned_round = 0;
  NoteSignature cosignature;  // for cosigned_round
  std::string outcome = "not asked yet";
};

namespace {

constexpr absl::string_view kSizeContentType = "text/x.tlog.size";

// Outcomes, the metric's label values.
constexpr absl::string_view kCosigned = "cosigned";
constexpr absl::string_view kConflict = "conflict";  // 409 with the witness's size
constexpr absl::string_view kInconsistent = "inconsistent";
constexpr absl::string_view kRefused = "refused";
constexpr absl::string_view kBadAnswer = "bad_answer";
constexpr absl::string_view kFailed = "failed";  // transport, 429, 5xx: retried

std::string Snippet(absl::string_view body) {
  std::string s(absl::StripAsciiWhitespace(body.substr(0, 200)));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return s;
}

}  // namespace

std::string EncodeWitnessSizes(const std::vector<std::pair<std::string, uint64_t>>& sizes) {
  std::string out;
  for (const auto& [vkey, size] : sizes) absl::StrAppend(&out, size, " ", vkey, "\n");
  return out;
}

std::vector<std::pair<std::string, uint64_t>> ParseWitnessSizes(absl::string_view value) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (absl::string_view line : absl::StrSplit(value, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(line, ' ');
    uint64_t size = 0;
    if (parts.second.empty() || !absl::SimpleAtoi(parts.first, &size)) continue;
    out.emplace_back(std::string(parts.second), size);
  }
  return out;
}

WitnessCollector::WitnessCollector(std::shared_ptr<const TlogPolicy> policy, WitnessProver prover,
                                   const WitnessCollectorOptions& options, Metrics* metrics)
    : policy_(std::move(policy)),
      prover_(std::move(prover)),
      options_(options),
      metrics_(metrics) {}

absl::StatusOr<std::unique_ptr<WitnessCollector>> WitnessCollector::Start(
    std::shared_ptr<const TlogPolicy> policy, const std::string& known_sizes, WitnessProver prover,
    const WitnessCollectorOptions& options, Metrics* metrics) {
  std::unique_ptr<WitnessCollector> c(
      new WitnessCollector(std::move(policy), std::move(prover), options, metrics));
  const std::vector<std::pair<std::string, uint64_t>> sizes = ParseWitnessSizes(known_sizes);
  for (const TlogPolicyWitness& pw : c->policy_->witnesses()) {
    if (pw.url.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "witness ", pw.name, " has no URL in the policy: the log cannot ask it to cosign"));
    }
    auto w = std::make_unique<Worker>();
    w->name = pw.name;
    w->key = pw.key;
    w->url = absl::StrCat(absl::StripSuffix(pw.url, "/"), "/add-checkpoint");
    HttpFetcherOptions ho;
    ho.timeout = absl::ToChronoMilliseconds(options.timeout);
    ho.connect_timeout = ho.timeout;
    ho.low_speed_time = std::chrono::seconds(std::max<int64_t>(
        1, absl::ToInt64Seconds(options.timeout)));  // the timeout bounds it anyway
    ho.ca_file = options.ca_file;
    ho.max_redirects = 0;
    ho.max_in_flight = 1;
    ho.user_agent = "infratrail-server";
    WitnessCollector* raw = c.get();
    ho.cancelled = [raw] {
      absl::MutexLock l(&raw->mu_);
      return raw->stopping_;
    };
    absl::StatusOr<std::unique_ptr<HttpFetcher>> http = HttpFetcher::Create(ho);
    if (!http.ok()) return http.status();
    w->http = *std::move(http);
    w->metrics = metrics->ForWitness(pw.name);
    for (const auto& [vkey, size] : sizes) {
      if (vkey == pw.key.vkey()) w->size = size;
    }
    w->metrics.size->Set(static_cast<double>(w->size));
    c->workers_.push_back(std::move(w));
  }
  for (const std::unique_ptr<Worker>& w : c->workers_) {
    w->thread = std::thread([raw = c.get(), wp = w.get()] { raw->RunWorker(wp); });
  }
  return c;
}

WitnessCollector::~WitnessCollector() { Stop(); }

size_t WitnessCollector::witness_count() const { return workers_.size(); }

void WitnessCollector::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (const std::unique_ptr<Worker>& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void WitnessCollector::RunWorker(Worker* w) {
  uint64_t last_round = 0;
  for (;;) {
    std::shared_ptr<const Job> job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this, last_round]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (job_ != nullptr && job_->round > last_round);
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      job = job_;
    }
    last_round = job->round;
    absl::StatusOr<NoteSignature> cosig = Submit(w, *job);
    absl::MutexLock l(&mu_);
    w->done_round = job->round;
    if (cosig.ok()) {
      w->cosigned_round = job->round;
      w->cosignature = *std::move(cosig);
      w->outcome = absl::StrCat("cosigned size ", job->size);
    } else {
      w->outcome = std::string(cosig.status().message());
    }
  }
}

absl::StatusOr<NoteSignature> WitnessCollector::Submit(Worker* w, const Job& job) {
  const uint64_t size = job.size;
  int attempts = 0;
  int corrections = 0;
  absl::Duration backoff = options_.retry_backoff;
  absl::Status last;
  for (;;) {
    uint64_t old = 0;
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return absl::CancelledError("stopping");
      old = w->size;
    }
    if (old > size) {
      // We never signed beyond `size`'s lineage: the witness holds a tree
      // this log did not sign from this store (restored from an older
      // backup?) or another history. Not retried.
      w->metrics.requests(kInconsistent).Increment();
      return absl::FailedPreconditionError(
          absl::StrCat("witness holds size ", old, ", beyond this checkpoint's size ", size,
                       " (the log's store is behind what this witness cosigned)"));
    }
    std::string body = absl::StrCat("old ", old, "\n");
    if (old > 0 && old < size) {
      absl::StatusOr<std::vector<Hash>> proof = prover_(old, size);
      if (!proof.ok()) {
        return absl::Status(
            proof.status().code(),
            absl::StrCat("consistency proof ", old, " -> ", size, ": ", proof.status().message()));
      }
      for (const Hash& h : *proof) absl::StrAppend(&body, HashToBase64(h), "\n");
    }
    absl::StrAppend(&body, "\n", job.note);

    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<HttpResponse> resp =
        w->http->Post(w->url, body, "text/plain; charset=utf-8", options_.max_response_bytes);
    w->metrics.seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (absl::IsCancelled(resp.status())) return resp.status();

    if (resp.ok() && resp->status == 200) {
      // The answer must hold this witness's valid cosignature over this
      // checkpoint: the note we sent plus the answer's lines, opened with
      // the witness's key only.
      absl::StatusOr<Note> opened = OpenNote(absl::StrCat(job.note, resp->body), {w->key});
      if (opened.ok()) {
        for (const NoteSignature& s : opened->verified) {
          if (s.name != w->key.name() || s.key_id != w->key.key_id()) continue;
          w->metrics.requests(kCosigned).Increment();
          w->metrics.size->Set(static_cast<double>(size));
          absl::MutexLock l(&mu_);
          if (w->size != size) sizes_dirty_ = true;
          w->size = size;
          return s;
        }
      }
      w->metrics.requests(kBadAnswer).Increment();
      last = absl::UnauthenticatedError(absl::StrCat(
          "200 without a valid cosignature by ", w->key.name(),
          opened.ok() ? std::string() : absl::StrCat(": ", opened.status().message())));
    } else if (resp.ok() && resp->status == 409) {
      uint64_t theirs = 0;
      const bool has_size = absl::StartsWith(resp->content_type, kSizeContentType) &&
                            absl::SimpleAtoi(absl::StripAsciiWhitespace(resp->body), &theirs);
      w->metrics.requests(kConflict).Increment();
      if (has_size && theirs != old && corrections < 2) {
        ++corrections;
        {
          absl::MutexLock l(&mu_);
          w->size = theirs;
          sizes_dirty_ = true;
        }
        w->metrics.size->Set(static_cast<double>(theirs));
        continue;  // again, from the witness's size
      }
      return absl::FailedPreconditionError(
          has_size
              ? absl::StrCat("409: the witness holds size ", theirs)
              : absl::StrCat("409 without a ", kSizeContentType, " size: ", Snippet(resp->body)));
    } else if (resp.ok() && resp->status == 422) {
      w->metrics.requests(kInconsistent).Increment();
      std::cerr << "infratrail-server: WITNESS " << w->name << " REFUSED size " << size
                << " AS INCONSISTENT with what it cosigned (422: " << Snippet(resp->body)
                << "): it holds another history of this log\n";
      return absl::FailedPreconditionError(
          absl::StrCat("422: inconsistent with what the witness cosigned: ", Snippet(resp->body)));
    } else if (resp.ok() && (resp->status == 400 || resp->status == 403 || resp->status == 404 ||
                             resp->status == 413)) {
      w->metrics.requests(kRefused).Increment();
      return absl::FailedPreconditionError(
          absl::StrCat(resp->status, ": ", Snippet(resp->body),
                       resp->status == 404 ? " (the witness does not know this log)" : ""));
    } else {
      w->metrics.requests(kFailed).Increment();
      last = resp.ok()
                 ? absl::UnavailableError(absl::StrCat(resp->status, ": ", Snippet(resp->body)))
                 : resp.status();
    }
    if (++attempts >= options_.attempts) return last;
    absl::MutexLock l(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff)) {
      return absl::CancelledError("stopping");
    }
    backoff *= 2;
  }
}

bool WitnessCollector::QuorumMetLocked(uint64_t round) const {
  absl::flat_hash_set<std::string> names;
  for (const std::unique_ptr<Worker>& w : workers_) {
    if (w->cosigned_round == round) names.insert(w->name);
  }
  return policy_->Satisfied(names);
}

WitnessCollector::Result WitnessCollector::Collect(const std::string& note, uint64_t size) {
  Result out;
  absl::MutexLock l(&mu_);
  auto job = std::make_shared<Job>();
  job->round = ++round_;
  job->note = note;
  job->size = size;
  job_ = job;
  const uint64_t round = job->round;
  auto settled = [this, round]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stopping_ || QuorumMetLocked(round)) return true;
    for (const std::unique_ptr<Worker>& w : workers_) {
      if (w->done_round < round) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&settled));
  std::vector<std::string> missing;
  for (const std::unique_ptr<Worker>& w : workers_) {
    if (w->cosigned_round == round) {
      out.cosignatures.push_back(w->cosignature);
    } else {
      missing.push_back(
          absl::StrCat(w->name, ": ", w->done_round < round ? "still trying" : w->outcome));
    }
  }
  out.quorum_met = QuorumMetLocked(round);
  if (!out.quorum_met) {
    out.detail = absl::StrCat("witness quorum not met for size ", size, " (",
                              stopping_ ? "stopping; " : "", absl::StrJoin(missing, "; "), ")");
  }
  return out;
}

std::optional<std::string> WitnessCollector::SizesToPersist() {
  absl::MutexLock l(&mu_);
  if (!sizes_dirty_) return std::nullopt;
  sizes_dirty_ = false;
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const std::unique_ptr<Worker>& w : workers_) sizes.emplace_back(w->key.vkey(), w->size);
  return EncodeWitnessSizes(sizes);
}

}  // namespace infratrail
