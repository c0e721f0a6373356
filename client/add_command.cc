#include "client/add_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/hash.h"
#include "core/tlog_proof.h"
#include "infratrail/v1/event.pb.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitVerify = 1;
constexpr int kExitUsage = 2;
constexpr int kExitServer = 3;

bool ResolveKey(const std::string& arg, std::string* key) {
  if (arg.empty() || arg[0] != '@') {
    *key = arg;
    return true;
  }
  std::ifstream in(arg.substr(1));
  if (!in) return false;
  std::getline(in, *key);
  *key = std::string(absl::StripAsciiWhitespace(*key));
  return true;
}

struct Pending {
  int line = 0;
  std::string bytes;
};

class Adder {
 public:
  Adder(const AddArgs& args, std::ostream& out, std::ostream& err,
        std::optional<NoteVerifier> log_key)
      : args_(args), out_(out), err_(err), log_key_(std::move(log_key)) {
    stub_ = v1::Log::NewStub(grpc::CreateChannel(args.server, grpc::InsecureChannelCredentials()));
  }

  // Sends the batch; prints results. Returns an exit code (0 to go on).
  int Flush(std::vector<Pending>& batch) {
    if (batch.empty()) return kExitOk;
    v1::AddEventsRequest req;
    for (const Pending& p : batch) req.add_entries()->set_data(p.bytes);
    req.set_wait_for_checkpoint(args_.wait);
    v1::AddEventsResponse resp;
    grpc::ClientContext ctx;
    if (!args_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + args_.token);
    grpc::Status st = stub_->AddEvents(&ctx, req, &resp);
    if (!st.ok()) {
      err_ << "add: lines " << batch.front().line << "-" << batch.back().line << ": server "
           << args_.server << ": " << st.error_message() << " (gRPC code " << st.error_code()
           << ")\n";
      return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitUsage : kExitServer;
    }
    if (resp.entries_size() != static_cast<int>(batch.size())) {
      err_ << "add: server answered " << resp.entries_size() << " results for " << batch.size()
           << " entries\n";
      return kExitServer;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const v1::AddedEntry& e = resp.entries(static_cast<int>(i));
      const Hash leaf = HashLeaf(batch[i].bytes);
      if (e.leaf_hash() != AsBytes(leaf)) {
        err_ << "add: line " << batch[i].line << ": server returned a wrong leaf hash\n";
        return kExitVerify;
      }
      if (!args_.receipt_dir.empty()) {
        if (int rc = WriteReceipt(e, leaf, resp.checkpoint(), batch[i].line); rc != kExitOk) {
          return rc;
        }
      }
      out_ << "{\"index\":" << e.index() << ",\"leaf_hash\":\"" << HashToBase64(leaf)
           << "\",\"duplicate\":" << (e.duplicate() ? "true" : "false") << "}\n";
    }
    out_.flush();
    batch.clear();
    return kExitOk;
  }

 private:
  int WriteReceipt(const v1::AddedEntry& e, const Hash& leaf, const std::string& checkpoint,
                   int line) {
    TlogProof proof;
    proof.index = e.index();
    proof.checkpoint = checkpoint;
    for (const std::string& h : e.inclusion_proof()) {
      absl::StatusOr<Hash> hash = HashFromBytes(h, "inclusion_proof");
      if (!hash.ok()) {
        err_ << "add: line " << line << ": " << hash.status().message() << "\n";
        return kExitVerify;
      }
      proof.inclusion_proof.push_back(*hash);
    }
    absl::StatusOr<VerifiedCheckpoint> v = VerifyTlogProof(proof, leaf, *log_key_, WitnessPolicy{});
    if (!v.ok()) {
      err_ << "add: line " << line << ": receipt does not verify: " << v.status().message() << "\n";
      return kExitVerify;
    }
    const std::string path = absl::StrCat(args_.receipt_dir, "/", e.index(), ".tlog-proof");
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << proof.Format();
    if (!f) {
      err_ << "add: --receipt-dir: cannot write " << path << "\n";
      return kExitUsage;
    }
    return kExitOk;
  }

  const AddArgs& args_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<NoteVerifier> log_key_;
  std::unique_ptr<v1::Log::Stub> stub_;
};

}  // namespace

int RunAdd(const AddArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
  std::optional<NoteVerifier> log_key;
  if (!args.log_key.empty()) {
    std::string vkey;
    if (!ResolveKey(args.log_key, &vkey)) {
      err << "add: --log-key: cannot read " << args.log_key.substr(1) << "\n";
      return kExitUsage;
    }
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(vkey);
    if (!v.ok()) {
      err << "add: --log-key: " << v.status().message() << "\n";
      return kExitUsage;
    }
    log_key = *v;
  }
  if (!args.receipt_dir.empty() && (!args.wait || !log_key.has_value())) {
    err << "add: --receipt-dir: needs --wait and --log-key (receipts are verified first)\n";
    return kExitUsage;
  }
  Adder adder(args, out, err, log_key);
  std::vector<Pending> batch;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::InfraEvent event;
    auto st = google::protobuf::util::JsonStringToMessage(line, &event);
    if (!st.ok()) {
      // Everything before this line is sent (and reported) first.
      if (int rc = adder.Flush(batch); rc != kExitOk) return rc;
      err << "add: line " << line_no << ": not an InfraEvent: " << st.message() << "\n";
      return kExitUsage;
    }
    Pending p;
    p.line = line_no;
    event.SerializeToString(&p.bytes);
    batch.push_back(std::move(p));
    if (batch.size() >= args.batch) {
      if (int rc = adder.Flush(batch); rc != kExitOk) return rc;
    }
  }
  return adder.Flush(batch);
}

}  // namespace infratrail
