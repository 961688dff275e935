// JSON-Schema-Test-Suite conformance of the JSON Schema front end, held against a baseline.
//
// Reads ../shared/conformance/jsts/flat/{draft2020-12,draft7}.jsonl (SIEVE_SHARED_DIR overrides the
// location) and runs every case of the `core` and `format` tiers: the schema is converted with
// standard semantics, `any` whitespace, unsupported keywords as errors, the case's draft as the
// default draft and JSON Schema's number model (1.0 is an integer); the grammar is compiled through
// the real pipeline; the instance is serialised compactly and pretty-printed (RapidJSON Writer and
// PrettyWriter) and both texts go through the matcher. Outcomes per case:
//  - pass: a valid instance accepted in both layouts, or an invalid one rejected in both;
//  - unsupported: the conversion failed with kUnsupported (a keyword we report), never a pass;
//  - fail: anything else (a valid instance rejected, a conversion error, ...).
// An invalid instance accepted although the report does not say the grammar was loosened is a
// soundness bug and fails the test outright. Unsupported schemas are also compiled with
// UnsupportedPolicy::kIgnore and the share of their cases that still pass is printed (information:
// an ignored keyword loosens the grammar). Per (draft, tier, keyword) counts are compared with
// tests/conformance/jsts_baseline.tsv: a pass count below the baseline fails (regressions fail
// CI). SIEVE_UPDATE_BASELINE=1 rewrites the baseline from this run. Totals are printed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sieve {
namespace {

std::string SharedDir() {
  if (const char* env = std::getenv("SIEVE_SHARED_DIR")) return env;
  return std::string(SIEVE_SOURCE_DIR) + "/../shared";
}

std::string BaselinePath() {
  return std::string(SIEVE_SOURCE_DIR) + "/tests/conformance/jsts_baseline.tsv";
}

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

std::string Pretty(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

struct Counts {
  int cases = 0, pass = 0, fail = 0, unsupported = 0;
};

using Key = std::tuple<std::string, std::string, std::string>;  // draft, tier, keyword

struct Compiled {
  StatusCode code = StatusCode::kOk;
  std::string message;
  bool unsatisfiable = false;
  bool loosened = false;
  std::shared_ptr<const CompiledGrammar> pda;
  std::shared_ptr<const CompiledGrammar> ignored;  // kIgnore grammar of an unsupported schema
};

bool Accepts(const Compiled& c, const std::string& text) {
  if (!c.pda) return false;
  GrammarMatcher m(c.pda);
  return m.AcceptString(text) && m.CanTerminate();
}

std::map<Key, Counts> ReadBaseline() {
  std::map<Key, Counts> out;
  std::ifstream in(BaselinePath());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string draft, tier, kw;
    Counts c;
    if (ls >> draft >> tier >> kw >> c.cases >> c.pass >> c.fail >> c.unsupported) {
      out[{draft, tier, kw}] = c;
    }
  }
  return out;
}

TEST(JsonSchemaConformance, CoreAndFormatTiersHoldTheBaselineAndNeverAcceptInvalidSilently) {
  const auto t0 = std::chrono::steady_clock::now();
  std::map<Key, Counts> counts;
  std::vector<std::string> unsound;
  int files = 0;
  int ignored_valid = 0, ignored_valid_ok = 0, ignored_invalid = 0, ignored_invalid_ok = 0;
  for (const char* draft : {"draft2020-12", "draft7"}) {
    std::ifstream in(SharedDir() + "/conformance/jsts/flat/" + draft + ".jsonl");
    if (!in) continue;
    ++files;
    JsonSchemaOptions opts;
    opts.whitespace = JsonWhitespace::kAny;
    opts.integer_allows_zero_fraction = true;
    opts.default_draft =
        std::string(draft) == "draft7" ? JsonSchemaDraft::kDraft7 : JsonSchemaDraft::kDraft2020_12;
    std::map<std::string, Compiled> cache;
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse<rapidjson::kParseFullPrecisionFlag>(line.c_str());
      ASSERT_FALSE(d.HasParseError()) << line;
      std::string tier = d["tier"].GetString();
      if (tier != "core" && tier != "format") continue;
      Key key{draft, tier, d["keyword"].GetString()};
      Counts& c = counts[key];
      ++c.cases;
      std::string schema = Compact(d["schema"]);
      auto it = cache.find(schema);
      if (it == cache.end()) {
        Compiled comp;
        auto g = JsonSchemaToGrammar(schema, opts);
        if (!g.ok()) {
          comp.code = g.status().code();
          comp.message = g.status().ToString();
          comp.unsatisfiable = g.status().code() == StatusCode::kInvalidArgument &&
                               g.status().message() == kUnsatisfiableSchemaMessage;
          if (comp.code == StatusCode::kUnsupported) {
            JsonSchemaOptions ignore = opts;
            ignore.unsupported = UnsupportedPolicy::kIgnore;
            auto gi = JsonSchemaToGrammar(schema, ignore);
            if (gi.ok()) {
              auto pi = CompileGrammarIr(std::move(gi->grammar), GrammarCompileOptions());
              if (pi.ok()) comp.ignored = pi->pda;
            }
          }
        } else {
          comp.loosened = g->report.loosened();
          auto pda = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
          if (!pda.ok()) {
            comp.code = pda.status().code();
            comp.message = "compile: " + pda.status().ToString();
          } else {
            comp.pda = pda->pda;
          }
        }
        it = cache.emplace(schema, std::move(comp)).first;
      }
      const Compiled& comp = it->second;
      const bool valid = d["valid"].GetBool();
      if (comp.code == StatusCode::kUnsupported) {
        ++c.unsupported;
        if (std::getenv("SIEVE_CONFORMANCE_VERBOSE")) {
          std::printf("UNSUPPORTED %s: %s\n", d["id"].GetString(), comp.message.c_str());
        }
        // Informational: with kIgnore the grammar is looser, so valid instances should pass.
        Compiled loose;
        loose.pda = comp.ignored;
        const bool ok = Accepts(loose, Compact(d["instance"]));
        ++(valid ? ignored_valid : ignored_invalid);
        if (ok == valid) ++(valid ? ignored_valid_ok : ignored_invalid_ok);
        continue;
      }
      if (comp.code != StatusCode::kOk && !comp.unsatisfiable) {
        ++c.fail;
        if (std::getenv("SIEVE_CONFORMANCE_VERBOSE")) {
          std::printf("ERROR %s: %s\n", d["id"].GetString(), comp.message.c_str());
        }
        continue;
      }
      const bool a1 = Accepts(comp, Compact(d["instance"]));
      const bool a2 = Accepts(comp, Pretty(d["instance"]));
      const bool pass = valid ? (a1 && a2) : (!a1 && !a2);
      if (pass) {
        ++c.pass;
      } else {
        ++c.fail;
        if (!valid && !comp.loosened) {
          unsound.push_back(std::string(d["id"].GetString()) + " " + schema + " accepts " +
                            Compact(d["instance"]));
        }
        if (std::getenv("SIEVE_CONFORMANCE_VERBOSE")) {
          std::printf("FAIL %s (%s, compact %d pretty %d) %s | %s\n", d["id"].GetString(),
                      valid ? "valid" : "invalid", a1, a2, schema.c_str(),
                      Compact(d["instance"]).c_str());
        }
      }
    }
  }
  ASSERT_GT(files, 0) << "no conformance files under " << SharedDir();

