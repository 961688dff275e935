// The stack bound (issue 10, SECURITY.md "Stack"): at the default limits, the worst-case inputs of
// every entry point that takes untrusted text (EBNF, regex, JSON Schema, structural tags, OpenAI
// requests; parse, convert, simplify, automaton, print, mask cache, matcher) run on a thread whose
// stack is kStackBound bytes: 1 MiB in a release build, 8 MiB under ASan (its frames are several
// times larger). Each case runs on a pthread with exactly that stack, painted beforehand, below a
// PROT_NONE guard page: an overflow is a crash (the test fails), and the painted bytes left show
// the high-water mark, which is printed so the margin is visible.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/grammar_printer.h"
#include "grammar/json_schema.h"
#include "grammar/limits.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/openai_request.h"
#include "grammar/regex_parser.h"
#include "grammar/structural_tag.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStackBound = size_t{8} << 20;
#else
constexpr size_t kStackBound = size_t{1} << 20;
#endif
constexpr uint8_t kPaint = 0xA5;

// What the last case ended with ("ok" or the refusal), printed beside its stack use (cases run
// one at a time).
std::string outcome;

void Note(const Status& s) {
  outcome = s.ok() ? "ok" : s.ToString().substr(0, 90);
  EXPECT_NE(s.code(), StatusCode::kInternal) << s.ToString();
}

struct Run {
  std::function<void()> fn;
};

void* Trampoline(void* arg) {
  static_cast<Run*>(arg)->fn();
  return nullptr;
}

// Runs fn on a thread with a `bytes` stack; returns the bytes of it that were used (0 on a setup
// failure, reported as a test failure).
size_t StackUsed(size_t bytes, const std::function<void()>& fn) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t total = bytes + page;
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    ADD_FAILURE() << "mmap failed";
    return 0;
  }
  auto* base = static_cast<uint8_t*>(mem);
  EXPECT_EQ(mprotect(base, page, PROT_NONE), 0);  // the stack grows down onto this page
  uint8_t* stack = base + page;
  std::memset(stack, kPaint, bytes);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  EXPECT_EQ(pthread_attr_setstack(&attr, stack, bytes), 0);
  Run run{fn};
  pthread_t t;
  const int rc = pthread_create(&t, &attr, Trampoline, &run);
  pthread_attr_destroy(&attr);
  size_t used = 0;
  if (rc != 0) {
    ADD_FAILURE() << "pthread_create: " << std::strerror(rc);
  } else {
    pthread_join(t, nullptr);
    size_t untouched = 0;
    while (untouched < bytes && stack[untouched] == kPaint) ++untouched;
    used = bytes - untouched;  // includes glibc's thread descriptor and TLS at the top
  }
  munmap(mem, total);
  return used;
}

// Runs a case on the bounded stack, prints its high-water mark.
void Bounded(const std::string& name, const std::function<void()>& fn) {
  outcome = "-";
  const size_t used = StackUsed(kStackBound, fn);
  std::printf("[ stack    ] %-36s %8zu of %zu bytes  %s\n", name.c_str(), used, kStackBound,
              outcome.c_str());
  std::fflush(stdout);
  EXPECT_GT(used, 0u) << name;
  EXPECT_LT(used, kStackBound) << name;
}

// A small vocabulary (every byte plus a few multi-byte pieces) for the mask cache and masks.
std::shared_ptr<const TokenizerInfo> SmallVocab() {
  static const std::shared_ptr<const TokenizerInfo> info = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    for (const char* p : {"ab", "ba", "aaaa", "bbbb", "{\"", "\":", "[[", "]]"}) tokens.push_back(p);
    std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
    const size_t n = tokens.size();
    auto v = Vocabulary::FromTokens(std::move(tokens), std::move(flags), n, VocabKind::kRaw);
    EXPECT_TRUE(v.ok());
    auto built = TokenizerInfo::Build(std::make_shared<const Vocabulary>(std::move(v).value()));
    EXPECT_TRUE(built.ok());
    return built.ok() ? *built : nullptr;
  }();
  return info;
}

// The token-mask cache and one mask over a compiled grammar.
void MaskOf(const std::shared_ptr<const CompiledGrammar>& pda) {
  MaskCacheOptions opts;  // deeply nested repetitions make slow caches: the front doors' deadline
  opts.deadline = Deadline::AfterMs(500);
  auto cache = TokenMaskCache::Build(pda, SmallVocab(), opts);
  Note(cache.status());
  if (!cache.ok()) return;
  GrammarMatcher m(*cache);
  std::vector<uint32_t> mask((*cache)->tokenizer_info()->words());
  m.FillNextTokenBitmask(mask.data(), mask.size());
  (void)m.AcceptString("a");
  m.FillNextTokenBitmask(mask.data(), mask.size());
}

