// Hostile inputs for RecordReader: bombs, huge lines, broken gzip, broken
// JSON, deep nesting, failing sources. Large inputs are produced lazily by
// ByteSources here, so no test holds more than a few MiB.
#include "client/ingest/record_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::vector<std::string_view> kKeys = {"Records", "items"};

struct Got {
  std::string position;
  std::string raw;
  std::string error;
  bool operator==(const Got&) const = default;
};

void PrintTo(const Got& g, std::ostream* os) {
  *os << "{" << g.position << ", raw=" << g.raw.substr(0, 80) << ", error=" << g.error << "}";
}

Got Ok(std::string position, std::string raw) { return {std::move(position), std::move(raw), ""}; }

struct Result {
  std::vector<Got> records;
  absl::Status status;
};

Result ReadAll(std::unique_ptr<ByteSource> source, ReaderLimits limits = {},
               std::string name = "in") {
  RecordReader reader(std::move(source), std::move(name), kKeys, limits);
  Result out;
  Record r;
  while (reader.Next(&r)) {
    Got g{r.position, r.error.empty() ? std::string(r.raw) : "", r.error};
    if (g.raw.size() > 200) g.raw = absl::StrCat("<", g.raw.size(), " bytes>");
    out.records.push_back(std::move(g));
  }
  out.status = reader.status();
  return out;
}

Result ReadString(std::string_view text, ReaderLimits limits = {}) {
  return ReadAll(MemorySource(text), limits);
}

// Pieces, each a literal or a byte repeated `count` times, produced as read.
class LazySource : public ByteSource {
 public:
  LazySource& Add(std::string literal) {
    parts_.push_back({std::move(literal), 0, 0});
    return *this;
  }
  LazySource& Repeat(char c, uint64_t count) {
    parts_.push_back({"", c, count});
    return *this;
  }
  // Read() fails once this many bytes are out.
  LazySource& FailAfter(uint64_t n) {
    fail_after_ = n;
    return *this;
  }
  // Read() returns at most this many bytes (a pipe's short reads).
  LazySource& MaxRead(size_t n) {
    max_read_ = n;
    return *this;
  }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, max_read_);
    if (out_ >= fail_after_) return absl::DataLossError("lazy: read failed: EIO");
    n = static_cast<size_t>(std::min<uint64_t>(n, fail_after_ - out_));
    size_t done = 0;
    while (done < n && part_ < parts_.size()) {
      Part& p = parts_[part_];
      const uint64_t size = p.count != 0 ? p.count : p.literal.size();
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n - done, size - off_));
      if (p.count != 0) {
        std::memset(buf + done, p.fill, k);
      } else {
        std::memcpy(buf + done, p.literal.data() + off_, k);
      }
      done += k;
      off_ += k;
      if (off_ == size) {
        ++part_;
        off_ = 0;
      }
    }
    out_ += done;
    return done;
  }

 private:
  struct Part {
    std::string literal;
    char fill;
    uint64_t count;
  };
  std::vector<Part> parts_;
  size_t part_ = 0;
  uint64_t off_ = 0, out_ = 0;
  uint64_t fail_after_ = ~uint64_t{0};
  size_t max_read_ = ~size_t{0};
};

// Counts what the reader took from `inner`.
class CountingSource : public ByteSource {
 public:
  CountingSource(std::unique_ptr<ByteSource> inner, uint64_t* count)
      : inner_(std::move(inner)), count_(count) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    absl::StatusOr<size_t> r = inner_->Read(buf, n);
    if (r.ok()) *count_ += *r;
    return r;
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t* count_;
};

