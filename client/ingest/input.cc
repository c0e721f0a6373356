#include "client/ingest/input.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace infratrail::ingest {
namespace {

// Reads and inflates this much at a time; small inputs (a webhook POST)
// start smaller.
constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kFirstChunk = size_t{64} << 10;

class Fd : public ByteSource {
 public:
  Fd(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      const ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat(name_, ": read failed: ", std::strerror(errno)));
    }
  }

 private:
  int fd_;
  std::string name_;
};

class Memory : public ByteSource {
 public:
  explicit Memory(std::string_view bytes) : rest_(bytes) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, rest_.size());
    std::memcpy(buf, rest_.data(), n);
    rest_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view rest_;
};

}  // namespace

std::unique_ptr<ByteSource> FdSource(int fd, std::string name) {
  return std::make_unique<Fd>(fd, std::move(name));
}

std::unique_ptr<ByteSource> MemorySource(std::string_view bytes) {
  return std::make_unique<Memory>(bytes);
}

DecodedInput::DecodedInput(std::unique_ptr<ByteSource> source, std::string name,
                           uint64_t max_decompressed_bytes)
    : source_(std::move(source)),
      name_(std::move(name)),
      max_decompressed_bytes_(max_decompressed_bytes),
      chunk_(kFirstChunk) {}

DecodedInput::~DecodedInput() {
  if (gzip_) inflateEnd(&zs_);
}

bool DecodedInput::Fill(absl::Status* status) {
  if (eof_) return false;
  buf_.resize(chunk_);
  chunk_ = std::min(chunk_ * 2, kChunk);
  pos_ = end_ = 0;
  if (bound_reached_) return Fail(status, DecompressedBoundError());
  if (!started_) {
    started_ = true;
    absl::StatusOr<size_t> n = ReadMagic();
    if (!n.ok()) return Fail(status, n.status());
    if (*n >= 2 && static_cast<unsigned char>(in_[0]) == 0x1f &&
        static_cast<unsigned char>(in_[1]) == 0x8b) {
      gzip_ = true;
      std::memset(&zs_, 0, sizeof zs_);
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) {
        return Fail(status, absl::InternalError(absl::StrCat(name_, ": zlib init failed")));
      }
      zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
      zs_.avail_in = static_cast<uInt>(*n);
    } else {
      if (*n == 0) {
        eof_ = true;
        return false;
      }
      std::memcpy(buf_.data(), in_.data(), *n);
      end_ = *n;
      return true;
    }
  }
  if (!gzip_) {
    if (in_eof_) {
      eof_ = true;
      return false;
    }
    absl::StatusOr<size_t> n = source_->Read(buf_.data(), buf_.size());
    if (!n.ok()) return Fail(status, n.status());
    consumed_ += *n;
    if (*n == 0) {
      eof_ = true;
      return false;
    }
    end_ = *n;
    return true;
  }
  while (end_ == 0) {
    if (zs_.avail_in == 0 && !in_eof_) {
      absl::StatusOr<size_t> n = ReadRaw();
      if (!n.ok()) return Fail(status, n.status());
      zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
      zs_.avail_in = static_cast<uInt>(*n);
    }
    if (zs_.avail_in == 0 && in_eof_) {
      eof_ = true;
      if (member_open_) {
        return Fail(status, absl::InvalidArgumentError(
                                absl::StrCat(name_, ": gzip data ends early (truncated after ",
                                             consumed_, " compressed bytes)")));
      }
      return false;
    }
    if (after_member_) {
      // Zero bytes after a member are padding (tape and block devices
      // write them; gzip ignores them), not the start of a corrupt one.
      while (zs_.avail_in > 0 && *zs_.next_in == 0) {
        ++zs_.next_in;
        --zs_.avail_in;
      }
      if (zs_.avail_in == 0) continue;
    }
    // One byte more than the bound allows tells a bomb from an input of
    // exactly the bound; what fits comes out before the error.
    const uint64_t room = max_decompressed_bytes_ - decompressed_;
    zs_.next_out = reinterpret_cast<Bytef*>(buf_.data());
    zs_.avail_out = static_cast<uInt>(std::min<uint64_t>(buf_.size(), room + 1));
    const size_t out_size = zs_.avail_out;
    member_open_ = true;
    after_member_ = false;
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    end_ = out_size - zs_.avail_out;
    if (end_ > room) {
      end_ = static_cast<size_t>(room);
      decompressed_ += end_;
      if (end_ == 0) return Fail(status, DecompressedBoundError());
      bound_reached_ = true;
      return true;
    }
    decompressed_ += end_;
    if (rc == Z_STREAM_END) {
      member_open_ = false;
      after_member_ = true;
      inflateReset(&zs_);  // a following gzip member, if any
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Fail(status,
                  absl::InvalidArgumentError(absl::StrCat(
                      name_, ": corrupt gzip data near compressed byte ", consumed_ - zs_.avail_in,
                      ": ", zs_.msg != nullptr ? zs_.msg : "inflate failed")));
    }
  }
  return true;
}

absl::Status DecodedInput::DecompressedBoundError() const {
  return absl::InvalidArgumentError(
      absl::StrCat(name_, ": decompresses to more than ", max_decompressed_bytes_,
                   " bytes (--max-decompressed-bytes): not read further"));
}

// The first bytes, at least the two of a gzip header unless the input is
// shorter: a pipe may return fewer.
absl::StatusOr<size_t> DecodedInput::ReadMagic() {
  in_.resize(buf_.size());  // never more than buf_ holds (the plain first chunk is copied)
  size_t have = 0;
  while (have < 2) {
    absl::StatusOr<size_t> n = source_->Read(in_.data() + have, in_.size() - have);
    if (!n.ok()) return n.status();
    consumed_ += *n;
    if (*n == 0) {
      in_eof_ = true;
      break;
    }
    have += *n;
  }
  return have;
}

absl::StatusOr<size_t> DecodedInput::ReadRaw() {
  in_.resize(buf_.size());
  absl::StatusOr<size_t> n = source_->Read(in_.data(), in_.size());
  if (n.ok()) {
    consumed_ += *n;
    if (*n == 0) in_eof_ = true;
  }
  return n;
}

bool DecodedInput::Fail(absl::Status* status, absl::Status error) {
  *status = std::move(error);
  eof_ = true;
  return false;
}

}  // namespace infratrail::ingest