  // Totals per tier, and the comparison with the baseline.
  std::map<std::string, Counts> tiers;
  for (const auto& [k, c] : counts) {
    Counts& t = tiers[std::get<1>(k)];
    t.cases += c.cases;
    t.pass += c.pass;
    t.fail += c.fail;
    t.unsupported += c.unsupported;
  }
  for (const auto& [tier, t] : tiers) {
    std::printf(
        "jsts %-6s cases %4d  pass %4d (%.1f%%, %.1f%% of supported)  fail %3d  "
        "unsupported %3d\n",
        tier.c_str(), t.cases, t.pass, 100.0 * t.pass / t.cases,
        100.0 * t.pass / std::max(1, t.cases - t.unsupported), t.fail, t.unsupported);
  }
  std::printf("jsts unsupported cases with kIgnore: %d/%d valid accepted, %d/%d invalid rejected\n",
              ignored_valid_ok, ignored_valid, ignored_invalid_ok, ignored_invalid);
  std::printf("jsts time %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  if (std::getenv("SIEVE_UPDATE_BASELINE")) {
    std::ofstream out(BaselinePath());
    out << "# draft\ttier\tkeyword\tcases\tpass\tfail\tunsupported  (tests/conformance/"
           "jsts_test.cc; regenerate with SIEVE_UPDATE_BASELINE=1)\n";
    for (const auto& [k, c] : counts) {
      out << std::get<0>(k) << '\t' << std::get<1>(k) << '\t' << std::get<2>(k) << '\t' << c.cases
          << '\t' << c.pass << '\t' << c.fail << '\t' << c.unsupported << '\n';
    }
  } else {
    std::map<Key, Counts> baseline = ReadBaseline();
    EXPECT_FALSE(baseline.empty()) << "missing baseline " << BaselinePath();
    for (const auto& [k, b] : baseline) {
      auto it = counts.find(k);
      int pass = it == counts.end() ? 0 : it->second.pass;
      EXPECT_GE(pass, b.pass) << "regression in " << std::get<0>(k) << " " << std::get<1>(k) << " "
                              << std::get<2>(k);
    }
  }
  for (const std::string& u : unsound) ADD_FAILURE() << "invalid instance accepted: " << u;
}

}  // namespace
}  // namespace sieve