// gzip of `pattern` repeated `times`, compressed as it is read: neither the
// plaintext nor the whole compressed stream is ever held.
class GzipBombSource : public ByteSource {
 public:
  GzipBombSource(std::string_view pattern, uint64_t times) : left_(pattern.size() * times) {
    EXPECT_EQ(deflateInit2(&zs_, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    for (uint64_t i = 0; i < times && block_.size() < (size_t{1} << 20); ++i) block_ += pattern;
  }
  ~GzipBombSource() override { deflateEnd(&zs_); }

  // Plaintext bytes compressed so far.
  uint64_t plain_bytes() const { return plain_; }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    while (off_ == out_.size() && !finished_) {
      // block_ is whole patterns, so any multiple of pattern.size() of it is.
      const size_t k = static_cast<size_t>(std::min<uint64_t>(left_, block_.size()));
      left_ -= k;
      plain_ += k;
      const int flush = left_ == 0 ? Z_FINISH : Z_NO_FLUSH;
      zs_.next_in = reinterpret_cast<Bytef*>(block_.data());
      zs_.avail_in = static_cast<uInt>(k);
      out_.clear();
      off_ = 0;
      char tmp[1 << 16];
      int rc;
      do {
        zs_.next_out = reinterpret_cast<Bytef*>(tmp);
        zs_.avail_out = sizeof tmp;
        rc = deflate(&zs_, flush);
        out_.append(tmp, sizeof tmp - zs_.avail_out);
      } while (zs_.avail_out == 0 || zs_.avail_in != 0);
      finished_ = rc == Z_STREAM_END;
    }
    n = std::min(n, out_.size() - off_);
    std::memcpy(buf, out_.data() + off_, n);
    off_ += n;
    return n;
  }

 private:
  z_stream zs_{};
  std::string block_, out_;
  size_t off_ = 0;
  uint64_t left_, plain_ = 0;
  bool finished_ = false;
};

std::string GzipRepeated(std::string_view pattern, uint64_t times) {
  GzipBombSource source(pattern, times);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const size_t n = *source.Read(buf, sizeof buf);
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string Gzip(std::string_view text) { return GzipRepeated(text, 1); }

// ---- Lines ----------------------------------------------------------------

TEST(RecordReaderLines, EmptyAndWhitespaceOnlyInputsHoldNoRecords) {
  for (std::string_view text : {"", "\n", "\n\n\n", "  \t \r\n \n", " "}) {
    Result r = ReadString(text);
    EXPECT_THAT(r.records, IsEmpty()) << text;
    EXPECT_TRUE(r.status.ok()) << r.status;
  }
}

TEST(RecordReaderLines, BlankLinesCountAndCrlfIsStripped) {
  Result r = ReadString("\r\n{\"a\":1}\r\n\r\n  \n{\"b\":2}\r\n{\"c\":3}");
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:2", "{\"a\":1}"), Ok("in:5", "{\"b\":2}"),
                                     Ok("in:6", "{\"c\":3}")));
}

TEST(RecordReaderLines, LastLineWithoutNewlineAndTrailingCarriageReturn) {
  Result r = ReadString("{\"a\":1}\n{\"b\":2}\r");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}"), Ok("in:2", "{\"b\":2}")));
}

TEST(RecordReaderLines, TruncatedLineIsOneErrorAndTheNextIsRead) {
  Result r = ReadString("{\"a\":1}\n{\"b\":\n{\"c\":3}\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:1", "{\"a\":1}"));
  EXPECT_EQ(r.records[1].position, "in:2");
  EXPECT_THAT(r.records[1].error, HasSubstr("not JSON: syntax error at byte"));
  EXPECT_EQ(r.records[2], Ok("in:3", "{\"c\":3}"));
}

TEST(RecordReaderLines, ScalarsAndNullAreRecordsForTheMapper) {
  // Only items of a container must be objects; a line's value goes to the
  // mapper whatever its type.
  Result r = ReadString("{}\n\"text\"\n42\nnull\ntrue\n");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{}"), Ok("in:2", "\"text\""), Ok("in:3", "42"),
                                     Ok("in:4", "null"), Ok("in:5", "true")));
}

TEST(RecordReaderLines, InvalidUtf8InAStringIsAnErrorWithItsByte) {
  Result r = ReadString("{}\n{\"a\":\"x\xff\xfey\"}\n{}\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[1].position, "in:2");
  EXPECT_THAT(r.records[1].error, HasSubstr("not JSON: syntax error at byte"));
  EXPECT_THAT(r.records[1].error, HasSubstr("UTF-8"));
  EXPECT_EQ(r.records[2], Ok("in:3", "{}"));
}

TEST(RecordReaderLines, ByteOrderMarkAtTheStartIsSkipped) {
  // Windows editors and PowerShell's Out-File write one; it is not data.
  Result r = ReadString("\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}"), Ok("in:2", "{\"b\":2}")));

  Result doc = ReadString("\xEF\xBB\xBF{\n  \"Records\": [{\"a\": 1}]\n}\n");
  EXPECT_TRUE(doc.status.ok()) << doc.status;
  EXPECT_THAT(doc.records, ElementsAre(Ok("in:1:Records[0]", "{\"a\": 1}")));

  Result gz = ReadAll(MemorySource(Gzip("\xEF\xBB\xBF{\"a\":1}\n")));
  EXPECT_TRUE(gz.status.ok()) << gz.status;
  EXPECT_THAT(gz.records, ElementsAre(Ok("in:1", "{\"a\":1}")));
}