// Accepted or refused with a status, never a crash; on success, also printed, masked and matched.
void CompileAll(const Result<Grammar>& g) {
  Note(g.status());
  if (!g.ok()) return;
  (void)PrintEbnf(*g);
  auto c = CompileGrammarIr(*g, GrammarCompileOptions());
  Note(c.status());
  if (!c.ok()) return;
  (void)PrintEbnf(c->simplified);
  MaskOf(c->pda);
}

void CompileText(const std::string& text) {
  auto c = CompileEbnfText(text, GrammarCompileOptions());
  Note(c.status());
  if (!c.ok()) return;
  (void)PrintEbnf(c->parsed);
  (void)PrintEbnf(c->simplified);
  MaskOf(c->pda);
}

std::string Nest(int depth, const std::string& open, const std::string& mid,
                 const std::string& close) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += mid;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

const int kDepth = Limits().max_nesting_depth;         // text nesting at the default
const int kSchemaDepth = Limits().max_schema_depth;    // JSON levels at the default

TEST(StackBound, EbnfWorstCasesAtTheDefaultLimits) {
  // Just within the limit (the parser counts groups and quantifiers) and just beyond it.
  for (int d : {kDepth - 1, kDepth, kDepth + 1}) {
    Bounded("ebnf groups " + std::to_string(d),
            [&] { CompileText("root ::= " + Nest(d, "(", "\"a\"", ")")); });
    Bounded("ebnf choices " + std::to_string(d),
            [&] { CompileText("root ::= " + Nest(d, "(\"b\" | ", "\"a\"", ")")); });
    Bounded("ebnf sequences " + std::to_string(d),
            [&] { CompileText("root ::= " + Nest(d, "(\"b\" ", "\"a\"", " \"c\")")); });
    Bounded("ebnf quantifiers " + std::to_string(d),
            [&] { CompileText("root ::= " + Nest(d, "(", "\"a\"", ")?")); });
    Bounded("ebnf repeats " + std::to_string(d),
            [&] { CompileText("root ::= " + Nest(d, "(\"b\" ", "\"a\"", "){0,2}")); });
  }
  // A long chain of rules, each calling the next (not nesting, but recursion-prone passes).
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 20000; ++i) {
    chain += "r" + std::to_string(i) + " ::= \"x\" r" + std::to_string(i + 1) + "\n";
  }
  chain += "r20000 ::= \"y\"\n";
  Bounded("ebnf 20000-rule chain", [&] { CompileText(chain); });
}

TEST(StackBound, RegexWorstCasesAtTheDefaultLimits) {
  for (int d : {kDepth - 1, kDepth, kDepth + 1}) {
    Bounded("regex groups " + std::to_string(d),
            [&] { CompileAll(RegexToGrammar(Nest(d, "(", "a", ")"))); });
    Bounded("regex alternations " + std::to_string(d),
            [&] { CompileAll(RegexToGrammar(Nest(d, "(b|", "a", ")"))); });
    Bounded("regex quantifiers " + std::to_string(d),
            [&] { CompileAll(RegexToGrammar(Nest(d, "(?:", "a", ")?"))); });
    Bounded("regex anchors " + std::to_string(d),
            [&] { CompileAll(RegexToGrammar(Nest(d, "(^", "a", "$)"))); });
  }
}

// An expression tree `depth` deep built directly (what a front end or an embedder hands to
// CompileGrammarIr): the 4x-deeper expression limits of simplify (4000) and the automaton (4096).
Grammar DeepIr(int depth, int shape) {
  Grammar g;
  ExprId e = g.AddBytes("a");
  for (int i = 0; i < depth; ++i) {
    if (shape == 0) {
      ExprId items[] = {g.AddBytes("b"), e};
      e = g.AddSequence(items);
    } else if (shape == 1) {
      ExprId items[] = {g.AddBytes("b"), e};
      e = g.AddChoice(items);
    } else if (shape == 2) {
      e = g.AddRepeat(e, 0, 2);
    } else {  // alternating choice / sequence: nothing for simplify to flatten
      ExprId items[] = {g.AddBytes("b"), e};
      e = i % 2 == 0 ? g.AddChoice(items) : g.AddSequence(items);
    }
  }
  const RuleId root = g.AddRule("root");
  g.SetRuleBody(root, e);
  g.set_root(root);
  return g;
}

