// Concurrency through the C API (CTest label `threaded`; the ThreadSanitizer CI job runs it): four
// threads compile with one shared compiler while eight matchers, two per shared grammar, fill masks
// and accept tokens on their own threads, plus batch fills on a pool. Every mask must equal the
// one a single thread computed first.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sieve/sieve.h"

namespace {

std::string DataDir() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sieve";
}

uint64_t Hash(const std::vector<uint32_t>& mask) {
  uint64_t h = 1469598103934665603ull;
  for (uint32_t w : mask) h = (h ^ w) * 1099511628211ull;
  return h;
}

struct Case {
  std::string schema;
  std::string doc;
};

std::vector<Case> Cases() {
  return {
      {R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"]})",
       R"({"name": "Ada", "age": 36})"},
      {R"({"type":"array","items":{"enum":["red","green","blue"]},"maxItems":5})", R"(["red", "blue"])"},
      {R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"number"}},"required":["ok","n"]})",
       R"({"ok": true, "n": -1.5e3})"},
      {R"({"type":"string","pattern":"^[a-z]+@[a-z]+\\.com$"})", R"("ada@lovelace.com")"},
  };
}

// Masks along the document (one per token, plus the final one).
std::vector<uint64_t> Walk(const sieve_grammar* g, const std::vector<int32_t>& ids, size_t words) {
  std::vector<uint64_t> out;
  sieve_matcher* m = nullptr;
  if (sieve_matcher_create(g, nullptr, &m) != SIEVE_OK) return out;
  std::vector<uint32_t> mask(words);
  for (int32_t id : ids) {
    sieve_matcher_fill_next_token_bitmask(m, mask.data(), words);
    out.push_back(Hash(mask));
    if (sieve_matcher_accept_token(m, id) != SIEVE_OK) break;
  }
  sieve_matcher_fill_next_token_bitmask(m, mask.data(), words);
  out.push_back(Hash(mask));
  sieve_matcher_free(m);
  return out;
}

TEST(CApiThreaded, CompilesOnFourThreadsWhileEightMatchersFillMasks) {
  sieve_vocab* vocab = nullptr;
  const std::string path = DataDir() + "/tokenizers/llama3";
  ASSERT_EQ(sieve_vocab_create_from_file(path.c_str(), &vocab), SIEVE_OK) << sieve_last_error()->message;
  const size_t words = (sieve_vocab_size(vocab) + 31) / 32;
  const std::vector<Case> cases = Cases();

  // Single-threaded reference.
  sieve_compiler* ref = nullptr;
  ASSERT_EQ(sieve_compiler_create(vocab, nullptr, &ref), SIEVE_OK);
  std::vector<sieve_grammar*> grammars;
  std::vector<std::vector<int32_t>> docs;
  std::vector<std::vector<uint64_t>> expected;
  for (const Case& c : cases) {
    sieve_grammar* g = nullptr;
    ASSERT_EQ(sieve_compiler_compile_json_schema(ref, c.schema.data(), c.schema.size(), nullptr, &g),
              SIEVE_OK)
        << sieve_last_error()->message;
    grammars.push_back(g);
    std::vector<int32_t> ids(c.doc.size() + 4);
    size_t n = 0;
    ASSERT_EQ(sieve_vocab_encode(vocab, c.doc.data(), c.doc.size(), 0, ids.data(), ids.size(), &n),
              SIEVE_OK);
    ids.resize(n);
    docs.push_back(ids);
    expected.push_back(Walk(g, ids, words));
    ASSERT_EQ(expected.back().size(), ids.size() + 1) << c.doc;
  }

  // Concurrent phase: a fresh compiler shared by four compiling threads (each compiles every
  // schema, so they race on the same cache keys), eight matcher threads on the reference grammars.
  sieve_compiler_options co;
  sieve_compiler_options_init(&co);
  co.num_threads = 2;  // mask builds on a pool as well
  sieve_compiler* shared = nullptr;
  ASSERT_EQ(sieve_compiler_create(vocab, &co, &shared), SIEVE_OK);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t k = 0; k < cases.size(); ++k) {
          const Case& c = cases[(k + static_cast<size_t>(t)) % cases.size()];
          const size_t i = (k + static_cast<size_t>(t)) % cases.size();
          sieve_grammar* g = nullptr;
          if (sieve_compiler_compile_json_schema(shared, c.schema.data(), c.schema.size(), nullptr, &g) !=
              SIEVE_OK) {
            ++failures;
            continue;
          }
          if (Walk(g, docs[i], words) != expected[i]) ++failures;
          sieve_grammar_free(g);
        }
      }
    });
  }
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const size_t i = static_cast<size_t>(t) % cases.size();
      for (int round = 0; round < 5; ++round) {
        if (Walk(grammars[i], docs[i], words) != expected[i]) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  // Batch fills on a pool of 4 over 8 matchers (two per grammar), against the reference.
  std::vector<sieve_matcher*> ms;
  for (int t = 0; t < 8; ++t) {
    sieve_matcher* m = nullptr;
    ASSERT_EQ(sieve_matcher_create(grammars[static_cast<size_t>(t) % cases.size()], nullptr, &m), SIEVE_OK);
    ms.push_back(m);
  }
  std::vector<uint32_t> rows(words * ms.size());
  for (size_t step = 0;; ++step) {
    ASSERT_EQ(sieve_matcher_fill_next_token_bitmask_batch(ms.data(), ms.size(), rows.data(), words, 4),
              SIEVE_OK);
    bool any = false;
    for (size_t t = 0; t < ms.size(); ++t) {
      const size_t i = t % cases.size();
      if (step >= expected[i].size()) continue;
      std::vector<uint32_t> row(rows.begin() + static_cast<long>(t * words),
                                rows.begin() + static_cast<long>((t + 1) * words));
      EXPECT_EQ(Hash(row), expected[i][step]) << "matcher " << t << " step " << step;
      if (step < docs[i].size()) {
        EXPECT_EQ(sieve_matcher_accept_token(ms[t], docs[i][step]), SIEVE_OK);
        any = true;
      }
    }
    if (!any) break;
  }
  for (sieve_matcher* m : ms) sieve_matcher_free(m);
  for (sieve_grammar* g : grammars) sieve_grammar_free(g);
  sieve_compiler_free(shared);
  sieve_compiler_free(ref);
  sieve_vocab_free(vocab);
}

}  // namespace
