// stalled_reader: a hostile reader for measuring the server (docs/
// operations.md, "Limits and hostile clients"). Opens N GetEntries streams,
// each on its own connection with BDP probing off, takes the first message
// of each and never reads again; meanwhile calls GetCheckpoint every 50 ms
// from another connection for HOLD seconds and prints its latency.
//
//   stalled_reader HOST:PORT N HOLD
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "infratrail/v1/log.grpc.pb.h"
#include "proto/message_limits.h"

namespace {

struct Stream {
  grpc::ClientContext ctx;
  std::unique_ptr<infratrail::v1::Log::Stub> stub;
  std::unique_ptr<grpc::ClientReader<infratrail::v1::GetEntriesResponse>> reader;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: stalled_reader HOST:PORT N HOLD_SECONDS\n");
    return 2;
  }
  const std::string address = argv[1];
  const int n = std::atoi(argv[2]);
  const int hold_s = std::atoi(argv[3]);
  std::vector<std::unique_ptr<Stream>> streams;
  int admitted = 0;
  int refused = 0;
  for (int i = 0; i < n; ++i) {
    auto s = std::make_unique<Stream>();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt("infratrail.stalled_reader.id", i);  // a connection per stream
    infratrail::ApplyMessageLimits(args);
    s->stub = infratrail::v1::Log::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    infratrail::v1::GetEntriesRequest req;
    req.set_start(0);
    req.set_count(infratrail::kMaxEntriesPerGet);
    s->reader = s->stub->GetEntries(&s->ctx, req);
    infratrail::v1::GetEntriesResponse first;
    ++(s->reader->Read(&first) ? admitted : refused);
    streams.push_back(std::move(s));
  }
  std::printf("streams admitted %d, refused %d\n", admitted, refused);
  std::fflush(stdout);

  auto stub = infratrail::v1::Log::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<double> ms;
  int failed = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(hold_s);
  while (std::chrono::steady_clock::now() < end) {
    grpc::ClientContext ctx;
    infratrail::v1::GetCheckpointResponse resp;
    const auto start = std::chrono::steady_clock::now();
    const grpc::Status st =
        stub->GetCheckpoint(&ctx, infratrail::v1::GetCheckpointRequest(), &resp);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (!st.ok()) ++failed;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    std::printf("GetCheckpoint: %zu calls, %d failed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                ms.size(), failed, ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
  }
  for (auto& s : streams) s->ctx.TryCancel();
  return 0;
}
