// AcceptGate: a cap on the descriptors the gRPC listener may fill with
// connections, enforced at accept.
//
// gRPC 1.51 (Debian 12) has no connection limit
// (GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS arrived later), and its
// listener gives up for good on the first accept4() that fails with EMFILE:
// after a flood of idle connections the port stays dead even once they
// close. So infratrail-server defines accept4() itself (accept_gate.cc;
// the dynamic linker binds libgrpc's calls to it) and, for the listening
// sockets registered here only:
//   - a connection accepted onto a descriptor numbered at or above the cap
//     is closed at once: the client sees its connection closed before any
//     HTTP/2 frame. Descriptors are allocated lowest-first, so a number at
//     or above the cap means the process holds at least `cap` descriptors;
//     the ones above the cap stay for the server's own files (RocksDB,
//     the signer state, the tiles port);
//   - EMFILE or ENFILE never reaches gRPC: the pending connection is taken
//     off the backlog with a reserved descriptor and closed, and gRPC sees
//     EAGAIN, so the listener keeps listening and recovers once
//     descriptors are free again.
// Other listeners (tiles HTTP, metrics) are untouched.
//
// Thread-safe: the state is atomic; Register* is meant for start-up.
#ifndef INFRATRAIL_SERVER_ACCEPT_GATE_H_
#define INFRATRAIL_SERVER_ACCEPT_GATE_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace infratrail::accept_gate {

// Gates every listening TCP socket of this process bound to `port` (gRPC
// may listen on IPv4 and IPv6), with descriptors numbered >= `fd_cap`
// refused. The number of listeners gated, or an error if none was found or
// the reserve descriptor cannot be opened.
absl::StatusOr<int> GateListeners(int port, int fd_cap);

// Connections closed at accept so far.
uint64_t refused();

// The lowest descriptor number free right now (so roughly how many the
// process holds), or an error.
absl::StatusOr<int> LowestFreeDescriptor();

}  // namespace infratrail::accept_gate

#endif  // INFRATRAIL_SERVER_ACCEPT_GATE_H_
