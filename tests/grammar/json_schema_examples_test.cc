// The example schemas under schemas/: every NAME.schema.json compiles (standard semantics, `any`
// whitespace, unsupported keywords as errors, nothing loosened), every line of NAME.valid.jsonl is
// accepted compactly and pretty-printed, and every line of NAME.invalid.jsonl is rejected; then the
// same in the exact layouts (compact text with kCompact, 2-space pretty printing with kIndent).
// Schemas whose name starts with `openai_` are OpenAI strict tool schemas and are also checked in
// strict mode. Conversion and compile times are printed (p50 and max).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/grammar/json_schema_test_util.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// Compact (indent 0) or pretty-printed with `indent` spaces.
std::string Layout(const std::string& text, int indent) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str());
  if (d.HasParseError()) return text;  // invalid JSON lines stay as written
  rapidjson::StringBuffer sb;
  if (indent > 0) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
    w.SetIndent(' ', indent);
    d.Accept(w);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
  }
  return sb.GetString();
}

TEST(JsonSchemaExamples, EverySchemaCompilesAndSeparatesItsValidAndInvalidInstances) {
  const fs::path dir = fs::path(SIEVE_SOURCE_DIR) / "schemas";
  std::vector<fs::path> schemas;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 12 && name.substr(name.size() - 12) == ".schema.json")
      schemas.push_back(e.path());
  }
  std::sort(schemas.begin(), schemas.end());
  ASSERT_GE(schemas.size(), 40u);
  std::vector<double> times;
  int instances = 0;
  for (const fs::path& p : schemas) {
    const std::string stem = p.filename().string().substr(0, p.filename().string().size() - 12);
    const std::string text = ReadFile(p);
    JsonSchemaOptions opts;
    std::vector<JsonSchemaOptions> modes{opts};
    if (stem.rfind("openai_", 0) == 0) {
      JsonSchemaOptions strict = opts;
      strict.semantics = JsonSchemaSemantics::kStrict;
      modes.push_back(strict);
    }
    for (const JsonSchemaOptions& o : modes) {
      auto t0 = std::chrono::steady_clock::now();
      testing::SchemaGrammar g = testing::CompileSchema(text, o);
      times.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ASSERT_TRUE(g.ok()) << stem << ": " << g.status.ToString() << " at "
                          << g.status.json_pointer();
      EXPECT_FALSE(g.report.loosened()) << stem << ":\n" << g.report.ToString();
      const std::vector<std::string> valid = Lines(dir / (stem + ".valid.jsonl"));
      const std::vector<std::string> invalid = Lines(dir / (stem + ".invalid.jsonl"));
      EXPECT_FALSE(valid.empty()) << stem;
      EXPECT_FALSE(invalid.empty()) << stem;
      for (const std::string& v : valid) {
        EXPECT_TRUE(g.Accepts(Layout(v, 0))) << stem << " rejects valid " << v;
        EXPECT_TRUE(g.Accepts(Layout(v, 4))) << stem << " rejects valid (pretty) " << v;
        ++instances;
      }
      for (const std::string& v : invalid) {
        EXPECT_FALSE(g.Accepts(Layout(v, 0))) << stem << " accepts invalid " << v;
        EXPECT_FALSE(g.Accepts(Layout(v, 4))) << stem << " accepts invalid (pretty) " << v;
        ++instances;
      }
    }
    // The exact layouts: compact text in kCompact, 2-space pretty printing in kIndent.
    for (JsonWhitespace ws : {JsonWhitespace::kCompact, JsonWhitespace::kIndent}) {
      JsonSchemaOptions o;
      o.whitespace = ws;
      o.indent = 2;
      testing::SchemaGrammar g = testing::CompileSchema(text, o);
      ASSERT_TRUE(g.ok()) << stem << ": " << g.status.ToString();
      const int indent = ws == JsonWhitespace::kIndent ? 2 : 0;
      for (const std::string& v : Lines(dir / (stem + ".valid.jsonl"))) {
        EXPECT_TRUE(g.Accepts(Layout(v, indent))) << stem << " rejects valid " << Layout(v, indent);
        if (indent && Layout(v, 4) != Layout(v, 2)) {
          EXPECT_FALSE(g.Accepts(Layout(v, 4))) << stem << " accepts a 4-space layout " << v;
        }
      }
      for (const std::string& v : Lines(dir / (stem + ".invalid.jsonl"))) {
        EXPECT_FALSE(g.Accepts(Layout(v, indent))) << stem << " accepts invalid " << v;
      }
    }
  }
  std::sort(times.begin(), times.end());
  std::printf("schemas/: %zu schemas, %d instances, convert+compile p50 %.2f ms, max %.2f ms\n",
              schemas.size(), instances, times[times.size() / 2], times.back());
}

}  // namespace
}  // namespace sieve
