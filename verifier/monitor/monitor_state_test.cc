#include "verifier/monitor/monitor_state.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "nlohmann/json.hpp"

namespace infratrail {
namespace {

MonitorState Trusting(uint64_t size) {
  NoteSigner signer = *NoteSigner::FromSeed("state.test/log", std::string(32, 's'));
  CompactRange r;
  Hasher h;
  for (uint64_t i = 0; i < size; ++i) r.AppendLeaf(h.HashLeaf("e"), h);
  Checkpoint cp;
  cp.origin = "state.test/log";
  cp.size = size;
  cp.root = *r.Root(h);
  MonitorState s;
  s.log_key = signer.VerifierKey();
  s.audit.trusted_note = *SignNote(cp.Body(), {signer});
  s.audit.next = s.audit.trusted_next = size;
  s.audit.range = s.audit.trusted_range = r;
  return s;
}

TEST(MonitorState, RoundTrips) {
  MonitorState s = Trusting(3);
  absl::StatusOr<MonitorState> back = DecodeMonitorState(EncodeMonitorState(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->audit.trusted_note, s.audit.trusted_note);
  EXPECT_EQ(back->audit.range, s.audit.range);
  EXPECT_EQ(EncodeMonitorState(*back), EncodeMonitorState(s));
}

TEST(MonitorState, AStateFileEditedByHandIsDataLossNamingTheField) {
  const std::string good = EncodeMonitorState(Trusting(3));
  for (auto [field, value, needle] : {std::tuple<const char*, nlohmann::json, const char*>{
                                          "trusted_note", "not a note", "trusted_note"},
                                      {"trusted_note", "a\n1\nAAAA\n\n— a AAAA\n", "trusted_note"},
                                      {"target_note", "junk", "target_note"},
                                      {"next", 2, "range"},
                                      {"trusted_next", 9, "trusted_next"}}) {
    nlohmann::json j = nlohmann::json::parse(good);
    j[field] = value;
    absl::StatusOr<MonitorState> s = DecodeMonitorState(j.dump());
    ASSERT_FALSE(s.ok()) << field;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE(absl::StrContains(s.status().message(), needle)) << s.status().message();
  }
  // A trusted checkpoint whose size is not the trusted position.
  MonitorState off = Trusting(3);
  off.audit.trusted_note = Trusting(2).audit.trusted_note;
  absl::StatusOr<MonitorState> s = DecodeMonitorState(EncodeMonitorState(off));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "does not match")) << s.status().message();
}

}  // namespace
}  // namespace infratrail
