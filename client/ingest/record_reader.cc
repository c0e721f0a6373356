#include "client/ingest/record_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/ingest/mapping.h"
#include "nlohmann/json.hpp"

namespace infratrail::ingest {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// The bytes of a JSON value without the whitespace simdjson's raw_json()
// keeps after it.
std::string_view TrimJsonWhitespace(std::string_view raw) {
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' || raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  return raw;
}

// Why `text` is not JSON, with the byte where it goes wrong: nlohmann's
// parser reports positions where simdjson does not. Only on the error path.
std::string JsonError(std::string_view text, simdjson::error_code code) {
  struct Sax : nlohmann::json::json_sax_t {
    std::string error;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::json::exception& ex) override {
      std::string what = ex.what();
      // "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
      const size_t colon = what.find(": ");
      error = absl::StrCat("byte ", position, ": ",
                           colon == std::string::npos ? what : what.substr(colon + 2));
      return false;
    }
  } sax;
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (!sax.error.empty()) return absl::StrCat("not JSON: syntax error at ", sax.error);
  return absl::StrCat("not JSON: ", simdjson::error_message(code));
}

}  // namespace

class RecordReader::Impl {
 public:
  Impl(std::unique_ptr<ByteSource> source, std::string name, std::vector<std::string_view> keys,
       ReaderLimits limits)
      : input_(std::move(source), name, limits.max_decompressed_bytes),
        name_(std::move(name)),
        keys_(std::move(keys)),
        limits_(limits) {
    // As deep as Go's encoding/json goes (an API server's audit event may
    // carry a deeply nested custom resource): with simdjson's default of
    // 1,024, one such item would make its whole container unreadable. The
    // depth costs 9 bytes a level; capacity grows with the input.
    for (simdjson::dom::parser* p : {&parser_, &probe_}) {
      if (p->allocate(kInitialCapacity, kMaxDepth) != simdjson::SUCCESS) alloc_failed_ = true;
    }
    if (od_.allocate(kInitialCapacity, kMaxDepth) != simdjson::SUCCESS) alloc_failed_ = true;
  }

  bool Next(Record* r, absl::Status* status) {
    r->error.clear();
    r->raw = {};
    if (alloc_failed_) {
      *status = absl::ResourceExhaustedError(absl::StrCat(name_, ": cannot allocate a parser"));
      return false;
    }
    for (;;) {
      if (item_ < items_.size()) return NextItem(r);
      items_.clear();
      item_ = 0;
      if (done_) return false;
      if (mode_ == Mode::kDocumentDone) {
        done_ = true;
        return false;
      }
      if (mode_ == Mode::kStream) {
        if (stream_next_ == stream_.size()) {
          done_ = true;
          doc_.clear();
          return false;
        }
        const auto [start, size] = stream_[stream_next_++];
        value_line_ += std::count(doc_.begin() + static_cast<ptrdiff_t>(stream_scanned_),
                                  doc_.begin() + static_cast<ptrdiff_t>(start), '\n');
        stream_scanned_ = start;
        line_.assign(doc_, start, size);
        text_ = &line_;
        // Parsed as one value by SplitStream already: this cannot fail.
        if (const simdjson::error_code code = Parse(line_); code != simdjson::SUCCESS) {
          r->position = absl::StrCat(name_, ":", value_line_);
          r->error = JsonError(line_, code);
          return true;
        }
        if (!Split(r)) return true;
        continue;
      }
      // A line is bounded as a document is: CloudTrail writes a file's
      // records as one line ({"Records":[...]}), and its records are then
      // bounded one by one.
      bool too_long = false;
      cut_short_ = false;
      if (!ReadLine(&line_, limits_.max_document_bytes, &too_long, status, /*stop_early=*/true)) {
        done_ = true;
        return false;
      }
      // A UTF-8 byte order mark (Windows editors write one) is not data.
      if (line_no_ == 0 && line_.starts_with(kByteOrderMark)) line_.erase(0, kByteOrderMark.size());
      ++line_no_;
      r->input_bytes = input_.consumed();
      if (too_long && cut_short_) {
        // Not read to its end (zeros from a device never end): the input
        // stops here.
        done_ = true;
        *status = absl::InvalidArgumentError(
            absl::StrCat(name_, ":", line_no_, ": a line longer than ", limits_.max_document_bytes,
                         " bytes (--max-document-bytes): not read further"));
        return false;
      }
      if (too_long) {
        mode_ = Mode::kLines;
        r->position = absl::StrCat(name_, ":", line_no_);
        r->error = absl::StrCat("record longer than ", limits_.max_record_bytes,
                                " bytes (--max-record-bytes): skipped");
        return true;
      }
      if (absl::StripAsciiWhitespace(line_).empty()) continue;
      value_line_ = line_no_;
      text_ = &line_;
      simdjson::error_code code = Parse(line_);
      if (code != simdjson::SUCCESS && mode_ == Mode::kUnknown) {
        // Not a line of JSON lines: perhaps one document spread over lines.
        if (ReadDocument(status)) {
          code = Parse(doc_);
          if (code == simdjson::SUCCESS) {
            mode_ = Mode::kDocumentDone;
            text_ = &doc_;
          } else if (SplitStream()) {
            mode_ = Mode::kStream;  // `jq .` output: values one after another
            continue;
          } else if (!LaterLineIsAnObject()) {
            mode_ = Mode::kDocumentDone;
            r->position = absl::StrCat(name_, ":", value_line_);
            r->error = absl::StrCat("document ", JsonError(doc_, code));
            return true;
          } else {
            // JSON lines with a bad first line: go on line by line through
            // what was read ahead.
            pending_ = doc_.substr(line_.size() + 1);
            doc_.clear();
          }
        } else if (!status->ok()) {
          done_ = true;
          return false;
        }
      }
      if (mode_ == Mode::kUnknown) mode_ = Mode::kLines;
      if (code != simdjson::SUCCESS) {
        r->position = absl::StrCat(name_, ":", value_line_);
        r->error = JsonError(line_, code);
        return true;
      }
      if (!Split(r)) return true;  // a single record, or an error in r
    }
  }

