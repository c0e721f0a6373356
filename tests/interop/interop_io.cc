#include "tests/interop/interop_io.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/encoding.h"

namespace infratrail::interop {
namespace {

// Reads "<count>" hash lines after the header at lines[*i - 1].
absl::StatusOr<std::vector<Hash>> ReadProofHashes(const std::vector<std::string>& lines, size_t* i,
                                                  uint64_t count) {
  std::vector<Hash> proof;
  for (uint64_t k = 0; k < count; ++k, ++*i) {
    if (*i >= lines.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", *i + 1, ": missing proof hash"));
    }
    absl::StatusOr<Hash> h = HashFromBase64(lines[*i], absl::StrCat("line ", *i + 1));
    if (!h.ok()) return h.status();
    proof.push_back(*h);
  }
  return proof;
}

// Splits a header line into `want` space-separated fields, the first `tag`.
absl::StatusOr<std::vector<std::string>> HeaderFields(const std::string& line, size_t line_no,
                                                      absl::string_view tag, size_t want) {
  std::vector<std::string> f = absl::StrSplit(line, ' ');
  if (f.size() != want || f[0] != tag) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_no, ": want \"", tag, "\" and ", want - 1, " fields"));
  }
  return f;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir for ", path, ": ", ec.message()));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) return data.status();
  if (data->empty()) return std::vector<std::string>();
  if (data->back() != '\n') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": last line has no newline"));
  }
  data->pop_back();
  return std::vector<std::string>(absl::StrSplit(*data, '\n'));
}

absl::StatusOr<std::string> ReadOneLine(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> lines = ReadLines(path);
  if (!lines.ok()) return lines.status();
  if (lines->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", lines->size(), " lines, want exactly 1"));
  }
  return (*lines)[0];
}

absl::StatusOr<uint64_t> ReadNumber(const std::string& path) {
  absl::StatusOr<std::string> line = ReadOneLine(path);
  if (!line.ok()) return line.status();
  return ParseDecimalStrict(*line, path);
}

std::string FormatInclusionRecords(const std::vector<InclusionRecord>& records) {
  std::string out;
  for (const InclusionRecord& r : records) {
    absl::StrAppend(&out, "inclusion ", r.index, " ", r.size, " ", HashToBase64(r.root), " ",
                    r.proof.size(), "\n");
    for (const Hash& h : r.proof) absl::StrAppend(&out, HashToBase64(h), "\n");
  }
  return out;
}

std::string FormatConsistencyRecords(const std::vector<ConsistencyRecord>& records) {
  std::string out;
  for (const ConsistencyRecord& r : records) {
    absl::StrAppend(&out, "consistency ", r.size1, " ", r.size2, " ", HashToBase64(r.root1), " ",
                    HashToBase64(r.root2), " ", r.proof.size(), "\n");
    for (const Hash& h : r.proof) absl::StrAppend(&out, HashToBase64(h), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<InclusionRecord>> ParseInclusionRecords(
    const std::vector<std::string>& lines) {
  std::vector<InclusionRecord> out;
  for (size_t i = 0; i < lines.size();) {
    const size_t line_no = i + 1;
    absl::StatusOr<std::vector<std::string>> f = HeaderFields(lines[i++], line_no, "inclusion", 5);
    if (!f.ok()) return f.status();
    InclusionRecord r;
    absl::StatusOr<uint64_t> index = ParseDecimalStrict((*f)[1], "index");
    absl::StatusOr<uint64_t> size = ParseDecimalStrict((*f)[2], "size");
    absl::StatusOr<Hash> root = HashFromBase64((*f)[3], "root");
    absl::StatusOr<uint64_t> count = ParseDecimalStrict((*f)[4], "count");
    for (const absl::Status& s : {index.status(), size.status(), root.status(), count.status()}) {
      if (!s.ok())
        return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", s.message()));
    }
    r.index = *index;
    r.size = *size;
    r.root = *root;
    absl::StatusOr<std::vector<Hash>> proof = ReadProofHashes(lines, &i, *count);
    if (!proof.ok()) return proof.status();
    r.proof = *std::move(proof);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<ConsistencyRecord>> ParseConsistencyRecords(
    const std::vector<std::string>& lines) {
  std::vector<ConsistencyRecord> out;
  for (size_t i = 0; i < lines.size();) {
    const size_t line_no = i + 1;
    absl::StatusOr<std::vector<std::string>> f =
        HeaderFields(lines[i++], line_no, "consistency", 6);
    if (!f.ok()) return f.status();
    ConsistencyRecord r;
    absl::StatusOr<uint64_t> size1 = ParseDecimalStrict((*f)[1], "size1");
    absl::StatusOr<uint64_t> size2 = ParseDecimalStrict((*f)[2], "size2");
    absl::StatusOr<Hash> root1 = HashFromBase64((*f)[3], "root1");
    absl::StatusOr<Hash> root2 = HashFromBase64((*f)[4], "root2");
    absl::StatusOr<uint64_t> count = ParseDecimalStrict((*f)[5], "count");
    for (const absl::Status& s :
         {size1.status(), size2.status(), root1.status(), root2.status(), count.status()}) {
      if (!s.ok())
        return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", s.message()));
    }
    r.size1 = *size1;
    r.size2 = *size2;
    r.root1 = *root1;
    r.root2 = *root2;
    absl::StatusOr<std::vector<Hash>> proof = ReadProofHashes(lines, &i, *count);
    if (!proof.ok()) return proof.status();
    r.proof = *std::move(proof);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace infratrail::interop
