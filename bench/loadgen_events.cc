#include "bench/loadgen_events.h"

#include <algorithm>
#include <random>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "infratrail/v1/event.pb.h"
#include "proto/entry_validation.h"

namespace infratrail::loadgen {
namespace {

using ::infratrail::v1::InfraEvent;

std::string RandomHex(std::mt19937_64& rng, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = kHex[rng() & 15];
  return s;
}

constexpr v1::EventKind kKinds[] = {
    v1::PROVISION,   v1::DEPLOY,       v1::ACCESS,      v1::CONFIG_CHANGE,
    v1::KEY_CREATE,  v1::KEY_ROTATE,   v1::DEPLOY,      v1::CONFIG_CHANGE,
    v1::DEPROVISION, v1::KEY_RECOVERY, v1::BREAK_GLASS, v1::KEY_DESTROY,
};

InfraEvent BaseEvent(v1::EventKind kind, const std::string& id, std::mt19937_64& rng) {
  InfraEvent e;
  e.set_kind(kind);
  const int64_t now_ns = absl::GetCurrentTimeNanos();
  e.mutable_occurred_at()->set_seconds(now_ns / 1'000'000'000);
  e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(now_ns % 1'000'000'000));
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_type("vm");
  e.mutable_resource()->set_id(id);
  e.mutable_actor()->set_principal("ci@example.com");
  e.mutable_actor()->set_via(v1::CI);
  e.mutable_source()->set_repository("github.com/example/platform-infra");
  e.mutable_source()->set_commit(RandomHex(rng, 40));
  e.mutable_source()->set_pipeline(absl::StrCat("gha-run-", rng() % 100000000));
  if (kind == v1::DEPLOY) e.set_artifact_digest(absl::StrCat("sha256:", RandomHex(rng, 64)));
  if (kind == v1::ACCESS || kind == v1::KEY_RECOVERY || kind == v1::BREAK_GLASS) {
    e.set_justification("on-call investigation of elevated 5xx rate in eu-west-1");
    e.set_ticket(absl::StrCat("INC-", 10000 + rng() % 90000));
  }
  auto& attrs = *e.mutable_attributes();
  attrs["region"] = "eu-west-1";
  attrs["account"] = "123456789012";
  attrs["env"] = "prod";
  return e;
}

// Grows a padding attribute until the event serializes to `target` bytes
// (or one byte over, when a length varint crossing 128 makes it unreachable).
void PadTo(InfraEvent& e, size_t target) {
  size_t size = e.ByteSizeLong();
  if (size >= target) return;
  std::string& pad = (*e.mutable_attributes())["padding"];
  int64_t len = static_cast<int64_t>(target - size) - 12;
  for (int i = 0; i < 8; ++i) {
    pad.assign(static_cast<size_t>(std::max<int64_t>(len, 0)), 'x');
    size = e.ByteSizeLong();
    if (size == target || len <= 0) return;
    len += static_cast<int64_t>(target) - static_cast<int64_t>(size);
  }
}

}  // namespace

absl::StatusOr<EventFactory> EventFactory::Create(size_t target_size, uint64_t seed,
                                                  bool random_fields) {
  std::mt19937_64 rng(seed);
  EventFactory f;
  f.seed_ = seed;
  f.nonce_ = RandomHex(rng, 16);
  const std::string placeholder(kCounterDigits, '0');
  const std::string id = absl::StrCat("i-", f.nonce_, "-", placeholder);
  f.min_size_ = SIZE_MAX;
  for (v1::EventKind kind : kKinds) {
    InfraEvent e = BaseEvent(kind, id, rng);
    PadTo(e, target_size);
    Template t;
    // Deterministic: the log accepts an event only in its canonical
    // encoding (attributes sorted by key; docs/formats.md).
    bool serialized = false;
    {
      google::protobuf::io::StringOutputStream stream(&t.bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      serialized = e.SerializeToCodedStream(&coded);
    }
    if (!serialized) {
      return absl::InternalError("EventFactory: serializing the template event failed");
    }
    // Fail here, not with a refused append per event.
    if (absl::Status valid = ValidateEntry(t.bytes, "EventFactory: template event"); !valid.ok()) {
      return valid;
    }
    const size_t at = t.bytes.find(id);
    if (at == std::string::npos) {
      return absl::InternalError("EventFactory: resource.id not found in the serialized event");
    }
    t.counter_offset = at + id.size() - placeholder.size();
    if (random_fields) {
      // Hex stays valid UTF-8 and keeps every length, hence the encoding.
      auto add = [&](const std::string& value, size_t skip) -> absl::Status {
        if (value.size() <= skip) return absl::OkStatus();
        const size_t pos = t.bytes.find(value);
        if (pos == std::string::npos) {
          return absl::InternalError("EventFactory: a random field not found in the event");
        }
        t.random.push_back(Span{pos + skip, value.size() - skip});
        return absl::OkStatus();
      };
      absl::Status s = add(e.source().commit(), 0);
      if (s.ok()) s = add(e.artifact_digest(), std::string_view("sha256:").size());
      const auto pad = e.attributes().find("padding");
      if (s.ok() && pad != e.attributes().end()) s = add(pad->second, 0);
      if (!s.ok()) return s;
    }
    f.min_size_ = std::min(f.min_size_, t.bytes.size());
    f.max_size_ = std::max(f.max_size_, t.bytes.size());
    f.templates_.push_back(std::move(t));
  }
  return f;
}

void EventFactory::Fill(uint64_t n, std::string* out) const {
  const Template& t = templates_[n % templates_.size()];
  out->assign(t.bytes);
  char* digits = out->data() + t.counter_offset;
  const uint64_t number = n;
  for (int i = kCounterDigits - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
  if (t.random.empty()) return;
  // splitmix64 over (seed, n): 16 hex digits per step.
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t state = seed_ ^ (number * 0x9e3779b97f4a7c15ULL);
  for (const Span& span : t.random) {
    char* p = out->data() + span.offset;
    for (size_t i = 0; i < span.size; i += 16) {
      state += 0x9e3779b97f4a7c15ULL;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      for (size_t j = i; j < span.size && j < i + 16; ++j, z >>= 4) p[j] = kHex[z & 15];
    }
  }
}

}  // namespace infratrail::loadgen
