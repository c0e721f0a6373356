// RecordReader: splits an input (a file, stdin, a webhook body) into JSON
// records for a Mapper, with a position for each and bounds on everything.
//
// Layouts, told apart without options:
//  - gzip (first bytes 1f 8b): decompressed as it is read, members one after
//    another; the decompressed bytes are then read as below. At most
//    `max_decompressed_bytes` come out of one input (the records within
//    them are returned), so a gzip bomb ends with an error and not with a
//    full memory or disk. A UTF-8 byte order mark at the start is skipped.
//  - JSON lines: each non-blank line is a JSON value. Positions are
//    "NAME:LINE". A line is bounded by `max_document_bytes` (CloudTrail
//    writes a whole file of records on one line); the records in it by
//    `max_record_bytes`. A line longer than `max_document_bytes` ends the
//    input with an error (it is not read to its end: zeros from a device
//    have none).
//  - One JSON document spread over lines (pretty-printed, as `terraform
//    show -json | jq` or `gcloud logging read --format=json` write it): used
//    when the first non-blank line is not a complete JSON value. It is read
//    whole, up to `max_document_bytes` (its lines may be longer than
//    `max_record_bytes`). Positions are "NAME:LINE" of the line it starts
//    on. Several such documents one after another (`jq .` of JSON lines)
//    are each a value, positioned at their first line. If it does not
//    parse, or passes the bound, and a later line holds a JSON object by
//    itself, the input is JSON lines whose first lines are bad.
// Each value is a record, except a top-level array, and an object with one
// of the mapper's container keys holding an array ({"Records": [...]},
// {"items": [...]}): their items are the records, positioned
// "NAME:LINE:Records[17]" (0-based), and their raw bytes are the item's own.
//
// A record that cannot be read (not JSON, truncated, over
// `max_record_bytes`, an item that is not an object) is returned with
// `error` set and the reader goes on with the next line. Errors that end
// the input (unreadable file, corrupt gzip, a bound on the whole input)
// end Next() and are in status().
#ifndef INFRATRAIL_CLIENT_INGEST_RECORD_READER_H_
#define INFRATRAIL_CLIENT_INGEST_RECORD_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/ingest/input.h"
#include "simdjson.h"

namespace infratrail::ingest {

struct ReaderLimits {
  // One record: a JSON line that is not a container, or one item of a
  // container (--max-record-bytes).
  size_t max_record_bytes = size_t{16} << 20;
  // A whole multi-line document, or one line (--max-document-bytes).
  size_t max_document_bytes = size_t{256} << 20;
  // What one gzip input may decompress to (--max-decompressed-bytes).
  uint64_t max_decompressed_bytes = uint64_t{4} << 30;
};

struct Record {
  std::string position;  // "audit.log:12", "trail.json.gz:1:Records[17]"
  // Valid until the next call to Next(); unset when `error` is set.
  std::string_view raw;
  simdjson::dom::element json;
  // Non-empty: this record could not be read; says why, e.g.
  // "not JSON: syntax error at byte 230 of the line: unexpected end of input".
  std::string error;
  // Input bytes consumed so far (compressed bytes for gzip), for progress.
  uint64_t input_bytes = 0;
};

class RecordReader {
 public:
  // `name` starts every position; `container_keys` are the mapper's.
  RecordReader(std::unique_ptr<ByteSource> source, std::string name,
               std::vector<std::string_view> container_keys, ReaderLimits limits = {});
  ~RecordReader();

  // The next record; false at the end of the input or on an error that ends
  // it (status()).
  bool Next(Record* record);

  // OK at a clean end; otherwise why reading stopped, starting with the
  // input's name and position: "trail.json.gz: decompressed size exceeds
  // 4294967296 bytes (--max-decompressed-bytes): not read further".
  const absl::Status& status() const { return status_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  absl::Status status_;
};

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_RECORD_READER_H_
