// The bytes of one input as RecordReader reads them: from a ByteSource (a
// file descriptor, or memory), gunzipped as they are read when the input
// starts with the gzip magic (1f 8b; members one after another), and at
// most `max_decompressed_bytes` of them out of one gzip input, so a gzip
// bomb ends with an error and not with a full memory.
#ifndef INFRATRAIL_CLIENT_INGEST_INPUT_H_
#define INFRATRAIL_CLIENT_INGEST_INPUT_H_

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace infratrail::ingest {

// A source of bytes: a file descriptor, or memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`; 0 at the end. Errors name the input.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

// Reads `fd` (not closed by the source). `name` is used in errors.
std::unique_ptr<ByteSource> FdSource(int fd, std::string name);
// Reads `bytes`, which must outlive the source.
std::unique_ptr<ByteSource> MemorySource(std::string_view bytes);

class DecodedInput {
 public:
  DecodedInput(std::unique_ptr<ByteSource> source, std::string name,
               uint64_t max_decompressed_bytes);
  ~DecodedInput();
  DecodedInput(const DecodedInput&) = delete;
  DecodedInput& operator=(const DecodedInput&) = delete;

  // The decoded bytes not consumed yet.
  const char* data() const { return buf_.data() + pos_; }
  size_t size() const { return end_ - pos_; }
  void Consume(size_t n) { pos_ += n; }

  // Replaces what is left with the next decoded bytes (64 KiB at first,
  // doubling to 1 MiB). False at the end, or on an error in *status (a read error,
  // corrupt or truncated gzip data, the bound), after which it stays false.
  bool Fill(absl::Status* status);

  // Bytes read from the source so far (compressed bytes for gzip).
  uint64_t consumed() const { return consumed_; }

 private:
  absl::Status DecompressedBoundError() const;
  absl::StatusOr<size_t> ReadMagic();
  absl::StatusOr<size_t> ReadRaw();
  bool Fail(absl::Status* status, absl::Status error);

  std::unique_ptr<ByteSource> source_;
  const std::string name_;
  const uint64_t max_decompressed_bytes_;
  std::string in_;   // bytes from the source, before inflating
  std::string buf_;  // decoded bytes
  size_t pos_ = 0, end_ = 0;
  size_t chunk_;  // the size of the next read or inflate, growing to 1 MiB
  bool started_ = false, eof_ = false, in_eof_ = false;
  bool gzip_ = false, member_open_ = false, bound_reached_ = false;
  bool after_member_ = false;  // a member ended; zeros after it are padding
  z_stream zs_{};
  uint64_t consumed_ = 0, decompressed_ = 0;
};

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_INPUT_H_
