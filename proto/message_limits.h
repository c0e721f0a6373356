// The message sizes of proto/limits.h applied to gRPC, one function per side:
// what a client may send is what the server receives, and what the server
// may send is what a client receives. Every server and client of the Log
// service in this repository (the real server and the test fake, LogClient,
// the load generator) sets its limits through these.
#ifndef INFRATRAIL_PROTO_MESSAGE_LIMITS_H_
#define INFRATRAIL_PROTO_MESSAGE_LIMITS_H_

#include <grpcpp/grpcpp.h>

#include "proto/limits.h"

namespace infratrail {

inline void ApplyMessageLimits(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxResponseBytes));
}

inline void ApplyMessageLimits(grpc::ChannelArguments& args) {
  args.SetMaxSendMessageSize(static_cast<int>(kMaxRequestBytes));
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxResponseBytes));
}

}  // namespace infratrail

#endif  // INFRATRAIL_PROTO_MESSAGE_LIMITS_H_