TEST(RecordReaderLines, ByteOrderMarkLaterIsNotSkipped) {
  Result r = ReadString("{}\n\xEF\xBB\xBF{}\n");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].position, "in:2");
  EXPECT_THAT(r.records[1].error, HasSubstr("not JSON"));
}

TEST(RecordReaderLines, BrokenFirstLineDoesNotHideTheRest) {
  Result r = ReadString("\n{\"a\": nope}\n\n{\"b\":2}\r\n{\"c\":3}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0].position, "in:2");
  EXPECT_THAT(r.records[0].error, HasSubstr("not JSON: syntax error at byte 8"));
  EXPECT_EQ(r.records[1], Ok("in:4", "{\"b\":2}"));
  EXPECT_EQ(r.records[2], Ok("in:5", "{\"c\":3}"));
}

TEST(RecordReaderLines, SeveralBrokenLinesFirstDoNotHideTheRest) {
  // A log whose first lines were cut: no line alone is an object until the
  // fourth.
  Result r = ReadString("{\"a\": nope}\n\"b\": 2}\n{\"c\n{\"d\":4}\n{\"e\":5}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.records[i].position, absl::StrCat("in:", i + 1));
    EXPECT_THAT(r.records[i].error, HasSubstr("not JSON"));
  }
  EXPECT_EQ(r.records[3], Ok("in:4", "{\"d\":4}"));
  EXPECT_EQ(r.records[4], Ok("in:5", "{\"e\":5}"));
}

TEST(RecordReaderDocument, PrettyValuesOneAfterAnotherAreRecords) {
  // `jq . audit.log`: each value over several lines, its position the line
  // it starts on, its raw bytes its own.
  Result r = ReadString("\n{\n  \"a\": 1\n}\n{\n  \"b\": {\n    \"c\": 2\n  }\n}\n\n{\"d\": 3}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:2", "{\n  \"a\": 1\n}"));
  EXPECT_EQ(r.records[1], Ok("in:5", "{\n  \"b\": {\n    \"c\": 2\n  }\n}"));
  EXPECT_EQ(r.records[2], Ok("in:11", "{\"d\": 3}"));
}

TEST(RecordReaderDocument, PrettyContainersOneAfterAnotherAreSplit) {
  Result r = ReadString(
      "{\n  \"Records\": [\n    {\"x\": 1},\n    {\"y\": 2}\n  ]\n}\n"
      "{\n  \"Records\": [\n    {\"z\": 3}\n  ]\n}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:1:Records[0]", "{\"x\": 1}"));
  EXPECT_EQ(r.records[1], Ok("in:1:Records[1]", "{\"y\": 2}"));
  EXPECT_EQ(r.records[2], Ok("in:7:Records[0]", "{\"z\": 3}"));
}

TEST(RecordReaderDocument, PrettyValuesWithABrokenOneAreOneError) {
  Result r = ReadString("{\n  \"a\": 1\n}\n{\n  \"b\": \n}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1");
  EXPECT_THAT(r.records[0].error, HasSubstr("document not JSON"));
}

TEST(RecordReaderDocument, BrokenPrettyDocumentWithScalarLinesIsOneError) {
  // Lines such as `2`, `"x"` or `[]` parse on their own, but only a line
  // holding a whole object makes the input JSON lines.
  Result r = ReadString(
      "{\n  \"items\": [\n    2,\n    []\n  ],\n  \"names\": [\n    \"x\"\n  ],\n"
      "  \"broken\": \n}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1");
  EXPECT_THAT(r.records[0].error, HasSubstr("document not JSON"));
}

