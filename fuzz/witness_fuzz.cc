// libFuzzer target for the witness (verifier/witness): the first byte picks
//   0  ParseLogList on the rest: returns a list or an error that names the
//      source and line; a list formats and parses back to the same origins;
//   1  the rest as an add-checkpoint body, as a stranger sends it;
//   2  the rest as up to 8 bodies separated by "\n--\n", each with its
//      checkpoint text (after the first blank line) signed by the harness
//      with the known log's key, so the fuzzer reaches the compare-and-swap,
//      the proof check and the journal.
// Properties: every reply is one of the spec's codes (200 400 403 404 409
// 422); a 200 never cosigns a smaller tree than the last 200 or the same
// size with another root; a 409 body is the last cosigned size; a restart
// (the journal replayed) ends where the last 200 left the log. Each input
// starts from an empty state in a fresh directory (on /dev/shm when there
// is one, so fsync costs nothing), so a crash reproduces from its input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "fuzz/fuzz_require.h"
#include "verifier/witness/log_list.h"
#include "verifier/witness/witness.h"
#include "verifier/witness/witness_store.h"

namespace {

using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz harness

// A fixed seed: the same key every run, so corpora stay meaningful.
NoteSigner LogKey() { return *NoteSigner::FromSeed("fuzz.example/log", std::string(32, '\x07')); }

struct Harness {
  Harness()
      : log_key(LogKey()),
        witness_key(*NoteSigner::FromSeed("fuzz.example/w", std::string(32, '\x09'))) {
    const std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/witness_fuzz_XXXXXX";
    Require(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir = tmpl;
    known = std::make_unique<KnownLogs>(witness_key.public_key());
    Require(known
                ->Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", log_key.VerifierKey(), "\n"),
                                      "fuzz"))
                .ok(),
            "the log is known");
    Open();
  }
  ~Harness() {
    witness.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  void Open() {
    witness.reset();
    store.reset();
    store = *WitnessStore::Open(dir + "/state");
    WitnessOptions options;
    options.rate_per_log = 0;
    witness = std::make_unique<Witness>(witness_key, known.get(), store.get(), options, nullptr);
  }

  WitnessReply Add(absl::string_view body) {
    absl::Notification done;
    WitnessReply reply;
    witness->AddCheckpoint(body, [&](WitnessReply r) {
      reply = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return reply;
  }

  NoteSigner log_key, witness_key;
  std::string dir;
  std::unique_ptr<WitnessStore> store;
  std::unique_ptr<KnownLogs> known;
  std::unique_ptr<Witness> witness;
  bool cosigned = false;
  uint64_t size = 0;
  std::map<uint64_t, Hash> roots;  // every size ever cosigned
};

void CheckReply(Harness& h, const WitnessReply& r, absl::string_view body) {
  const int s = r.status;
  Require(s == 200 || s == 400 || s == 403 || s == 404 || s == 409 || s == 422,
          "a status the spec names");
  if (s == 409) {
    Require(r.body == absl::StrCat(h.size, "\n"), "409 reports the last cosigned size");
  }
  if (s != 200) return;
  // The checkpoint it cosigned: the note after the first blank line.
  const size_t blank = body.find("\n\n");
  Require(blank != absl::string_view::npos, "a 200 body has a blank line");
  absl::StatusOr<Note> note = ParseNote(body.substr(blank + 2));
  Require(note.ok(), "a 200 checkpoint is a note");
  absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(note->text);
  Require(cp.ok(), "a 200 checkpoint parses");
  Require(!h.cosigned || cp->size >= h.size, "never a smaller tree after a larger one");
  auto it = h.roots.find(cp->size);
  Require(it == h.roots.end() || it->second == cp->root, "never two roots for one size");
  h.roots[cp->size] = cp->root;
  h.cosigned = true;
  h.size = cp->size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const NoteSigner* const kKey = new NoteSigner(LogKey());
  const absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      absl::StatusOr<LogList> list = ParseLogList(rest, "list");
      if (!list.ok()) {
        Require(absl::StartsWith(list.status().message(), "list:"), "errors name the source");
        return 0;
      }
      absl::StatusOr<LogList> again = ParseLogList(FormatLogList(list->logs), "formatted");
      Require(again.ok(), "a formatted list parses");
      Require(again->logs.size() == list->logs.size(), "formatting keeps every log");
      for (size_t i = 0; i < list->logs.size(); ++i) {
        Require(again->logs[i].origin == list->logs[i].origin, "formatting keeps origins");
      }
      return 0;
    }
    case 1: {
      Harness h;
      CheckReply(h, h.Add(rest), rest);
      return 0;
    }
    default: {
      Harness h;
      std::vector<absl::string_view> bodies = absl::StrSplit(rest, "\n--\n");
      if (bodies.size() > 8) bodies.resize(8);
      for (absl::string_view b : bodies) {
        const size_t blank = b.find("\n\n");
        if (blank == absl::string_view::npos) continue;
        absl::StatusOr<std::string> signed_note = SignNote(b.substr(blank + 2), {*kKey});
        if (!signed_note.ok()) continue;
        const std::string body = absl::StrCat(b.substr(0, blank + 2), *signed_note);
        CheckReply(h, h.Add(body), body);
      }
      if (h.cosigned) {
        // Recovery replays the journal to where the last 200 left the log.
        h.Open();
        Require(h.store->Latest("fuzz.example/log").has_value(),
                "a cosigned log survives a restart");
        Require(h.store->Latest("fuzz.example/log")->size == h.size, "restart keeps the last size");
      }
      return 0;
    }
  }
}
