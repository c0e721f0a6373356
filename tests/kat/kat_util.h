// Loading the known-answer vectors of tests/testdata (see its README.md).
#ifndef INFRATRAIL_TESTS_KAT_KAT_UTIL_H_
#define INFRATRAIL_TESTS_KAT_KAT_UTIL_H_

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "core/hash.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace infratrail::kat {

inline nlohmann::json Load(const std::string& name) {
  std::ifstream in(std::string(INFRATRAIL_TESTDATA_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << "missing test data " << name;
  return nlohmann::json::parse(in);
}

inline std::string Unhex(const nlohmann::json& hex) {
  absl::StatusOr<std::string> b = HexDecode(hex.get<std::string>(), "vector");
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : std::string();
}

// A hash from hex; nullopt when it is not 32 bytes (some probes use such
// values on purpose: they can only be rejected).
inline std::optional<Hash> HashOrNull(const nlohmann::json& hex) {
  absl::StatusOr<Hash> h = HashFromBytes(Unhex(hex), "vector");
  if (!h.ok()) return std::nullopt;
  return *h;
}

inline Hash H(const nlohmann::json& hex) {
  std::optional<Hash> h = HashOrNull(hex);
  EXPECT_TRUE(h.has_value()) << hex;
  return h.value_or(Hash{});
}

inline std::optional<std::vector<Hash>> HashesOrNull(const nlohmann::json& list) {
  std::vector<Hash> out;
  for (const auto& x : list) {
    std::optional<Hash> h = HashOrNull(x);
    if (!h) return std::nullopt;
    out.push_back(*h);
  }
  return out;
}

}  // namespace infratrail::kat

#endif  // INFRATRAIL_TESTS_KAT_KAT_UTIL_H_