TEST(RecordReaderLines, BrokenFirstLineThenAMoreThanDocumentSizedRestIsStillRead) {
  // The look-ahead for a pretty document is bounded by max_document_bytes;
  // an input of JSON lines longer than that must not end there.
  LazySource* src = new LazySource();
  src->Add("{\"a\": nope}\n");
  for (int i = 0; i < 100; ++i) src->Add(absl::StrCat("{\"n\":", i, "}\n"));
  ReaderLimits limits;
  limits.max_document_bytes = 256;
  Result r = ReadAll(std::unique_ptr<ByteSource>(src), limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 101u);
  EXPECT_THAT(r.records[0].error, HasSubstr("not JSON"));
  EXPECT_EQ(r.records[1], Ok("in:2", "{\"n\":0}"));
  EXPECT_EQ(r.records[100], Ok("in:101", "{\"n\":99}"));
}

TEST(RecordReaderLines, BrokenFirstLineThenAnOverlongLineIsOneErrorNotTheEnd) {
  LazySource* src = new LazySource();
  src->Add("{\"a\": nope}\n{\"b\":2}\n{\"big\":\"").Repeat('x', 5000).Add("\"}\n{\"c\":3}\n");
  ReaderLimits limits;
  limits.max_record_bytes = 1000;
  Result r = ReadAll(std::unique_ptr<ByteSource>(src), limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[1], Ok("in:2", "{\"b\":2}"));
  EXPECT_EQ(r.records[2].position, "in:3");
  EXPECT_THAT(r.records[2].error, HasSubstr("(--max-record-bytes)"));
  EXPECT_EQ(r.records[3], Ok("in:4", "{\"c\":3}"));
}

// ---- Huge records, produced lazily ----------------------------------------

TEST(RecordReaderHuge, HundredMegabyteLineIsOneErrorAndTheNextLineIsRead) {
  LazySource* src = new LazySource();
  src->Add("{\"a\":1}\n{\"big\":\"").Repeat('x', uint64_t{100} << 20).Add("\"}\n{\"b\":2}\n");
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:1", "{\"a\":1}"));
  EXPECT_EQ(r.records[1].position, "in:2");
  EXPECT_EQ(r.records[1].error, "record longer than 16777216 bytes (--max-record-bytes): skipped");
  EXPECT_EQ(r.records[2], Ok("in:3", "{\"b\":2}"));
}

TEST(RecordReaderHuge, HundredMegabyteFirstLineIsOneErrorNotADocument) {
  LazySource* src = new LazySource();
  src->Add("{\"big\":\"").Repeat('x', uint64_t{100} << 20).Add("\"}\n{\"b\":2}\n");
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_THAT(r.records[0].error, HasSubstr("(--max-record-bytes)"));
  EXPECT_EQ(r.records[1], Ok("in:2", "{\"b\":2}"));
}

TEST(RecordReaderHuge, HundredMegabyteItemOfAOneLineContainerIsOneItemError) {
  // A line is bounded as a document: the items of a one-line container
  // (a CloudTrail file) are bounded one by one.
  LazySource* src = new LazySource();
  src->Add("{\"Records\":[{\"a\":1},{\"big\":\"")
      .Repeat('x', uint64_t{100} << 20)
      .Add("\"},{\"b\":2}]}\n{\"c\":3}\n");
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[0], Ok("in:1:Records[0]", "{\"a\":1}"));
  EXPECT_EQ(r.records[1].position, "in:1:Records[1]");
  EXPECT_EQ(r.records[1].error, "record longer than 16777216 bytes (--max-record-bytes): skipped");
  EXPECT_EQ(r.records[2], Ok("in:1:Records[2]", "{\"b\":2}"));
  EXPECT_EQ(r.records[3], Ok("in:2", "{\"c\":3}"));
}

TEST(RecordReaderHuge, AOneLineContainerLongerThanARecordIsRead) {
  // 40 items of 100 bytes on one line, records bounded at 1000 bytes.
  std::string line = "{\"Records\":[";
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&line, i == 0 ? "" : ",", "{\"n\":", i, ",\"pad\":\"", std::string(80, 'p'),
                    "\"}");
  }
  line += "]}\n";
  ReaderLimits limits;
  limits.max_record_bytes = 1000;
  Result r = ReadString(line, limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 40u);
  for (const auto& rec : r.records) EXPECT_EQ(rec.error, "") << rec.position;
}

