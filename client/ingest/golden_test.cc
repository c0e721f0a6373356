// Golden-file tests for every record-based ingest adapter (testing/golden.h
// describes the files). To review a deliberate mapping change, run with
// INFRATRAIL_UPDATE_GOLDEN=1: the golden files are rewritten, and `git diff`
// shows exactly what changed, to be read before committing.
#include "client/ingest/testing/golden.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "client/ingest/adapters.h"
#include "gtest/gtest.h"

namespace infratrail::ingest {
namespace {

namespace fs = std::filesystem;

// The options every golden case of an adapter is mapped with.
MapperOptions OptionsFor(const std::string& adapter) {
  MapperOptions o;
  if (adapter == "k8s-audit") o.cluster = "prod-eu1";
  if (adapter == "terraform") {
    o.repository = "https://github.com/example/infra";
    o.commit = "4f2e8a1c9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
    o.pipeline = "github-actions/example/infra/8812";
    o.actor = "terraform-ci";
  }
  return o;
}

struct GoldenCase {
  std::string adapter;
  fs::path input;
  fs::path golden;
};

bool IsInput(const fs::path& p) {
  const std::string name = p.filename().string();
  if (absl::EndsWith(name, ".golden.jsonl") || name == "README.md") return false;
  for (const char* ext : {".json", ".jsonl", ".json.gz", ".jsonl.gz"}) {
    if (absl::EndsWith(name, ext)) return true;
  }
  return false;
}

std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  const fs::path root = INFRATRAIL_INGEST_TESTDATA;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(root, ec)) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      if (!IsInput(f.path())) continue;
      const std::string name = f.path().filename().string();
      GoldenCase c{dir.path().filename().string(), f.path(),
                   dir.path() / (name.substr(0, name.find('.')) + ".golden.jsonl")};
      cases.push_back(std::move(c));
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const GoldenCase& a, const GoldenCase& b) { return a.input < b.input; });
  return cases;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesGoldenFile) {
  const GoldenCase& c = GetParam();
  absl::StatusOr<std::unique_ptr<Mapper>> mapper = MakeMapper(c.adapter, OptionsFor(c.adapter));
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  const std::string got = RenderOutcomes(**mapper, c.input.string());
  if (std::getenv("INFRATRAIL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(c.golden, std::ios::binary | std::ios::trunc) << got;
    GTEST_SKIP() << "rewrote " << c.golden;
  }
  ASSERT_TRUE(fs::exists(c.golden)) << c.golden << " is missing";
  const std::string want = ReadFile(c.golden);
  // Line by line, so a failure names the outcome that changed.
  const std::vector<std::string> g = absl::StrSplit(got, '\n');
  const std::vector<std::string> w = absl::StrSplit(want, '\n');
  for (size_t i = 0; i < std::min(g.size(), w.size()); ++i) {
    EXPECT_EQ(g[i], w[i]) << c.golden.filename() << " line " << i + 1;
  }
  EXPECT_EQ(g.size(), w.size()) << "outcomes for " << c.input.filename();
}

INSTANTIATE_TEST_SUITE_P(Adapters, GoldenTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                           std::string name =
                               info.param.adapter + "_" + info.param.input.filename().string();
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// Every adapter has golden cases: a directory lost in a move fails here
// rather than passing with nothing compared.
TEST(GoldenCoverage, EveryAdapterHasCases) {
  const std::vector<GoldenCase> cases = Cases();
  for (std::string_view name : MapperNames()) {
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(),
                            [&](const GoldenCase& c) { return c.adapter == name; }))
        << "no golden cases for " << name;
  }
}

}  // namespace
}  // namespace infratrail::ingest
