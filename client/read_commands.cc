#include "client/read_commands.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <ostream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "infratrail/v1/event.pb.h"
#include "nlohmann/json.hpp"

namespace infratrail::cli {
namespace {

// Prints `status` as "<command>: <message>" and returns its exit code.
int Fail(std::ostream& err, absl::string_view command, const absl::Status& status) {
  err << command << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

// The checkpoint to prove against: --checkpoint FILE, else the latest, which
// must then have --size if that was given.
absl::StatusOr<SignedCheckpoint> TargetCheckpoint(LogClient& client, const std::string& file,
                                                  std::optional<uint64_t> size,
                                                  absl::string_view size_flag) {
  absl::StatusOr<SignedCheckpoint> cp;
  if (!file.empty()) {
    absl::StatusOr<std::string> note = ReadFileArg(file, "--checkpoint", kMaxNoteBytes);
    if (!note.ok()) return note.status();
    cp = client.VerifyCheckpoint(*note);
  } else {
    cp = client.GetCheckpoint();
  }
  if (!cp.ok()) return cp.status();
  if (size.has_value() && *size != cp->size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        size_flag, " ", *size, ": the checkpoint has size ", cp->size(),
        file.empty() ? "; to prove against another size, pass a signed checkpoint of that size "
                       "with --checkpoint FILE"
                     : ""));
  }
  return cp;
}

}  // namespace

ReadCommands AddReadCommands(CLI::App* app, ReadArgs* a) {
  ReadCommands c;
  c.checkpoint = app->add_subcommand(
      "checkpoint", "Print the log's latest checkpoint note (verified when --log-key is given)");
  AddConnectionFlags(c.checkpoint, &a->conn);

  c.prove = app->add_subcommand(
      "prove",
      "Write a verified C2SP .tlog-proof receipt for one entry (by --index or --leaf-hash)");
  AddConnectionFlags(c.prove, &a->conn);
  auto* which = c.prove->add_option_group("entry", "Which entry")->require_option(1);
  which->add_option("--index", a->index, "Entry index");
  which->add_option("--leaf-hash", a->leaf_hash, "Entry leaf hash, base64");
  c.prove->add_option("--size", a->size, "Tree size to prove in (default: the latest checkpoint)");
  c.prove->add_option("--checkpoint", a->checkpoint_file,
                      "A saved signed checkpoint note to prove against");
  c.prove->add_option("--out", a->out, "Receipt file to write (default: stdout)");

  c.consistency = app->add_subcommand(
      "consistency",
      "Print the verified consistency proof (base64 lines) from size --from to the latest "
      "checkpoint (or --to)");
  AddConnectionFlags(c.consistency, &a->conn);
  c.consistency->add_option("--from", a->from, "Older tree size (>= 1)");
  c.consistency->add_option("--to", a->to, "Newer tree size (default: the latest checkpoint)");
  c.consistency->add_option("--old", a->old_checkpoint,
                            "A saved signed checkpoint: prove the log still extends it "
                            "(sets --from)");
  c.consistency->add_option("--checkpoint", a->checkpoint_file,
                            "A saved signed checkpoint of size --to");

  c.get = app->add_subcommand("get", "Print entries as JSON lines with their index");
  AddConnectionFlags(c.get, &a->conn);
  c.get->add_option("--from", a->from, "First index")->required();
  c.get->add_option("--count", a->count, "How many entries")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  return c;
}

int RunCheckpoint(const ReadArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<LogClient>> client = Connect(args.conn, err, "checkpoint");
  if (!client.ok()) return Fail(err, "checkpoint", client.status());
  if (!args.conn.verifies()) {
    absl::StatusOr<std::string> note = (*client)->GetCheckpointNote();
    if (!note.ok()) return Fail(err, "checkpoint", note.status());
    out << *note;
    err << "checkpoint: not verified (no --log-key or --witness-policy)\n";
    return kExitOk;
  }
  absl::StatusOr<SignedCheckpoint> cp = (*client)->GetCheckpoint();
  if (!cp.ok()) return Fail(err, "checkpoint", cp.status());
  out << cp->note;
  return kExitOk;
}