TEST(RecordReaderHuge, ALineLongerThanADocumentEndsTheInputWithoutReadingItAll) {
  // Zeros, as from --file /dev/zero: one line that never ends.
  LazySource* src = new LazySource();
  src->Add("{\"a\":1}\n").Repeat('\0', uint64_t{1} << 40);
  ReaderLimits limits;
  limits.max_document_bytes = 1 << 20;
  Result r = ReadAll(std::unique_ptr<ByteSource>(src), limits);
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}")));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(),
            "in:2: a line longer than 1048576 bytes (--max-document-bytes): not read further");
}

TEST(RecordReaderHuge, OverlongItemOfAPrettyContainerIsOneItemError) {
  std::string doc = absl::StrCat("{\n \"Records\": [\n  {\"a\": 1},\n  {\"big\": \"",
                                 std::string(3000, 'x'), "\"},\n  {\"b\": 2}\n ]\n}\n");
  ReaderLimits limits;
  limits.max_record_bytes = 1000;
  Result r = ReadString(doc, limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:1:Records[0]", "{\"a\": 1}"));
  EXPECT_EQ(r.records[1].position, "in:1:Records[1]");
  EXPECT_THAT(r.records[1].error, HasSubstr("record longer than 1000 bytes"));
  EXPECT_EQ(r.records[2], Ok("in:1:Records[2]", "{\"b\": 2}"));
}

TEST(RecordReaderHuge, PrettyDocumentWithALineLongerThanARecordIsRead) {
  // The document is bounded by max_document_bytes, not its lines by
  // max_record_bytes: a long string value in `terraform show -json | jq`.
  std::string doc = absl::StrCat("[\n  {\"big\": \"", std::string(3000, 'x'), "\"}\n]\n");
  ReaderLimits limits;
  limits.max_record_bytes = 4000;
  limits.max_document_bytes = 1 << 20;
  Result r = ReadString(doc, limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1:[0]");
  EXPECT_EQ(r.records[0].error, "");

  limits.max_record_bytes = 1000;  // the line is longer, the item too
  r = ReadString(doc, limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1:[0]");
  EXPECT_THAT(r.records[0].error, HasSubstr("record longer than 1000 bytes"));
}

// ---- Containers -----------------------------------------------------------

TEST(RecordReaderContainers, ItemsArePositionedAndKeepTheirOwnBytes) {
  Result r = ReadString("{\"Records\": [ {\"a\":1} , {\"b\" : [2]}]}\n[{\"c\":3}]\n");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records,
              ElementsAre(Ok("in:1:Records[0]", "{\"a\":1}"),
                          Ok("in:1:Records[1]", "{\"b\" : [2]}"), Ok("in:2:[0]", "{\"c\":3}")));
}

TEST(RecordReaderContainers, ItemsThatAreNotObjectsAreErrors) {
  Result r = ReadString("[1, \"s\", null, [], {\"ok\":1}]\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.records[i].position, absl::StrCat("in:1:[", i, "]"));
    EXPECT_EQ(r.records[i].error, "not a JSON object");
  }
  EXPECT_EQ(r.records[4], Ok("in:1:[4]", "{\"ok\":1}"));
}

TEST(RecordReaderContainers, KeyHoldingANonArrayMakesTheObjectARecord) {
  Result r = ReadString("{\"Records\": 5}\n{\"items\": {\"a\":1}}\n{\"Records\": null}\n");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records,
              ElementsAre(Ok("in:1", "{\"Records\": 5}"), Ok("in:2", "{\"items\": {\"a\":1}}"),
                          Ok("in:3", "{\"Records\": null}")));
}

TEST(RecordReaderContainers, EmptyContainersHoldNoRecords) {
  Result r = ReadString("[]\n{\"Records\":[]}\n{\"a\":1}\n");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records, ElementsAre(Ok("in:3", "{\"a\":1}")));
}

TEST(RecordReaderContainers, NestedContainersAreSplitOnlyAtTheTop) {
  Result r = ReadString("{\"Records\":[{\"Records\":[{\"a\":1}]}]}\n[[{\"a\":1}]]\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0], Ok("in:1:Records[0]", "{\"Records\":[{\"a\":1}]}"));
  EXPECT_EQ(r.records[1].position, "in:2:[0]");
  EXPECT_EQ(r.records[1].error, "not a JSON object");
}

