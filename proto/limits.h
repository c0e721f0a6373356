// The limits of the infratrail.v1.Log API, in one place: what the server
// enforces and what clients, the CLI, the load generator and the tests hold
// themselves to. Each value says why it is what it is; the message sizes are
// derived from the entry limits and checked against them below, so the pair
// (what a client sends, what the server receives) cannot drift apart.
// proto/message_limits.h applies the message sizes to gRPC.
//
// docs/operations.md ("Limits and hostile clients") and log.proto state
// these values to users; change them together.
#ifndef INFRATRAIL_PROTO_LIMITS_H_
#define INFRATRAIL_PROTO_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "core/hash.h"
#include "core/note.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail {

// Largest entry (a serialized InfraEvent). Entries are served as C2SP entry
// bundles, whose uint16 length prefix cannot describe a larger one: 65,535
// bytes, one byte less than "64 KiB".
inline constexpr size_t kMaxEntryBytes = kMaxBundleEntrySize;

// Most entries in one AddEvents request. The server validates and hashes
// every entry of a request before it queues any, and a reply with
// wait_for_checkpoint carries a proof per entry; 1000 amortises the cost of
// an RPC (docs/benchmarks.md: 167k events/s in batches of 1000) while a full
// batch of the largest entries still fits in kMaxRequestBytes.
inline constexpr size_t kMaxEntriesPerAdd = 1000;

// Most entries one GetEntries call returns. The stream holds one message at
// a time (below), so this does not bound memory: it bounds how long one call
// keeps one of the server's GetEntries streams (--grpc-max-entries-streams).
// Readers of more call again from where the stream ended.
inline constexpr uint64_t kMaxEntriesPerGet = 10000;

// GetEntries streams its answer in messages of at most kEntriesPerMessage
// entries and about kEntriesMessageBytes of entry bytes: the server adds
// entries while it holds fewer bytes than that, so a message holds at most
// kEntriesMessageBytes - 1 plus one largest entry. Large enough that framing
// and per-message costs are small next to the data; small enough that a
// stalled stream holds little (docs/operations.md, "Memory budget for
// readers": about 2 messages per stream).
inline constexpr size_t kEntriesPerMessage = 256;
inline constexpr size_t kEntriesMessageBytes = 512 << 10;

// Largest request message the server receives, and so the largest a client
// may send. The largest valid request is a full AddEvents batch of the
// largest entries (kMaxAddEventsRequestBytes, 62.5 MiB); rounded up to 64
// MiB. Anything larger cannot be valid, and gRPC refuses it before it is
// parsed: RESOURCE_EXHAUSTED "Received message larger than max (<size> vs.
// 67108864)".
inline constexpr size_t kMaxRequestBytes = size_t{64} << 20;

// Largest response message the server sends, and so the largest a client
// must receive. The largest response is AddEvents with wait_for_checkpoint
// (kMaxAddEventsResponseBytes, about 3.1 MiB with a proof of 64 hashes per
// entry and a checkpoint note of the largest size a client opens). 4 MiB is
// also gRPC's default receive limit, so a client that sets none reads every
// response.
inline constexpr size_t kMaxResponseBytes = size_t{4} << 20;

// How the message sizes follow from the limits above. Protobuf framing: a
// field numbered below 16 has a 1-byte tag; a length-delimited field adds its
// length, at most 3 bytes below 2 MiB; a uint64 is at most 10 bytes, a bool
// 1. proto/limits_test.cc builds the largest messages and checks these bounds
// hold.
namespace wire_bound {
inline constexpr size_t kTag = 1;
inline constexpr size_t kLength = 3;
inline constexpr size_t kUint64 = 10;
inline constexpr size_t kBool = 1;
inline constexpr size_t kHashField = kTag + 1 + kHashSize;
static_assert(kMaxNoteBytes < (size_t{1} << 21) && kMaxEntryBytes < (size_t{1} << 21),
              "a length of these fields must fit kLength");
}  // namespace wire_bound

// A full AddEventsRequest: per entry the Entry field and its data field,
// then wait_for_checkpoint.
inline constexpr size_t kMaxAddEventsRequestBytes =
    kMaxEntriesPerAdd * (2 * (wire_bound::kTag + wire_bound::kLength) + kMaxEntryBytes) +
    wire_bound::kTag + wire_bound::kBool;

// The largest AddEventsResponse: per entry its index, leaf hash, duplicate
// flag and inclusion proof, then the checkpoint note.
inline constexpr size_t kMaxAddedEntryBytes =
    wire_bound::kTag + wire_bound::kUint64 + wire_bound::kHashField + wire_bound::kTag +
    wire_bound::kBool + kMaxInclusionProofHashes * wire_bound::kHashField;
inline constexpr size_t kMaxAddEventsResponseBytes =
    kMaxEntriesPerAdd * (wire_bound::kTag + wire_bound::kLength + kMaxAddedEntryBytes) +
    wire_bound::kTag + wire_bound::kLength + kMaxNoteBytes;

// The largest GetEntriesResponse: kEntriesPerMessage IndexedEntry fields
// (index and data) holding at most kEntriesMessageBytes - 1 + kMaxEntryBytes.
inline constexpr size_t kMaxGetEntriesMessageBytes =
    kEntriesPerMessage * (3 * wire_bound::kTag + wire_bound::kUint64 + 2 * wire_bound::kLength) +
    kEntriesMessageBytes - 1 + kMaxEntryBytes;

// Every valid request is received; every response is read. The proof RPCs
// answer a proof, at most one entry and one note: less than either.
static_assert(kMaxAddEventsRequestBytes <= kMaxRequestBytes);
static_assert(kMaxAddEventsResponseBytes <= kMaxResponseBytes);
static_assert(kMaxGetEntriesMessageBytes <= kMaxResponseBytes);
// gRPC takes message sizes as int.
static_assert(kMaxRequestBytes <= INT32_MAX && kMaxResponseBytes <= INT32_MAX);

// Not a limit but a name both sides must agree on: the trailing metadata
// key in which a standby of a shared database names the leader's gRPC
// address when it refuses a write (docs/ha.md); clients follow it.
inline constexpr char kLeaderTrailer[] = "infratrail-leader";

}  // namespace infratrail

#endif  // INFRATRAIL_PROTO_LIMITS_H_