int RunProve(const ReadArgs& args, std::ostream& out, std::ostream& err) {
  if (!args.conn.verifies()) {
    err << "prove: --log-key (or --witness-policy): required (the receipt is verified before it is "
           "written)\n";
    return kExitUsage;
  }
  std::optional<Hash> leaf;
  if (!args.leaf_hash.empty()) {
    absl::StatusOr<Hash> h = HashFromBase64(args.leaf_hash, "--leaf-hash");
    if (!h.ok()) return Fail(err, "prove", h.status());
    leaf = *h;
  }
  absl::StatusOr<std::unique_ptr<LogClient>> client = Connect(args.conn, err, "prove");
  if (!client.ok()) return Fail(err, "prove", client.status());
  absl::StatusOr<SignedCheckpoint> cp =
      TargetCheckpoint(**client, args.checkpoint_file, args.size, "--size");
  if (!cp.ok()) return Fail(err, "prove", cp.status());
  TlogProof receipt;
  if (leaf.has_value()) {
    absl::StatusOr<TlogProof> r = (*client)->ProveLeafHash(*leaf, &*cp);
    if (!r.ok()) return Fail(err, "prove", r.status());
    receipt = *std::move(r);
  } else {
    absl::StatusOr<EntryAndProof> r = (*client)->GetEntryAndProof(*args.index, &*cp);
    if (!r.ok()) return Fail(err, "prove", r.status());
    receipt = std::move(r->receipt);
  }
  const std::string text = receipt.Format();
  if (args.out.empty()) {
    out << text;
  } else if (absl::Status st = WriteFileAtomic(args.out, text, 0644); !st.ok()) {
    return Fail(err, "prove", absl::InvalidArgumentError(absl::StrCat("--out: ", st.message())));
  }
  err << "prove: index " << receipt.index << " verified in " << cp->verified.checkpoint.origin
      << " at size " << cp->size() << "\n";
  return kExitOk;
}

int RunConsistency(const ReadArgs& args, std::ostream& out, std::ostream& err) {
  if (!args.conn.verifies()) {
    err << "consistency: --log-key (or --witness-policy): required (the proof is verified before "
           "it is printed)\n";
    return kExitUsage;
  }
  if (args.from.has_value() == !args.old_checkpoint.empty()) {
    err << "consistency: give exactly one of --from and --old\n";
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<LogClient>> client = Connect(args.conn, err, "consistency");
  if (!client.ok()) return Fail(err, "consistency", client.status());
  std::optional<SignedCheckpoint> old;
  uint64_t from = args.from.value_or(0);
  if (!args.old_checkpoint.empty()) {
    absl::StatusOr<std::string> note = ReadFileArg(args.old_checkpoint, "--old", kMaxNoteBytes);
    if (!note.ok()) return Fail(err, "consistency", note.status());
    absl::StatusOr<SignedCheckpoint> cp = (*client)->VerifyCheckpoint(*note);
    if (!cp.ok()) return Fail(err, "consistency", cp.status());
    old = *std::move(cp);
    from = old->size();
  }
  if (from == 0) {
    err << "consistency: "
        << (old ? "--old: the checkpoint is of the empty tree" : "--from: must be >= 1") << "\n";
    return kExitUsage;
  }
  absl::StatusOr<SignedCheckpoint> to =
      TargetCheckpoint(**client, args.checkpoint_file, args.to, "--to");
  if (!to.ok()) return Fail(err, "consistency", to.status());
  absl::StatusOr<ConsistencyProof> proof = (*client)->GetConsistencyProof(from, &*to);
  if (!proof.ok()) return Fail(err, "consistency", proof.status());
  if (old.has_value() && old->root() != proof->from_root) {
    return Fail(err, "consistency",
                VerificationError(absl::StrCat("--old: the log's root at size ", from,
                                               " differs from the saved checkpoint's (a fork)")));
  }
  for (const Hash& h : proof->proof) out << HashToBase64(h) << "\n";
  err << "consistency: verified: size " << from << " (root " << HashToBase64(proof->from_root)
      << ") is a prefix of " << to->verified.checkpoint.origin << " size " << to->size() << "\n";
  return kExitOk;
}

int RunGet(const ReadArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<LogClient>> client = Connect(args.conn, err, "get");
  if (!client.ok()) return Fail(err, "get", client.status());
  google::protobuf::util::JsonPrintOptions json;
  v1::InfraEvent event;
  uint64_t printed = 0;
  absl::Status st = (*client)->GetEntries(*args.from, args.count, [&](const IndexedEntry& e) {
    nlohmann::ordered_json line = {{"index", e.index},
                                   {"leaf_hash", HashToBase64(HashLeaf(e.data))}};
    std::string event_json;
    if (event.ParseFromString(e.data) &&
        google::protobuf::util::MessageToJsonString(event, &event_json, json).ok()) {
      line["event"] = nlohmann::ordered_json::parse(event_json);
    } else {
      line["data"] = absl::Base64Escape(e.data);
    }
    out << line.dump() << '\n';
    ++printed;
    return true;
  });
  out.flush();
  if (!st.ok()) return Fail(err, "get", st);
  if (printed < args.count) {
    err << "get: " << printed << " of " << args.count
        << " entries: the rest are beyond the latest checkpoint\n";
  }
  return kExitOk;
}

}  // namespace infratrail::cli