TEST(RecordReaderContainers, EscapedContainerKeyIsTheSameKey) {
  // "Rec\u006frds" is "Records" to the DOM; the walk for raw bytes must
  // agree with it.
  Result r = ReadString("{\"Rec\\u006frds\": [{\"a\":1}]}\n");
  EXPECT_TRUE(r.status.ok());
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1:Records[0]", "{\"a\":1}")));
}

TEST(RecordReaderContainers, FirstKeyOfTheListWins) {
  Result r = ReadString("{\"items\": [{\"i\":1}], \"Records\": [{\"r\":1}]}\n");
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1:Records[0]", "{\"r\":1}")));
}

// ---- Pretty-printed documents ---------------------------------------------

TEST(RecordReaderDocument, PrettyDocumentIsPositionedAtItsFirstLine) {
  Result r = ReadString("\n\n{\n  \"Records\": [\n    {\"a\": 1},\n    {\"b\": 2}\n  ]\n}\n");
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:3:Records[0]", "{\"a\": 1}"),
                                     Ok("in:3:Records[1]", "{\"b\": 2}")));
  Result one = ReadString("{\n  \"a\": 1\r\n}");
  EXPECT_THAT(one.records, ElementsAre(Ok("in:1", "{\n  \"a\": 1\n}\n")));
}

TEST(RecordReaderDocument, OverMaxDocumentBytesEndsTheInput) {
  std::string doc = "{\n";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&doc, "  \"k", i, "\": ", i, ",\n");
  doc += "  \"end\": 0\n}\n";
  ReaderLimits limits;
  limits.max_document_bytes = 200;
  Result r = ReadString(doc, limits);
  EXPECT_THAT(r.records, IsEmpty());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status.message(), HasSubstr("in:1: "));
  EXPECT_THAT(r.status.message(), HasSubstr("longer than 200 bytes (--max-document-bytes)"));
}

TEST(RecordReaderDocument, BrokenDocumentIsOneErrorWithAByte) {
  Result r = ReadString("{\n  \"a\": 1,\n  \"b\": ]\n}\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1");
  // '{' '\n' '  "a": 1,' '\n' '  "b": ' is 19 bytes; ']' is byte 20.
  EXPECT_THAT(r.records[0].error, HasSubstr("document not JSON: syntax error at byte 20"));
}

TEST(RecordReaderDocument, TruncatedDocumentIsOneError) {
  Result r = ReadString("{\n  \"Records\": [\n    {\"a\": 1},\n");
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].position, "in:1");
  EXPECT_THAT(r.records[0].error, HasSubstr("unexpected end of input"));
}

// ---- Deep nesting ---------------------------------------------------------

TEST(RecordReaderDeep, HundredThousandOpenBracketsDoNotCrash) {
  const std::string deep(100000, '[');
  // As a later line (lines mode), as the first line (document look-ahead),
  // balanced (valid JSON, too deep for simdjson), and as objects.
  const std::string balanced = deep + std::string(100000, ']');
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  for (const std::string& text :
       {absl::StrCat("{}\n", deep, "\n{}\n"), absl::StrCat(deep, "\n{}\n"),
        absl::StrCat("{}\n", balanced, "\n{}\n"), absl::StrCat("{}\n", objects, "\n{}\n"),
        absl::StrCat("{\"Records\":[", deep, "]}\n{}\n")}) {
    Result r = ReadString(text);
    EXPECT_TRUE(r.status.ok()) << r.status;
    ASSERT_GE(r.records.size(), 2u);
    const Got& bad = r.records.size() == 3 ? r.records[1] : r.records[0];
    EXPECT_THAT(bad.error, HasSubstr("not JSON"));
    EXPECT_EQ(r.records.back().error, "");
  }
}

TEST(RecordReaderDeep, DeepItemAsGoEncodesItDoesNotSpoilItsContainer) {
  // An audit event of a custom resource nested 5,000 levels (Go's
  // encoding/json goes to 10,000): it and its neighbours are records.
  const std::string deep =
      absl::StrCat("{\"d\":", std::string(5000, '['), std::string(5000, ']'), "}");
  Result r = ReadString(absl::StrCat("{\"items\":[{\"a\":1},", deep, ",{\"b\":2}]}\n"));
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], Ok("in:1:items[0]", "{\"a\":1}"));
  EXPECT_EQ(r.records[1], Ok("in:1:items[1]", "<10006 bytes>"));
  EXPECT_EQ(r.records[2], Ok("in:1:items[2]", "{\"b\":2}"));
}