TEST(StackBound, DeepExpressionTreesAtTheDefaultLimits) {
  const int simplify_limit = SimplifyOptions().max_expr_depth;
  for (int d : {simplify_limit - 2, simplify_limit + 1}) {
    for (int shape = 0; shape < 4; ++shape) {
      Bounded("IR shape " + std::to_string(shape) + " depth " + std::to_string(d),
              [&] { CompileAll(DeepIr(d, shape)); });
    }
  }
  // Straight to the automaton (a grammar image rebuilds it this way; simplify, which flattens
  // nested sequences and choices, is not in between).
  const int pda_limit = CompileOptions().max_expr_depth;
  for (int d : {pda_limit - 2, pda_limit + 1}) {
    for (int shape = 0; shape < 4; ++shape) {
      Bounded("automaton shape " + std::to_string(shape) + " depth " + std::to_string(d), [&] {
        auto c = CompileGrammar(DeepIr(d, shape), CompileOptions());
        Note(c.status());
      });
    }
  }
}

void CompileSchema(const std::string& schema) {
  auto j = JsonSchemaToGrammar(schema, JsonSchemaOptions());
  Note(j.status());
  if (!j.ok()) return;
  CompileAll(std::move(j->grammar));
}

TEST(StackBound, JsonSchemaWorstCasesAtTheDefaultLimits) {
  // Schema levels per JSON level: 1 for items and not, 2 for properties, anyOf and allOf.
  for (int d : {kSchemaDepth - 1, kSchemaDepth, kSchemaDepth + 1}) {
    const std::string n = std::to_string(d);
    Bounded("schema items " + n, [&] { CompileSchema(Nest(d, "{\"items\":", "{}", "}")); });
    Bounded("schema not " + n, [&] { CompileSchema(Nest(d, "{\"not\":", "{}", "}")); });
  }
  for (int d : {kSchemaDepth / 2 - 1, kSchemaDepth / 2, kSchemaDepth / 2 + 1}) {
    const std::string n = std::to_string(d);
    Bounded("schema properties " + n, [&] {
      CompileSchema(Nest(d, "{\"type\":\"object\",\"properties\":{\"a\":", "{}", "},\"required\":[\"a\"]}"));
    });
    Bounded("schema anyOf " + n,
            [&] { CompileSchema(Nest(d, "{\"anyOf\":[{\"type\":\"integer\"},", "{}", "]}")); });
    Bounded("schema allOf " + n,
            [&] { CompileSchema(Nest(d, "{\"allOf\":[{\"minLength\":1},", "{}", "]}")); });
  }
  // A $ref chain: each definition refers to the next.
  std::string defs = "{\"$ref\":\"#/$defs/d0\",\"$defs\":{";
  for (int i = 0; i < 2000; ++i) {
    defs += (i ? "," : "") + std::string("\"d") + std::to_string(i) +
            "\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/d" + std::to_string(i + 1) + "\"}}";
  }
  defs += ",\"d2000\":{\"type\":\"integer\"}}}";
  Bounded("schema 2000-$ref chain", [&] { CompileSchema(defs); });
  // Nesting far beyond the limit: refused by the (iterative) reader, not by the stack.
  Bounded("schema text nested 100000", [&] { CompileSchema(Nest(100000, "[", "", "]")); });
  Bounded("schema value nested 100000",
          [&] { CompileSchema("{\"const\":" + Nest(100000, "[", "1", "]") + "}"); });
}

TEST(StackBound, JsonDocumentsNestedDeeplyAreRefusedWithoutRecursion) {
  const std::string deep = Nest(100000, "[", "", "]");
  Bounded("structural tag nested 100000", [&] {
    auto r = ParseStructuralTag("{\"tags\":" + deep + "}");
    Note(r.status());
    EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  });
  Bounded("openai request nested 100000", [&] {
    auto r = OpenAiRequestToGrammar("{\"messages\":" + deep + "}", OpenAiRequestOptions(),
                                    StructuralTagOptions());
    Note(r.status());
    EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  });
  Bounded("structural tag schema nested 100000", [&] {
    auto r = ParseStructuralTag("{\"response\":{\"json_schema\":" + deep + "}}");
    Note(r.status());
    EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  });
  Bounded("tokenizer.json nested 100000", [&] {
    auto r = Tokenizer::FromJson("{\"model\":" + deep + "}", "", "tokenizer.json");
    Note(r.status());
    EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  });
  Bounded("tokenizer_config.json nested 100000", [&] {
    auto r = Tokenizer::FromJson(
        R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},)"
        R"( "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}})",
        "{\"eos_token\":" + deep + "}", "tokenizer.json");
    Note(r.status());
    EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  });
  Bounded("structural tag schema nested", [&] {
    const std::string schema = Nest(kSchemaDepth - 8, "{\"items\":", "{}", "}");
    auto spec = ParseStructuralTag("{\"response\":{\"json_schema\":" + schema + "}}");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    auto g = StructuralTagToGrammar(*spec, StructuralTagOptions());
    if (g.ok()) CompileAll(std::move(g->grammar));
  });
}

}  // namespace
}  // namespace sieve
