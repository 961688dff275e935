// Fuzz target: the matcher driven by token sequences, with the naive mask as the oracle.
//
// Setup (once): a small synthetic byte-level vocabulary (all 256 single bytes, a few dozen
// multi-byte pieces of JSON, numbers and UTF-8, a stop token, an unrelated special token and
// padding ids past the tokenizer), and the shared test grammars with their token-mask caches.
//
// Input: byte 0 picks the grammar; with its top bit set, the bytes up to the first NUL are a
// grammar of their own (compiled with the fuzzing limits and given a mask cache). The remaining
// bytes are operations: take the k-th allowed token, try an arbitrary id, roll back, fork, reset.
// Before every operation the fast mask (FillNextTokenBitmask, from the cache) must equal the
// matcher's naive mask (FillNextTokenBitmaskNaive), and on every fourth the fork-and-accept oracle
// (tests/testing/naive_mask.h), bit for bit; an arbitrary id is accepted exactly when its bit is
// set, and a rejected one leaves the matcher unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/vocabulary.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/grammar/test_grammars.h"
#include "tests/testing/naive_mask.h"

namespace {

using namespace sieve;

constexpr size_t kPadding = 5;  // ids past the tokenizer's, never allowed

std::shared_ptr<const TokenizerInfo> MakeVocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  const char* pieces[] = {
      "{", "{\"", "\":", "\": ", "\",", ", \"", "}", "}}", "]", "[", "[{", "true", "false", "null",
      "tr", "ue", "fa", "lse", "nu", "ll", "0", "12", "123", "3.", ".5", "e+", "E-", "-1", "  ",
      "\n", "\n  ", " \"", "\\", "\\u", "\\n", "\\\"", "00", "ab", "abc", "xyz", "a,b", ",\n",
      "\"\"", "+", "*", "(", ")", "1+", "é", "\xc3", "\xa9", "😀", "\xf0\x9f", "\x98\x80",
      "α", "ω", "я", "一", "·", "¡", "!", "aaaa", "    ", ",", ":"};
  for (const char* p : pieces) tokens.push_back(p);
  std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
  tokens.push_back("</s>");
  flags.push_back(kTokenSpecial | kTokenStop);
  tokens.push_back("<tool>");
  flags.push_back(kTokenSpecial);
  const size_t n = tokens.size();
  auto vocab = Vocabulary::FromTokens(std::move(tokens), std::move(flags), n + kPadding,
                                      VocabKind::kRaw);
  if (!vocab.ok()) fuzz::Fail("vocabulary: " + vocab.status().ToString());
  auto info = TokenizerInfo::Build(std::make_shared<const Vocabulary>(std::move(vocab).value()));
  if (!info.ok()) fuzz::Fail("token trie: " + info.status().ToString());
  return std::move(info).value();
}

std::shared_ptr<const TokenMaskCache> Build(std::string_view text, bool must_compile) {
  auto compiled = CompileEbnfText(text, fuzz::FuzzCompileOptions());
  if (!compiled.ok()) {
    if (must_compile) fuzz::Fail("built-in grammar: " + compiled.status().ToString());
    fuzz::CheckNotInternal(compiled.status(), "CompileEbnfText");
    return nullptr;
  }
  static const std::shared_ptr<const TokenizerInfo> info = MakeVocab();
  MaskCacheOptions mo;
  ApplyLimits(fuzz::FuzzLimits(), &mo);
  mo.deadline = Deadline::AfterMs(fuzz::FuzzLimits().max_compile_ms);  // exercised too
  auto cache = TokenMaskCache::Build(compiled->pda, info, mo);
  if (!cache.ok()) {
    if (must_compile) fuzz::Fail("built-in mask cache: " + cache.status().ToString());
    fuzz::CheckNotInternal(cache.status(), "TokenMaskCache::Build");
    return nullptr;
  }
  return std::move(cache).value();
}

const std::vector<std::shared_ptr<const TokenMaskCache>>& BuiltIn() {
  static const std::vector<std::shared_ptr<const TokenMaskCache>> caches = [] {
    namespace tg = testing_grammars;
    const char* texts[] = {
        tg::kJson, tg::kArithmetic, tg::kCsv, tg::kNestedBounds, tg::kUnicode,
        "root ::= \"[\" (item (\",\" item){0,40})? \"]\"\nitem ::= [a-z]{1,5} | \"tr\" \"ue\"\n",
        "root ::= (\"a\" | \"aa\" | \"aaa\") root | \"b\"\n",
        "root ::= x* \"!\"\nx ::= \"(\" x* \")\" | [0-9]+ | \"é\"\n"};
    std::vector<std::shared_ptr<const TokenMaskCache>> out;
    for (const char* t : texts) out.push_back(Build(t, true));
    return out;
  }();
  return caches;
}