TEST(RecordReaderDeep, DeepPrettyDocumentIsOneError) {
  std::string doc;
  for (int i = 0; i < 100000; ++i) doc += "[\n";
  Result r = ReadString(doc);
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_THAT(r.records[0].error, HasSubstr("document not JSON"));
}

// ---- gzip -----------------------------------------------------------------

TEST(RecordReaderGzip, ConcatenatedMembersAreOneInput) {
  const std::string gz = Gzip("{\"a\":1}\n{\"b\"") + Gzip(":2}\n{\"c\":3}\n") + Gzip("");
  Result r = ReadAll(MemorySource(gz));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}"), Ok("in:2", "{\"b\":2}"),
                                     Ok("in:3", "{\"c\":3}")));
}

TEST(RecordReaderGzip, ZeroPaddingAfterAMemberIsNotCorruption) {
  // Tape and block devices pad a file with zeros; gzip ignores them.
  const std::string gz = Gzip("{\"a\":1}\n") + std::string(512, '\0') + Gzip("{\"b\":2}\n") +
                         std::string(100000, '\0');
  Result r = ReadAll(MemorySource(gz));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}"), Ok("in:2", "{\"b\":2}")));
  // Anything else after a member is still corrupt.
  Result bad = ReadAll(MemorySource(Gzip("{\"a\":1}\n") + std::string(4, '\0') + "junk"));
  EXPECT_THAT(bad.status.message(), HasSubstr("corrupt gzip data"));
}

TEST(RecordReaderGzip, DetectedThroughOneByteReads) {
  LazySource* src = new LazySource();
  src->Add(Gzip("{\"a\":1}\n")).MaxRead(1);
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}")));
}

TEST(RecordReaderGzip, TruncatedStreamEndsWithRecordsBeforeIt) {
  std::string text;
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&text, "{\"n\":", i, "}\n");
  std::string gz = Gzip(text);
  gz.resize(gz.size() / 2);
  Result r = ReadAll(MemorySource(gz));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status.message(), HasSubstr("in: gzip data ends early (truncated after"));
  ASSERT_GT(r.records.size(), 100u);
  EXPECT_LT(r.records.size(), 20000u);
  for (size_t i = 0; i < r.records.size(); ++i) {
    ASSERT_EQ(r.records[i], Ok(absl::StrCat("in:", i + 1), absl::StrCat("{\"n\":", i, "}")));
  }
}

TEST(RecordReaderGzip, TruncatedInHeaderOrTrailer) {
  const std::string gz = Gzip("{\"a\":1}\n");
  for (size_t cut : {size_t{2}, size_t{5}, gz.size() - 4}) {
    Result r = ReadAll(MemorySource(std::string_view(gz).substr(0, cut)));
    EXPECT_THAT(r.status.message(), HasSubstr("truncated")) << cut;
  }
}

TEST(RecordReaderGzip, CorruptDataEnds) {
  std::string gz = Gzip("{\"a\":1}\n{\"b\":2}\n");
  gz[gz.size() - 6] ^= 0x55;  // the CRC
  Result crc = ReadAll(MemorySource(gz));
  EXPECT_THAT(crc.status.message(), HasSubstr("in: corrupt gzip data near compressed byte"));

  std::string body = Gzip("{\"a\":1}\n{\"b\":2}\n");
  for (size_t i = 10; i < 16; ++i) body[i] = static_cast<char>(0xff);
  Result r = ReadAll(MemorySource(body));
  EXPECT_THAT(r.status.message(), HasSubstr("corrupt gzip"));

  Result trailing = ReadAll(MemorySource(Gzip("{\"a\":1}\n") + "garbage"));
  EXPECT_THAT(trailing.records, ElementsAre(Ok("in:1", "{\"a\":1}")));
  EXPECT_THAT(trailing.status.message(), HasSubstr("corrupt gzip"));
}

