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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/ingest/adapters.h"
#include "client/ingest/deploy.h"
#include "client/ingest/mapping.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

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

// Compares `got` with the golden file line by line, so a failure names the
// outcome that changed; with INFRATRAIL_UPDATE_GOLDEN set, rewrites it.
void ExpectGolden(const std::string& got, const fs::path& golden) {
  if (std::getenv("INFRATRAIL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary | std::ios::trunc) << got;
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing";
  const std::string want = ReadFile(golden);
  const std::vector<std::string> g = absl::StrSplit(got, '\n');
  const std::vector<std::string> w = absl::StrSplit(want, '\n');
  for (size_t i = 0; i < std::min(g.size(), w.size()); ++i) {
    EXPECT_EQ(g[i], w[i]) << golden.filename() << " line " << i + 1;
  }
  EXPECT_EQ(g.size(), w.size()) << "outcomes in " << golden.filename();
}

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesGoldenFile) {
  const GoldenCase& c = GetParam();
  absl::StatusOr<std::unique_ptr<Mapper>> mapper = MakeMapper(c.adapter, OptionsFor(c.adapter));
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  ExpectGolden(RenderOutcomes(**mapper, c.input.string()), c.golden);
}

// deploy maps no records: the pipeline lists the images it deployed, one
// per line (docs/ingest.md). Each deploy/*.txt is such a list, mapped with
// fixed flags; its golden file holds the events, or the error refusing
// the list.
TEST(DeployGolden, MatchesGoldenFiles) {
  const fs::path dir = fs::path(INFRATRAIL_INGEST_TESTDATA) / "deploy";
  std::vector<fs::path> lists;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ".txt") lists.push_back(f.path());
  }
  std::sort(lists.begin(), lists.end());
  ASSERT_GE(lists.size(), 2u) << "deploy golden cases are missing from " << dir;
  for (const fs::path& list : lists) {
    SCOPED_TRACE(list.filename());
    DeployOptions o;
    o.images = ImageRefLines(ReadFile(list));
    o.repository = "https://github.com/example/shop";
    o.commit = "9c1b7e2d4f6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c";
    o.pipeline = "github-actions/example/shop/4412";
    o.environment = "prod-eu1";
    o.actor = "ci@example.com";
    o.occurred_at = "2026-11-30T12:00:00Z";
    std::string got;
    absl::StatusOr<std::vector<v1::InfraEvent>> events = BuildDeployEvents(o);
    if (!events.ok()) {
      got = nlohmann::json{{"error", events.status().message()}}.dump() + "\n";
    } else {
      for (size_t i = 0; i < events->size(); ++i) {
        got += nlohmann::json{{"position", absl::StrCat("image[", i, "]")},
                              {"event", nlohmann::json::parse(EventToSortedJson((*events)[i]))}}
                   .dump() +
               "\n";
      }
    }
    fs::path golden = list;
    ExpectGolden(got, golden.replace_extension(".golden.jsonl"));
  }
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
