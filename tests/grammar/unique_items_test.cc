// uniqueItems at run time (grammar/unique_items.h): JSON Schema equality of items, readings that
// survive a repeat (anyOf), nested arrays, rollback and forks, the token mask against the naive
// oracle with the Llama-3 vocabulary, and the flag's trip through EBNF, images and the validator.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_printer.h"
#include "grammar/grammar_serialize.h"
#include "grammar/json_schema.h"
#include "grammar/json_schema_locate.h"
#include "grammar/matcher.h"
#include "grammar/openai_request.h"
#include "grammar/unique_items.h"
#include "tests/grammar/mask_test_util.h"

namespace sieve {
namespace {

std::shared_ptr<const CompiledGrammar> Schema(const std::string& schema) {
  auto g = JsonSchemaToGrammar(schema, JsonSchemaOptions());
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& g, const std::string& doc) {
  GrammarMatcher m(g);
  return m.AcceptString(doc) && m.CanTerminate();
}

TEST(UniqueItems, ItemsCompareByJsonSchemaEquality) {
  auto g = Schema(R"({"uniqueItems": true})");
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->HasUniqueItems());
  const char* distinct[] = {
      "[]", "[1,2]", R"([{"a":1,"b":2},{"b":2,"a":2}])", R"([{"a":1,"b":2},{"a":2,"b":1}])",
      R"(["ab","a"])", "[[1],[true]]", "[0,false]", "[1,[1,1]]", "[1e400,1e401]", "[[]]",
      "[1,10]", "[0.1,1]", R"(["a","A"])", R"([{"a":[1,2]},{"a":[2,1]}])", "[100,1000]",
      R"([null,"null"])", R"([{"a":1},{"a":1,"b":1}])"};
  for (const char* d : distinct) EXPECT_TRUE(Accepts(g, d)) << d;
  const char* repeats[] = {"[1,1]",
                           "[1.0,1]",
                           "[1e0, 10e-1]",
                           R"([{"a":1,"b":2},{"b":2,"a":1}])",
                           R"(["a","\u0061"])",
                           "[[1,2],[1,2]]",
                           "[null,null]",
                           "[true,true]",
                           "[-0,0]",
                           "[1e400,1e400]",
                           "[100,1e2]",
                           R"(["\ud83d\ude00","😀"])",
                           "[[],[]]",
                           "[{},{}]",
                           "[0.5e1, 5]",
                           "[12345678901234567890123e-3, 12345678901234567890.123]",
                           "[1, 2, 3, 4, 5, 3]",
                           R"(["\/", "/"])",
                           "[ 1 ,\n 1 ]"};
  for (const char* d : repeats) EXPECT_FALSE(Accepts(g, d)) << d;
}

// Random arrays drawn from spellings whose equality classes are known by construction: the matcher
// and the validator must accept exactly the arrays whose items come from distinct classes.
TEST(UniqueItems, RandomArraysAgreeWithKnownEqualityClasses) {
  const std::vector<std::vector<std::string>> classes = {
      {"1", "1.0", "1e0", "10e-1", "0.1e1", "1.000", "100E-2"},
      {"-0", "0", "0.0", "0e5", "-0.0e-3"},
      {"10", "1e1", "10.0", "0.01e3"},
      {"-1.5", "-15e-1", "-0.15E+1"},
      {"123456789012345678901234567890", "1.23456789012345678901234567890e29"},
      {"123456789012345678901234567891"},
      {R"("a")", R"("\u0061")"},
      {R"("A")", R"("\u0041")"},
      {R"("ab")"},
      {R"("")"},
      {R"("\n")", R"("\u000a")", R"("\u000A")"},
      {R"("/")", R"("\/")"},
      {R"("😀")", R"("\ud83d\ude00")", R"("\uD83D\uDE00")"},
      {"null"},
      {"true"},
      {"false"},
      {"[]", "[ ]"},
      {"{}", "{ }"},
      {"[1,2]", "[1.0, 2e0]"},
      {"[2,1]"},
      {"[[1]]", "[[1.0]]"},
      {R"({"a":1,"b":[true]})", R"({"b":[true],"a":1.0})", R"({ "b" : [ true ] , "a" : 1e0 })"},
      {R"({"a":1,"b":[false]})"},
      {R"({"a":{"x":"y","z":null}})", R"({"a":{"z":null,"x":"\u0079"}})"},
      {R"({"a":{"x":"y"}})"},
  };
  auto g = Schema(R"({"uniqueItems": true})");
  ASSERT_NE(g, nullptr);
  auto v = JsonSchemaValidator::Create(R"({"uniqueItems": true})", JsonSchemaOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  std::mt19937 rng(2026);
  int valid = 0, invalid = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = 2 + static_cast<int>(rng() % 5);
    std::vector<size_t> picked;
    std::string doc = "[";
    for (int i = 0; i < n; ++i) {
      const size_t c = rng() % classes.size();
      picked.push_back(c);
      if (i > 0) doc += rng() % 3 == 0 ? " , " : ",";
      doc += classes[c][rng() % classes[c].size()];
    }
    doc += "]";
    std::vector<size_t> sorted = picked;
    std::sort(sorted.begin(), sorted.end());
    const bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    ++(distinct ? valid : invalid);
    GrammarMatcher m(g);
    const bool accepted = m.AcceptString(doc) && m.CanTerminate();
    ASSERT_EQ(accepted, distinct) << doc;
    ASSERT_EQ(v->Validate(doc).accepted, distinct) << doc;
    // Token-sized pieces take the same path as whole strings.
    GrammarMatcher p(g);
    bool ok = true;
    for (size_t i = 0; i < doc.size() && ok; i += 3) ok = p.AcceptString(doc.substr(i, 3));
    ASSERT_EQ(ok && p.CanTerminate(), distinct) << doc;
  }
  EXPECT_GT(valid, 500);
  EXPECT_GT(invalid, 500);
}

TEST(UniqueItems, OnlyTheFlaggedReadingsDieOnARepeat) {
  // [1,1] is a valid plain array of integers; as the unique reading it is not.
  auto either = Schema(R"({"anyOf": [{"uniqueItems": true}, {"items": {"type": "integer"}}]})");
  ASSERT_NE(either, nullptr);
  EXPECT_TRUE(Accepts(either, "[1,1]"));
  EXPECT_FALSE(Accepts(either, R"(["a","a"])"));
  EXPECT_TRUE(Accepts(either, R"(["a","b"])"));
  // Nested: every level checks its own items.
  auto nested = Schema(R"({"uniqueItems": true, "items": {"type": "array", "uniqueItems": true}})");
  ASSERT_NE(nested, nullptr);
  EXPECT_TRUE(Accepts(nested, "[[1,2],[2,1]]"));
  EXPECT_FALSE(Accepts(nested, "[[1,1]]"));
  EXPECT_FALSE(Accepts(nested, "[[1],[1]]"));
  EXPECT_TRUE(Accepts(nested, "[[1],[2],[]]"));
  // Inside an object, after other members.
  auto obj = Schema(
      R"({"type":"object","properties":{"n":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}}})");
  ASSERT_NE(obj, nullptr);
  EXPECT_TRUE(Accepts(obj, R"({"n":1,"tags":["x","y"]})"));
  EXPECT_FALSE(Accepts(obj, R"({"n":1,"tags":["x","y","x"]})"));
}

TEST(UniqueItems, RollbackForgetsItemsAndForksKeepTheirOwn) {
  auto g = Schema(R"({"uniqueItems": true})");
  ASSERT_NE(g, nullptr);
  GrammarMatcher m(g);
  ASSERT_TRUE(m.AcceptString("[1,"));
  ASSERT_TRUE(m.AcceptString("2,"));
  EXPECT_FALSE(m.AcceptString("1]"));  // a rejected input changes nothing
  ASSERT_TRUE(m.Rollback(1));          // 2 is forgotten
  GrammarMatcher fork = m.Fork();
  ASSERT_TRUE(m.AcceptString("3,2,"));
  EXPECT_FALSE(m.AcceptString("3]"));
  EXPECT_TRUE(m.AcceptString("4]"));
  EXPECT_TRUE(m.CanTerminate());
  // The fork saw [1, only: 3 and 2 are new to it, 1 is not.
  ASSERT_TRUE(fork.AcceptString("2,3,"));
  EXPECT_FALSE(fork.AcceptString("1]"));
  EXPECT_TRUE(fork.AcceptString("5]"));
  EXPECT_TRUE(fork.CanTerminate());
  // Byte-wise answers agree: after [7, the byte ']' is refused only once 7 is complete.
  GrammarMatcher b(g);
  ASSERT_TRUE(b.AcceptString("[7,7"));
  EXPECT_FALSE(b.NextBytes().test(']'));
  EXPECT_FALSE(b.NextBytes().test(','));
  EXPECT_TRUE(b.NextBytes().test('0'));
  EXPECT_FALSE(b.AcceptByte(']'));
  b.Reset();
  EXPECT_TRUE(b.AcceptString("[7,7]") == false);
}

TEST(UniqueItems, NestingInsideAFlaggedArrayIsALimit) {
  auto g = Schema(R"({"uniqueItems": true})");
  ASSERT_NE(g, nullptr);
  const size_t ok_depth = kMaxUniqueNesting;
  GrammarMatcher m(g);
  EXPECT_TRUE(m.AcceptString(std::string(ok_depth, '[') + std::string(ok_depth, ']')));
  EXPECT_TRUE(m.CanTerminate());
  EXPECT_FALSE(m.limit_hit());
  GrammarMatcher deep(g);
  ASSERT_TRUE(deep.AcceptString(std::string(ok_depth, '[')));
  EXPECT_FALSE(deep.AcceptByte('['));  // one level more: refused as a limit, not as invalid
  EXPECT_TRUE(deep.limit_hit());
  EXPECT_TRUE(deep.AcceptByte(']'));   // the matcher is unchanged by the refusal
  // The validator reports it as a limit, not as a repeated item.
  auto v = JsonSchemaValidator::Create(R"({"uniqueItems": true})", JsonSchemaOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const JsonSchemaVerdict r = v->Validate(std::string(ok_depth + 1, '['));
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, ok_depth);
  EXPECT_TRUE(r.limit_hit);
  EXPECT_FALSE(r.repeated_item);
}

TEST(UniqueItems, TokenMaskEqualsTheNaiveMaskWithLlama3) {
  auto tok = mask_test::RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = mask_test::VocabOf(*tok);
  const size_t words = BitmaskWords(vocab->size());
  // Item domains too large for the grammar's own check (> 16 values): the matcher checks.
  const char* schemas[] = {
      R"({"type":"array","items":{"type":"integer","minimum":0,"maximum":30},"uniqueItems":true})",
      R"({"type":"array","items":{"enum":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r"]},"uniqueItems":true})",
      R"({"type":"array","items":{"type":"array","items":{"type":"boolean"},"maxItems":3},"uniqueItems":true})",
      // Free strings around the array: brackets inside them are read while the check is idle.
      R"({"type":"object","properties":{"t":{"type":"array","items":{"type":"string","maxLength":3},"uniqueItems":true}},"additionalProperties":{"type":"string"}})"};
  for (const char* schema : schemas) {
    SCOPED_TRACE(schema);
    auto cache = mask_test::BuildCache(Schema(schema), vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(7);
    for (int walk = 0; walk < 3; ++walk) {
      GrammarMatcher m(cache);
      ASSERT_GE(mask_test::CheckRandomWalk(&m, &rng, 12, "walk"), 0);
    }
  }
  // The filter is what removes a repeat: after [1,1 the cached mask alone would allow "]".
  auto cache = mask_test::BuildCache(Schema(schemas[0]), vocab);
  ASSERT_NE(cache, nullptr);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString("[1,1"));
  std::vector<uint32_t> mask(words);
  m.FillNextTokenBitmask(mask.data(), words);
  int checked = 0;
  for (const char* text : {"]", ",", "0", "5"}) {
    const auto ids = tok->Encode(text, false);
    ASSERT_EQ(ids.size(), 1u) << text;
    const bool allowed = mask[ids[0] >> 5] >> (ids[0] & 31) & 1;
    EXPECT_EQ(allowed, text[0] >= '0' && text[0] <= '9') << text;
    EXPECT_EQ(allowed, m.WouldAcceptToken(ids[0])) << text;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
  std::string why;
  EXPECT_TRUE(mask_test::SameMask(m, words, &why, /*fork_oracle=*/true)) << why;
}