// The fork-and-accept oracle forks the matcher once per token, so it runs on every fourth step
// (and the last); the matcher's own naive mask runs on every step.
void CheckMasks(const GrammarMatcher& m, std::vector<uint32_t>* fast, bool fork_oracle) {
  const size_t words = fast->size();
  std::vector<uint32_t> naive(words), oracle(words);
  m.FillNextTokenBitmask(fast->data(), words);
  m.FillNextTokenBitmaskNaive(naive.data(), words);
  if (fork_oracle) {
    NaiveNextTokenBitmask(m, oracle.data(), words);
  } else {
    oracle = naive;
  }
  for (size_t w = 0; w < words; ++w) {
    if ((*fast)[w] != naive[w] || naive[w] != oracle[w]) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "mask word %zu: fast %08x naive %08x fork-oracle %08x", w,
                    (*fast)[w], naive[w], oracle[w]);
      fuzz::Fail(std::string(buf) + "\nstacks:\n" + m.DebugString());
    }
  }
}

bool Bit(const std::vector<uint32_t>& mask, size_t id) {
  return id < mask.size() * 32 && (mask[id >> 5] >> (id & 31) & 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t pos = 1;
  std::shared_ptr<const TokenMaskCache> cache;
  if (data[0] & 0x80) {
    const void* nul = std::memchr(data + 1, 0, size - 1);
    if (nul == nullptr) return 0;
    const size_t len = static_cast<const uint8_t*>(nul) - (data + 1);
    cache = Build(std::string_view(reinterpret_cast<const char*>(data) + 1, len), false);
    if (cache == nullptr) return 0;
    pos = len + 2;
  } else {
    cache = BuiltIn()[data[0] % BuiltIn().size()];
  }
  const size_t ids = cache->vocab()->size() + kPadding;
  std::vector<uint32_t> mask(BitmaskWords(ids));
  std::vector<GrammarMatcher> matchers;
  matchers.reserve(4);
  matchers.emplace_back(cache);
  for (int steps = 0; pos < size && steps < 48; ++steps) {
    GrammarMatcher& m = matchers.back();
    CheckMasks(m, &mask, steps % 4 == 0);
    const uint8_t op = data[pos++];
    const uint8_t arg = pos < size ? data[pos++] : 0;
    switch (op % 8) {
      case 0: case 1: case 2: case 3: case 4: {  // the arg-th allowed token
        std::vector<int32_t> allowed;
        for (size_t id = 0; id < ids; ++id) {
          if (Bit(mask, id)) allowed.push_back(static_cast<int32_t>(id));
        }
        if (allowed.empty()) {
          // A unique-items array can dead-end: an item whose every completion repeats an earlier
          // one is refused at its end (grammar/unique_items.h, "What this cannot do"; the fuzzer
          // found `#!unique_items arr` over single digits after all ten were written).
          fuzz::Check(m.IsTerminated() || m.limit_hit() || m.grammar().HasUniqueItems(),
                      "no token allowed, yet not terminated:\n" + m.DebugString());
          break;
        }
        const int32_t id = allowed[arg % allowed.size()];
        fuzz::Check(m.AcceptToken(id), "allowed token " + std::to_string(id) + " rejected");
        break;
      }
      case 5: {  // an arbitrary id (padding and out-of-range included)
        const int32_t id = static_cast<int32_t>((arg * 7u + op) % (ids + 2)) - 1;
        const std::string before = m.DebugString();
        const bool ok = m.AcceptToken(id);
        fuzz::Check(ok == (id >= 0 && Bit(mask, static_cast<size_t>(id))),
                    "AcceptToken(" + std::to_string(id) + ") disagrees with the mask");
        if (!ok) fuzz::Check(m.DebugString() == before, "a rejected token changed the matcher");
        break;
      }
      case 6: {  // roll back, sometimes one step more than the history holds
        const int avail = m.NumRollbackSteps();
        const int n = arg % (avail + 2);
        fuzz::Check(m.Rollback(n) == (n <= avail), "Rollback(" + std::to_string(n) +
                                                       ") with " + std::to_string(avail) +
                                                       " steps of history");
        break;
      }
      case 7:
        if (arg & 1) {
          m.Reset();
        } else if (matchers.size() < 4) {
          matchers.push_back(m.Fork());
        }
        break;
    }
  }
  CheckMasks(matchers.back(), &mask, true);
  return 0;
}