TEST(RecordReaderGzip, BombStopsAtTheBoundWithRecordsBeforeIt) {
  // 1 GiB of "{}\n", compressed only as far as the reader asks for it: the
  // plaintext the source had to compress bounds what the reader took.
  ReaderLimits limits;
  limits.max_decompressed_bytes = 300;
  auto* bomb = new GzipBombSource("{}\n", (uint64_t{1} << 30) / 3);
  Result r = ReadAll(std::unique_ptr<ByteSource>(bomb), limits);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(),
            "in: decompresses to more than 300 bytes (--max-decompressed-bytes): not read further");
  // Everything within the bound comes out: 100 whole lines of 3 bytes.
  ASSERT_EQ(r.records.size(), 100u);
  EXPECT_EQ(r.records[99], Ok("in:100", "{}"));

  limits.max_decompressed_bytes = 10 << 20;
  bomb = new GzipBombSource("{}\n", (uint64_t{1} << 30) / 3);
  RecordReader reader(std::unique_ptr<ByteSource>(bomb), "in", kKeys, limits);
  Record rec;
  uint64_t n = 0;
  while (reader.Next(&rec)) ++n;
  EXPECT_THAT(reader.status().message(), HasSubstr("(--max-decompressed-bytes)"));
  EXPECT_EQ(n, (uint64_t{10} << 20) / 3);
  // The reader reads ahead by a chunk of compressed bytes at most.
  EXPECT_LT(bomb->plain_bytes(), uint64_t{100} << 20);
}

TEST(RecordReaderGzip, BombOfOneLineStopsAtTheBound) {
  // Zeros without a newline: one line, longer than a record, never ends.
  ReaderLimits limits;
  limits.max_decompressed_bytes = 64 << 20;
  limits.max_record_bytes = 1 << 20;
  Result r =
      ReadAll(std::make_unique<GzipBombSource>(std::string(1, '\0'), uint64_t{1} << 32), limits);
  EXPECT_THAT(r.records, IsEmpty());
  EXPECT_THAT(r.status.message(), HasSubstr("(--max-decompressed-bytes)"));
}

TEST(RecordReaderGzip, ExactlyTheBoundIsAllowed) {
  ReaderLimits limits;
  limits.max_decompressed_bytes = 6;
  Result r = ReadAll(MemorySource(Gzip("{}\n{}\n")), limits);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.records.size(), 2u);
}

// ---- Failing sources ------------------------------------------------------

TEST(RecordReaderSource, ReadErrorMidStreamEndsWithIt) {
  LazySource* src = new LazySource();
  src->Add("{\"a\":1}\n{\"b\":2}\n{\"c\":").FailAfter(20).MaxRead(4);
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(r.status.message(), "lazy: read failed: EIO");
  EXPECT_THAT(r.records, ElementsAre(Ok("in:1", "{\"a\":1}"), Ok("in:2", "{\"b\":2}")));
}

TEST(RecordReaderSource, ReadErrorInsideGzipEndsWithIt) {
  std::string text;
  for (int i = 0; i < 50000; ++i) absl::StrAppend(&text, "{\"n\":", i, "}\n");
  const std::string gz = Gzip(text);
  LazySource* src = new LazySource();
  src->Add(gz).FailAfter(gz.size() / 2);
  Result r = ReadAll(std::unique_ptr<ByteSource>(src));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_LT(r.records.size(), 50000u);
}

TEST(RecordReaderSource, ReadErrorAtTheStartAndInADocument) {
  LazySource* first = new LazySource();
  first->Add("{}\n").FailAfter(0);
  Result r = ReadAll(std::unique_ptr<ByteSource>(first));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.records, IsEmpty());

  LazySource* doc = new LazySource();
  doc->Add("{\n  \"a\": 1\n}\n").FailAfter(8).MaxRead(3);
  r = ReadAll(std::unique_ptr<ByteSource>(doc));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.records, IsEmpty());
}

TEST(RecordReaderSource, FdSourceReadsAFileAndNamesIt) {
  char path[] = "/tmp/record_reader_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string gz = Gzip("{\"a\":1}\n");
  ASSERT_EQ(write(fd, gz.data(), gz.size()), static_cast<ssize_t>(gz.size()));
  ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
  Result r = ReadAll(FdSource(fd, "f.gz"), {}, "f.gz");
  EXPECT_THAT(r.records, ElementsAre(Ok("f.gz:1", "{\"a\":1}")));
  close(fd);
  unlink(path);

  // A closed descriptor: the error names the input.
  r = ReadAll(FdSource(fd, "f.gz"), {}, "f.gz");
  EXPECT_THAT(r.status.message(), HasSubstr("f.gz: read failed:"));
}

}  // namespace
}  // namespace infratrail::ingest