 private:
  enum class Mode { kUnknown, kLines, kDocumentDone, kStream };

  simdjson::error_code Parse(std::string& text) {
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    return parser_.parse(text.data(), text.size(), false).get(value_);
  }

  // Decides whether the parsed value (value_, over *text_) is a container.
  // Returns false with `r` filled when it is a record itself (or the
  // container cannot be walked); true when items_ now holds its items.
  bool Split(Record* r) {
    r->position = absl::StrCat(name_, ":", value_line_);
    std::string_view key;
    bool container = value_.is_array();
    if (!container && value_.is_object()) {
      for (std::string_view k : keys_) {
        simdjson::dom::element v;
        if (value_.get_object().at_key(k).get(v) == simdjson::SUCCESS && v.is_array()) {
          key = k;
          container = true;
          break;
        }
      }
    }
    if (!container) {
      if (text_->size() > limits_.max_record_bytes) {
        r->error = absl::StrCat("record longer than ", limits_.max_record_bytes,
                                " bytes (--max-record-bytes): skipped");
        return false;
      }
      r->raw = std::string_view(*text_);
      r->json = value_;
      return false;
    }
    // The items as parsed (the DOM of the whole value), and their exact
    // text from walking the same bytes again on demand.
    container_ = std::string(key);
    items_.clear();
    item_elements_.clear();
    item_ = 0;
    simdjson::dom::array elements;
    if ((key.empty()
             ? value_.get_array().get(elements)
             : value_.get_object().at_key(key).get_array().get(elements)) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : elements) item_elements_.push_back(e);
    }
    simdjson::ondemand::document doc;
    simdjson::padded_string_view padded(text_->data(), text_->size(), text_->capacity());
    std::string error;
    if (od_.iterate(padded).get(doc) != simdjson::SUCCESS) {
      error = "cannot walk the container";
    } else {
      simdjson::ondemand::array arr;
      simdjson::error_code code;
      if (key.empty()) {
        code = doc.get_array().get(arr);
      } else {
        // The first field named `key` once unescaped, as the DOM's at_key()
        // found it: find_field() compares keys as written.
        simdjson::ondemand::object obj;
        code = doc.get_object().get(obj);
        bool found = false;
        for (auto field : obj) {
          if (code != simdjson::SUCCESS) break;
          std::string_view k;
          code = field.unescaped_key().get(k);
          if (code == simdjson::SUCCESS && k == key) {
            code = field.value().get_array().get(arr);
            found = true;
            break;
          }
        }
        if (code == simdjson::SUCCESS && !found) code = simdjson::NO_SUCH_FIELD;
      }
      if (code == simdjson::SUCCESS) {
        for (auto item : arr) {
          simdjson::ondemand::object o;
          std::string_view raw;
          if (item.get_object().get(o) != simdjson::SUCCESS) {
            items_.push_back({});  // not an object
            continue;
          }
          if (o.raw_json().get(raw) != simdjson::SUCCESS) {
            code = simdjson::TAPE_ERROR;
            break;
          }
          items_.push_back(TrimJsonWhitespace(raw));
        }
      }
      if (code != simdjson::SUCCESS) error = simdjson::error_message(code);
      if (error.empty() && items_.size() != item_elements_.size()) {
        error = absl::StrCat(items_.size(), " items walked, ", item_elements_.size(), " parsed");
      }
    }
    if (!error.empty()) {
      items_.clear();
      r->error = absl::StrCat("container: ", error);
      return false;
    }
    return true;  // items_ may be empty: an empty container holds no record
  }

  bool NextItem(Record* r) {
    const size_t i = item_++;
    r->position = absl::StrCat(name_, ":", value_line_, ":", container_.empty() ? "" : container_,
                               "[", i, "]");
    const std::string_view raw = items_[i];
    if (raw.empty()) {
      r->error = "not a JSON object";
      return true;
    }
    if (raw.size() > limits_.max_record_bytes) {
      r->error = absl::StrCat("record longer than ", limits_.max_record_bytes,
                              " bytes (--max-record-bytes): skipped");
      return true;
    }
    r->json = item_elements_[i];
    r->raw = raw;
    return true;
  }

  // doc_ (parsed, so padded) is two or more JSON values one after another,
  // each spread over lines, as `jq .` prints a stream: their byte ranges go
  // to stream_. False, with stream_ untouched, if any of them is broken.
  bool SplitStream() {
    simdjson::dom::document_stream stream;
    const size_t batch = std::max<size_t>(doc_.size(), simdjson::dom::MINIMAL_BATCH_SIZE);
    if (probe_.parse_many(doc_.data(), doc_.size(), batch).get(stream) != simdjson::SUCCESS) {
      return false;
    }
    std::vector<std::pair<size_t, size_t>> values;
    for (auto it = stream.begin(); it != stream.end(); ++it) {
      simdjson::dom::element ignored;
      if ((*it).get(ignored) != simdjson::SUCCESS) return false;
      const std::string_view source = it.source();
      values.emplace_back(static_cast<size_t>(source.data() - doc_.data()), source.size());
    }
    if (values.size() < 2 || stream.truncated_bytes() != 0) return false;
    stream_ = std::move(values);
    stream_next_ = 0;
    stream_scanned_ = 0;
    return true;
  }

  // A line of doc_ after the first (which is line_) holds a whole JSON
  // object on its own: the input is JSON lines whose first lines are
  // broken, not a broken document. (A pretty-printed document has no such
  // line but an empty object; its scalars and `[]` do not count.) Erring
  // towards lines costs a broken document one error per line instead of
  // one in all; erring the other way would lose the records.
  bool LaterLineIsAnObject() {
    std::string_view rest = std::string_view(doc_).substr(std::min(doc_.size(), line_.size() + 1));
    std::string copy;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const absl::string_view l = absl::StripAsciiWhitespace(Av(rest.substr(0, nl)));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (l.size() < 2 || l.front() != '{' || l.back() != '}') continue;
      copy.assign(l.data(), l.size());
      copy.reserve(copy.size() + simdjson::SIMDJSON_PADDING);
      simdjson::dom::object object;
      if (probe_.parse(copy.data(), copy.size(), false).get(object) == simdjson::SUCCESS) {
        return true;
      }
    }
    return false;
  }

  // Reads the rest of the input after line_ into doc_ (line_ first). False
  // with *status set past max_document_bytes or on a read error. False with
  // *status OK when the bound is reached but the input is JSON lines with a
  // bad first line: what was read ahead is then in pending_.
  bool ReadDocument(absl::Status* status) {
    doc_ = line_;
    doc_ += '\n';
    std::string more;
    bool too_long = false;
    // A line of a document may be longer than a record; the document is
    // bounded as a whole.
    auto max_line = [&] {
      const size_t room =
          limits_.max_document_bytes - std::min(doc_.size(), limits_.max_document_bytes);
      return std::max(limits_.max_record_bytes, room);
    };
    while (ReadLine(&more, max_line(), &too_long, status)) {
      if (too_long || doc_.size() + more.size() + 1 > limits_.max_document_bytes) {
        if (LaterLineIsAnObject()) {
          pending_ = doc_.substr(line_.size() + 1);
          if (too_long) {
            pending_too_long_ = true;
          } else {
            pending_ += more;
            pending_ += '\n';
          }
          doc_.clear();
          return false;
        }
        *status = absl::InvalidArgumentError(
            absl::StrCat(name_, ":", value_line_,
                         ": the first line is not a JSON value, and the input as one "
                         "document is longer than ",
                         limits_.max_document_bytes, " bytes (--max-document-bytes): not read"));
        return false;
      }
      doc_ += more;
      doc_ += '\n';
    }
    return status->ok();
  }

  // One line without its '\n' (nor a '\r' before it). A line over `max`
  // bytes is consumed to its end but not kept (*too_long).
  // With `stop_early`, a line over `max` is not consumed further (and
  // cut_short_ is set): the caller must not read on.
  bool ReadLine(std::string* line, size_t max, bool* too_long, absl::Status* status,
                bool stop_early = false) {
    line->clear();
    *too_long = false;
    if (pending_off_ < pending_.size()) {
      // Lines read ahead by ReadDocument, each ending in '\n'.
      size_t nl = pending_.find('\n', pending_off_);
      if (nl == std::string::npos) nl = pending_.size();
      *line = pending_.substr(pending_off_, nl - pending_off_);
      pending_off_ = nl + 1;
      if (line->size() > max) {
        line->clear();
        *too_long = true;
      }
      return true;
    }
    if (pending_too_long_) {  // consumed by ReadDocument after pending_
      pending_too_long_ = false;
      *too_long = true;
      return true;
    }
    bool any = false;
    for (;;) {
      if (input_.size() == 0) {
        if (!input_.Fill(status)) {
          if (!status->ok()) return false;
          if (any && !*too_long && !line->empty() && line->back() == '\r') line->pop_back();
          return any;
        }
      }
      any = true;
      const char* start = input_.data();
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', input_.size()));
      const size_t n = nl == nullptr ? input_.size() : static_cast<size_t>(nl - start);
      if (!*too_long) {
        if (line->size() + n > max) {
          *too_long = true;
          line->clear();
          line->shrink_to_fit();
          if (stop_early) {
            cut_short_ = true;
            return true;
          }
        } else {
          line->append(start, n);
        }
      }
      input_.Consume(n);
      if (nl != nullptr) {
        input_.Consume(1);
        if (!*too_long && !line->empty() && line->back() == '\r') line->pop_back();
        return true;
      }
    }
  }

  DecodedInput input_;
  const std::string name_;
  const std::vector<std::string_view> keys_;
  const ReaderLimits limits_;

  std::string pending_;
  size_t pending_off_ = 0;
  bool pending_too_long_ = false;
  bool cut_short_ = false;  // the last line read was over its bound, not to its end

  // Values.
  Mode mode_ = Mode::kUnknown;
  bool done_ = false;
  std::string line_, doc_;
  // kStream: the values of doc_ (offset, size), the next one, and how far
  // doc_'s newlines have been counted into value_line_.
  std::vector<std::pair<size_t, size_t>> stream_;
  size_t stream_next_ = 0, stream_scanned_ = 0;
  const std::string* text_ = nullptr;
  int64_t line_no_ = 0, value_line_ = 0;
  static constexpr size_t kMaxDepth = 10001, kInitialCapacity = 64 << 10;
  bool alloc_failed_ = false;
  simdjson::dom::parser parser_, probe_;
  simdjson::ondemand::parser od_;
  simdjson::dom::element value_;
  std::string container_;
  std::vector<std::string_view> items_;
  std::vector<simdjson::dom::element> item_elements_;
  size_t item_ = 0;
};

RecordReader::RecordReader(std::unique_ptr<ByteSource> source, std::string name,
                           std::vector<std::string_view> container_keys, ReaderLimits limits)
    : impl_(std::make_unique<Impl>(std::move(source), std::move(name), std::move(container_keys),
                                   limits)) {}

RecordReader::~RecordReader() = default;

bool RecordReader::Next(Record* record) { return impl_->Next(record, &status_); }

}  // namespace infratrail::ingest
