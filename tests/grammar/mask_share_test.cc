// Shared mask classifications (mask_share.h): for every state that takes its short tokens from a
// representative, the merged answer equals classifying the state in full, token by token. A
// deliberately wrong pairing (classes for 8 bytes, answers copied for tokens up to 12) must show
// differences, so the comparison is known to catch a wrong equivalence. Also MaskBuilder's
// first-byte sharing, state by state against the builder without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "grammar/mask_builder.h"
#include "grammar/mask_share.h"
#include "tests/grammar/mask_test_util.h"

namespace sieve {
namespace {

using mask_test::ReadFile;

std::shared_ptr<const TokenizerInfo> Llama3Info() {
  static std::shared_ptr<const TokenizerInfo> info = [] {
    auto tok = mask_test::RealTokenizer("llama3");
    if (tok == nullptr) return std::shared_ptr<const TokenizerInfo>();
    auto i = TokenizerInfo::Build(mask_test::VocabOf(*tok));
    EXPECT_TRUE(i.ok()) << i.status().ToString();
    return i.ok() ? *i : nullptr;
  }();
  return info;
}

std::shared_ptr<const CompiledGrammar> FromEbnf(const std::string& text) {
  GrammarCompileOptions opts;
  auto c = CompileEbnfText(text, opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

std::shared_ptr<const CompiledGrammar> FromSchema(const std::string& file) {
  JsonSchemaOptions jo;
  jo.whitespace = JsonWhitespace::kCompact;
  auto g = JsonSchemaToGrammar(ReadFile(std::string(SIEVE_SOURCE_DIR) + "/schemas/" + file), jo);
  EXPECT_TRUE(g.ok()) << file << ": " << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << file << ": " << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

using EntryKey = std::tuple<int32_t, uint16_t, uint16_t, bool>;

std::vector<EntryKey> Sorted(const StateClassification& c) {
  std::vector<EntryKey> out;
  for (const auto& e : c.uncertain) out.emplace_back(e.token, e.k, e.suffix, e.limited);
  std::sort(out.begin(), out.end());
  return out;
}

bool Same(const StateClassification& a, const StateClassification& b) {
  return a.accepted_bits == b.accepted_bits && a.accepted == b.accepted &&
         a.accepted_k == b.accepted_k && Sorted(a) == Sorted(b);
}

// Members whose merged classification (classes for `horizon` bytes, short answers copied for
// tokens up to `copied` bytes) differs from the full one; *members gets their count.
int Mismatches(const CompiledGrammar& g, const TokenizerInfo& info, uint32_t horizon,
               uint32_t copied, int* members) {
  const MaskSharing sharing = ComputeMaskSharing(g, horizon);
  const std::shared_ptr<const TokenizerInfo> long_info = info.LongTokens(copied);
  EXPECT_NE(long_info, nullptr);
  if (long_info == nullptr) return -1;
  MaskBuilder full(g, info, MaskBuildOptions());
  MaskBuilder longer(g, *long_info, MaskBuildOptions());
  std::map<int32_t, StateClassification> reps;
  int bad = 0;
  *members = 0;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    const int32_t r = sharing.rep[s];
    if (r == s || !(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    ++*members;
    auto it = reps.find(r);
    if (it == reps.end()) {
      it = reps.emplace(r, StateClassification()).first;
      full.Classify(r, &it->second);
    }
    StateClassification want, part, merged;
    full.Classify(s, &want);
    longer.Classify(s, &part);
    MergeShared(info, *long_info, it->second, part, &merged);
    if (!Same(want, merged)) ++bad;
  }
  return bad;
}

// Hostname-like labels: a chain of up to 31 states per label inside one rule, whose states are
// alike except near the ends of the label.
constexpr const char* kLabels = R"(root ::= "\"" label ("." label)* "\""
label ::= [a-z] [a-z0-9-]{0,30})";

TEST(MaskShare, MembersClassifyExactlyAsInFull) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  for (const auto& [name, g] :
       {std::pair{std::string("labels"), FromEbnf(kLabels)},
        std::pair{std::string("pydantic_settings"), FromSchema("pydantic_settings.schema.json")}}) {
    ASSERT_NE(g, nullptr) << name;
    int members = 0;
    EXPECT_EQ(Mismatches(*g, *info, 8, 8, &members), 0) << name;
    EXPECT_GT(members, 20) << name;
    std::printf("[mask-share] %s: %d of %d states share their short tokens (horizon 8)\n",
                name.c_str(), members, g->num_states());
  }
}

TEST(MaskShare, AWrongHorizonIsCaught) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  auto g = FromEbnf(kLabels);
  ASSERT_NE(g, nullptr);
  int members = 0;
  EXPECT_GT(Mismatches(*g, *info, 8, 12, &members), 0)
      << "states alike for 8 bytes were given identical answers for 9..12-byte tokens";
}

// First-byte sharing inside MaskBuilder (a subtree's answers reused between states of one rule
// whose first transition on its byte is the same): every state classifies as without it, and the
// walk does visit fewer trie nodes, so the reuse did happen.
TEST(MaskShare, FirstByteSharingClassifiesExactlyAsWithout) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  for (const auto& [name, g] :
       {std::pair{std::string("labels"), FromEbnf(kLabels)},
        std::pair{std::string("pydantic_order"), FromSchema("pydantic_order.schema.json")},
        std::pair{std::string("config_tsconfig"), FromSchema("config_tsconfig.schema.json")},
        std::pair{std::string("k8s_service"), FromSchema("k8s_service.schema.json")}}) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.share_first_bytes = false;
    MaskBuilder plain(*g, *info, off);
    MaskBuilder shared(*g, *info, MaskBuildOptions());
    int64_t nodes_plain = 0, nodes_shared = 0;
    int bad = 0, states = 0;
    for (int32_t s = 0; s < g->num_states(); ++s) {
      if (!(g->flags(s) & CompiledGrammar::kHasBytes)) continue;
      StateClassification a, b;
      plain.Classify(s, &a);
      shared.Classify(s, &b);
      nodes_plain += a.nodes_visited;
      nodes_shared += b.nodes_visited;
      ++states;
      if (!Same(a, b)) ++bad;
    }
    EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << states << " states differ";
    EXPECT_LT(nodes_shared, nodes_plain) << name;
    std::printf("[first-byte] %s: %d states, trie nodes walked %lld -> %lld\n", name.c_str(),
                states, static_cast<long long>(nodes_plain), static_cast<long long>(nodes_shared));
  }
}

TEST(MaskShare, TheCacheIsTheSameWithAndWithoutSharing) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  for (const auto& g : {FromEbnf(kLabels), FromSchema("k8s_service.schema.json")}) {
    ASSERT_NE(g, nullptr);
    MaskCacheOptions off, on;
    off.share_horizon = 0;
    auto a = TokenMaskCache::Build(g, info, off);
    auto b = TokenMaskCache::Build(g, info, on);
    ASSERT_TRUE(a.ok() && b.ok());
    const MaskCacheStats& x = (*a)->stats();
    const MaskCacheStats& y = (*b)->stats();
    EXPECT_EQ(x.shared_states, 0);
    EXPECT_GT(y.shared_states, 0);
    EXPECT_EQ(x.accepted, y.accepted);
    EXPECT_EQ(x.uncertain_tokens, y.uncertain_tokens);
    EXPECT_EQ(x.uncertain_entries, y.uncertain_entries);
    EXPECT_EQ(x.cached_states, y.cached_states);
    EXPECT_LT(y.trie_nodes_visited, x.trie_nodes_visited);
  }
}

}  // namespace
}  // namespace sieve
