// VerifyCorpus (bench/witness_load_corpus.h): the checker the test suite runs
// on a small corpus, and anyone may run on a big one before measuring.
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/witness_load_corpus.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/proof.h"

namespace infratrail::witness_load {
namespace {

// logs.txt as the witness reads it: "logs/v0", then one "vkey" line per log.
absl::StatusOr<absl::flat_hash_map<std::string, NoteVerifier>> ReadLogsFile(
    const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kLogsFile);
  absl::StatusOr<std::string> text = ReadFileBounded(path, 1 << 24);
  if (!text.ok()) return text.status();
  if (!absl::StartsWith(*text, "logs/v0\n") || !absl::EndsWith(*text, "\n")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": does not start with logs/v0"));
  }
  absl::flat_hash_map<std::string, NoteVerifier> verifiers;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(*text).substr(8), '\n', absl::SkipEmpty());
  for (absl::string_view line : lines) {
    if (!absl::ConsumePrefix(&line, "vkey ")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a vkey line: ", line));
    }
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(line);
    if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", v.status().message()));
    const std::string name = v->name();
    if (!verifiers.emplace(name, *std::move(v)).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": two keys for ", name));
    }
  }
  return verifiers;
}

// The root of the first checkpoint every log signs, rebuilt leaf by leaf
// (CompactRange), independently of the node arrays setup proves from.
Hash FirstRoot(uint64_t size, Hasher& hasher) {
  CompactRange range;
  for (uint64_t i = 0; i < size; ++i) range.AppendLeaf(hasher.HashLeaf(LeafEntry(i)), hasher);
  return *range.Root(hasher);
}

struct LogCheck {
  const std::string& dir;
  const CorpusOptions& options;
  const NoteVerifier& verifier;
  const Hash& first_root;
  int index;
};

absl::Status CheckLog(const LogCheck& c, Hasher& hasher, VerifyStats* stats) {
  absl::StatusOr<std::unique_ptr<BodyFile>> file = BodyFile::Open(BodiesPath(c.dir, c.index));
  if (!file.ok()) return file.status();
  const std::vector<absl::string_view>& bodies = (*file)->bodies();
  if (bodies.size() != static_cast<size_t>(c.options.requests_per_log)) {
    return absl::FailedPreconditionError(absl::StrCat("log ", c.index, ": ", bodies.size(),
                                                      " bodies, setup.json says ",
                                                      c.options.requests_per_log));
  }
  uint64_t prev_size = 0;
  Hash prev_root{};
  for (size_t k = 0; k < bodies.size(); ++k) {
    auto fail = [&](absl::string_view why) {
      return absl::FailedPreconditionError(absl::StrCat("log ", c.index, " body ", k, ": ", why));
    };
    absl::StatusOr<ParsedBody> body = ParseBody(bodies[k]);
    if (!body.ok()) return fail(body.status().message());
    absl::StatusOr<Note> note = OpenNote(body->note, {&c.verifier, 1});
    if (!note.ok()) return fail(note.status().message());
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(note->text);
    if (!cp.ok()) return fail(cp.status().message());
    if (cp->origin != LogOrigin(c.index)) return fail(absl::StrCat("origin ", cp->origin));
    if (body->old_size != prev_size) {
      return fail(absl::StrCat("old ", body->old_size, ", previous size ", prev_size));
    }
    if (k == 0) {
      if (cp->size != c.options.start_size) return fail(absl::StrCat("size ", cp->size));
      if (!body->proof.empty()) return fail("proof lines after old 0");
      if (cp->root != c.first_root) return fail("root is not the leaf sequence's");
    } else {
      if (cp->size <= prev_size ||
          cp->size - prev_size > static_cast<uint64_t>(c.options.max_step)) {
        return fail(absl::StrCat("step from ", prev_size, " to ", cp->size));
      }
      absl::Status ok =
          VerifyConsistency(prev_size, cp->size, prev_root, cp->root, body->proof, hasher);
      if (!ok.ok()) return fail(ok.message());
    }
    prev_size = cp->size;
    prev_root = cp->root;
    stats->bodies++;
    stats->body_bytes += bodies[k].size();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifyStats> VerifyCorpus(const std::string& dir) {
  absl::StatusOr<CorpusOptions> options = ReadManifest(dir);
  if (!options.ok()) return options.status();
  absl::StatusOr<absl::flat_hash_map<std::string, NoteVerifier>> verifiers = ReadLogsFile(dir);
  if (!verifiers.ok()) return verifiers.status();
  if (verifiers->size() != static_cast<size_t>(options->logs)) {
    return absl::FailedPreconditionError(absl::StrCat(
        kLogsFile, ": ", verifiers->size(), " keys, setup.json says ", options->logs, " logs"));
  }
  Hasher hasher;
  const Hash first_root = FirstRoot(options->start_size, hasher);
  VerifyStats stats;
  for (int i = 0; i < options->logs; ++i) {
    auto it = verifiers->find(LogOrigin(i));
    if (it == verifiers->end()) {
      return absl::FailedPreconditionError(absl::StrCat(kLogsFile, ": no key for ", LogOrigin(i)));
    }
    if (absl::Status s = CheckLog({dir, *options, it->second, first_root, i}, hasher, &stats);
        !s.ok()) {
      return s;
    }
  }
  return stats;
}

}  // namespace infratrail::witness_load