TEST(UniqueItems, FlagSurvivesEbnfImagesAndTheValidator) {
  auto g = JsonSchemaToGrammar(R"({"type":"array","uniqueItems":true})", JsonSchemaOptions());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const std::string text = PrintEbnf(g->grammar);
  EXPECT_NE(text.find("#!unique_items "), std::string::npos) << text;
  auto back = ParseEbnf(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(g->grammar));
  // An unknown name in the directive is an error with a position.
  auto bad = ParseEbnf("root ::= \"[\" \"]\"\n#!unique_items nope\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kParse);
  EXPECT_EQ(bad.status().line(), 2) << bad.status().ToString();
  // EBNF text with the directive checks items like the schema does.
  auto from_text = mask_test::CompileText("#!unique_items root\nroot ::= \"[\" ([0-9] (\",\" [0-9])*)? \"]\"\n");
  ASSERT_NE(from_text, nullptr);
  EXPECT_TRUE(Accepts(from_text, "[1,2]"));
  EXPECT_FALSE(Accepts(from_text, "[1,2,1]"));

  // Images keep the flag in the IR and in the automaton.
  auto compiled = CompileGrammarIr(g->grammar, GrammarCompileOptions());
  ASSERT_TRUE(compiled.ok());
  GrammarImage img;
  img.simplified = compiled->simplified;
  img.source = g->grammar;
  img.pda = compiled->pda;
  auto loaded = DeserializeGrammarImage(SerializeGrammarImage(img));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->version, 3u);  // rule flags need format 3
  EXPECT_TRUE(loaded->simplified.Equals(compiled->simplified));
  EXPECT_TRUE(loaded->source.Equals(g->grammar));
  ASSERT_NE(loaded->pda, nullptr);
  EXPECT_TRUE(loaded->pda->HasUniqueItems());
  EXPECT_FALSE(Accepts(loaded->pda, "[3,3]"));

  // Imported into a request's grammar (structural tags copy the schema's rules).
  auto req = OpenAiRequestToGrammar(
      R"({"response_format": {"type": "json_schema", "json_schema": {"name": "r",
          "schema": {"type": "array", "items": {"type": "integer"}, "uniqueItems": true}}}})",
      OpenAiRequestOptions(), StructuralTagOptions());
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  auto req_pda = CompileGrammarIr(std::move(req->grammar), GrammarCompileOptions());
  ASSERT_TRUE(req_pda.ok()) << req_pda.status().ToString();
  EXPECT_TRUE(Accepts(req_pda->pda, "[1,2]"));
  EXPECT_FALSE(Accepts(req_pda->pda, "[1,2,1]"));

  // sieve validate's engine names the byte.
  auto v = JsonSchemaValidator::Create(R"({"uniqueItems":true})", JsonSchemaOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->Validate("[1,2]").accepted);
  const JsonSchemaVerdict r = v->Validate("[1, 1]");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, 5u);
}

}  // namespace
}  // namespace sieve
