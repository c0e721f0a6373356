// Golden-file tests of the ingest adapters: an input file written for the
// tests, following the format's public documentation, and the exact
// outcomes the adapter must give for it.
//
// tests/testdata/ingest/<adapter>/<case>.<ext> (ext: json, jsonl, json.gz,
// jsonl.gz) is read with RecordReader exactly as `infratrail ingest` reads a
// file, each record mapped, and every outcome rendered as one JSON line,
// compared with tests/testdata/ingest/<adapter>/<case>.golden.jsonl:
//
//   {"event":{...proto3 JSON of the InfraEvent...},"position":"<case>.jsonl:3"}
//   {"position":"<case>.jsonl:4","skipped":"read-only"}
//   {"position":"<case>.jsonl:5","unmapped":"eventName \"Foo\" is not in the mapping table"}
//   {"error":"...","position":"<case>.jsonl:6"}       (a record RecordReader could not read)
//   {"status":"..."}                                  (last line, if reading ended on an error)
//
// Keys are sorted (the event's too), so a line is one exact string.
#ifndef INFRATRAIL_CLIENT_INGEST_TESTING_GOLDEN_H_
#define INFRATRAIL_CLIENT_INGEST_TESTING_GOLDEN_H_

#include <string>

#include "client/ingest/mapping.h"
#include "client/ingest/record_reader.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::ingest {

// Every outcome of mapping the file at `path` (positions name its basename),
// one rendered line each, '\n'-terminated.
std::string RenderOutcomes(const Mapper& mapper, const std::string& path,
                           const ReaderLimits& limits = {});

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_TESTING_GOLDEN_H_
