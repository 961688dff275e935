// Shared mask classifications (mask_share.h): for every state that takes its short tokens from a
// representative, the merged answer equals classifying the state in full, token by token. A
// deliberately wrong pairing (classes for 8 bytes, answers copied for tokens up to 12) must show
// differences, so the comparison is known to catch a wrong equivalence. Also MaskBuilder's
// first-byte sharing, recent-state diffing and whole string-text subtrees, state by state against
// the builder without them.
#include "grammar/mask_share.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "grammar/compiler.h"
#include "grammar/grammar_serialize.h"
#include "grammar/json_schema.h"
#include "grammar/mask_builder.h"
#include "grammar/thread_pool.h"
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

std::shared_ptr<const CompiledGrammar> FromEbnf(const std::string& text,
                                                const GrammarCompileOptions& opts = {}) {
  auto c = CompileEbnfText(text, opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

std::shared_ptr<const CompiledGrammar> FromSchema(const std::string& file,
                                                  const GrammarCompileOptions& opts = {}) {
  JsonSchemaOptions jo;
  jo.whitespace = JsonWhitespace::kCompact;
  auto g = JsonSchemaToGrammar(ReadFile(std::string(SIEVE_SOURCE_DIR) + "/schemas/" + file), jo);
  EXPECT_TRUE(g.ok()) << file << ": " << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto c = CompileGrammarIr(std::move(g->grammar), opts);
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

// A counted state's accepted tokens with their iteration counts, in token order (a merged
// classification lists the representative's short tokens before the member's long ones).
std::vector<std::pair<int32_t, uint16_t>> SortedAccepted(const StateClassification& c) {
  std::vector<std::pair<int32_t, uint16_t>> out;
  for (size_t i = 0; i < c.accepted.size(); ++i) out.emplace_back(c.accepted[i], c.accepted_k[i]);
  std::sort(out.begin(), out.end());
  return out;
}

bool Same(const StateClassification& a, const StateClassification& b) {
  return a.accepted_bits == b.accepted_bits && a.accepted.size() == a.accepted_k.size() &&
         b.accepted.size() == b.accepted_k.size() && SortedAccepted(a) == SortedAccepted(b) &&
         Sorted(a) == Sorted(b);
}

// Every byte-reading state of `g` classified by a builder with `off` (a feature switched off) and
// by one with the default options: states, how many differ, trie nodes each walked. `each` (may
// be null) sees every state with both answers, the `off` one first.
struct BuilderComparison {
  int states = 0;
  int differ = 0;
  int64_t nodes_off = 0;
  int64_t nodes_on = 0;
};
BuilderComparison CompareWithDefault(
    const CompiledGrammar& g, const TokenizerInfo& info, const MaskBuildOptions& off,
    const std::function<void(int32_t, StateClassification&, const StateClassification&)>& each) {
  MaskBuilder without(g, info, off);
  MaskBuilder with(g, info, MaskBuildOptions());
  BuilderComparison r;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    if (!(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    StateClassification a, b;
    without.Classify(s, &a);
    with.Classify(s, &b);
    r.nodes_off += a.nodes_visited;
    r.nodes_on += b.nodes_visited;
    ++r.states;
    if (!Same(a, b)) ++r.differ;
    if (each) each(s, a, b);
  }
  return r;
}


// Compares a member's merged classification (its representative's answers for the tokens
// `long_info` leaves out, its own walk over `long_info`) with classifying it in full.
// Representatives are classified once each.
class MemberCheck {
 public:
  // `exact`: the long tokens are the plan's own (not a deliberately wrong pairing), so the
  // SameOnLongTokens shortcut is checked too.
  MemberCheck(const CompiledGrammar& g, const TokenizerInfo& info, bool exact = true)
      : info_(info), full_(g, info, MaskBuildOptions()), exact_(exact) {}
  bool MergedEqualsFull(int32_t member, int32_t rep, MaskBuilder* longer,
                        const TokenizerInfo& long_info) {
    auto it = reps_.find(rep);
    if (it == reps_.end()) {
      it = reps_.emplace(rep, StateClassification()).first;
      full_.Classify(rep, &it->second);
    }
    StateClassification want, part, merged;
    full_.Classify(member, &want);
    longer->Classify(member, &part);
    MergeShared(info_, long_info, it->second, part, &merged);
    // The cache's shortcut: a member whose long tokens classify as its representative's takes the
    // representative's masks whole; then its full classification must be the representative's.
    if (exact_ && SameOnLongTokens(long_info, it->second, part)) {
      ++whole_;
      EXPECT_TRUE(Same(want, it->second)) << "state " << member << " took rep " << rep
                                          << "'s masks but classifies differently";
    }
    return Same(want, merged);
  }
  // Members for which SameOnLongTokens held.
  int whole() const { return whole_; }

 private:
  const TokenizerInfo& info_;
  MaskBuilder full_;
  bool exact_;
  int whole_ = 0;
  std::map<int32_t, StateClassification> reps_;
};

// Members whose merged classification (classes for `horizon` bytes with `escape` bytes, short
// answers copied for tokens up to `copied` bytes that hold none of `kept`) differs from the full
// one; *members gets their count.
int Mismatches(const CompiledGrammar& g, const TokenizerInfo& info, uint32_t horizon,
               uint32_t copied, int* members, std::string_view escape = "\"",
               std::string_view kept = "\"") {
  const MaskSharing sharing = ComputeMaskSharing(g, horizon, Deadline(), escape);
  const std::shared_ptr<const TokenizerInfo> long_info = info.LongTokens(copied, kept);
  EXPECT_NE(long_info, nullptr);
  if (long_info == nullptr) return -1;
  MemberCheck check(g, info, copied == horizon && kept == escape);
  MaskBuilder longer(g, *long_info, MaskBuildOptions());
  int bad = 0;
  *members = 0;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    const int32_t r = sharing.rep[s];
    if (r == s || !(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    ++*members;
    if (!check.MergedEqualsFull(s, r, &longer, *long_info)) ++bad;
  }
  return bad;
}

// Members of a multi-horizon plan (PlanMaskSharing) whose merged classification (short answers
// copied from their planned representative for tokens up to `scale` times their planned horizon)
// differs from the full one; *members and *wide (members planned beyond the base horizon) get
// counts. With scale 1 this is the cache's own plan.
int PlanMismatches(const CompiledGrammar& g, const TokenizerInfo& info, uint32_t scale,
                   int* members, int* wide, int* whole = nullptr) {
  const MaskSharingPlan plan = PlanMaskSharing(g, 8, 32, Deadline(), "\"");
  MemberCheck check(g, info, scale == 1);
  std::map<uint32_t, std::unique_ptr<MaskBuilder>> longer;
  int bad = 0;
  *members = *wide = 0;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    const int32_t r = plan.rep[s];
    if (r == s || !(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    ++*members;
    if (plan.horizon[s] > 8) ++*wide;
    EXPECT_EQ(plan.rep[r], r) << "a representative must be classified in full";
    const std::shared_ptr<const TokenizerInfo> long_info =
        info.LongTokens(plan.horizon[s] * scale, "\"");
    EXPECT_NE(long_info, nullptr);
    if (long_info == nullptr) return -1;
    auto& builder = longer[plan.horizon[s] * scale];
    if (builder == nullptr)
      builder = std::make_unique<MaskBuilder>(g, *long_info, MaskBuildOptions());
    if (!check.MergedEqualsFull(s, r, builder.get(), *long_info)) ++bad;
  }
  if (whole != nullptr) *whole = check.whole();
  return bad;
}

// Hostname-like labels: a chain of up to 31 states per label inside one rule, whose states are
// alike except near the ends of the label.
constexpr const char* kLabels = R"(root ::= "\"" label ("." label)* "\""
label ::= [a-z] [a-z0-9-]{0,30})";

// A pattern under length bounds: a digit somewhere, 3..40 characters (see below).
std::shared_ptr<const CompiledGrammar> DigitTails() {
  JsonSchemaOptions jo;
  jo.whitespace = JsonWhitespace::kCompact;
  auto g = JsonSchemaToGrammar(
      R"({"type":"string","minLength":3,"maxLength":40,"pattern":"[0-9]"})", jo);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

// The grammars the first-byte and recent-state comparisons run on.
std::vector<std::pair<std::string, std::shared_ptr<const CompiledGrammar>>> RuleGrammars() {
  return {{"labels", FromEbnf(kLabels)},
          {"pydantic_order", FromSchema("pydantic_order.schema.json")},
          {"config_tsconfig", FromSchema("config_tsconfig.schema.json")},
          {"k8s_service", FromSchema("k8s_service.schema.json")}};
}

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

// The cache's multi-horizon plan (horizons 8, 16, 32): every member classifies as in full, and
// some members do share beyond 8 bytes. Negative control: copying answers for tokens up to twice
// the planned horizon is caught.
//
// A pattern under length bounds (a digit somewhere, 3..40 characters) becomes a run of states of
// which each, after the digit, calls its own counted tail x{0,39-i}: tails whose bound is past the
// horizon count as alike (ComputeMaskSharing), those near the end of the run do not; the tails'
// own states are members too (their answers carry iteration counts, merged per token). Where a
// member's own walk answers as its representative's (SameOnLongTokens: the cache then takes the
// representative's masks whole), its full classification is the representative's, and that
// happens for the counted tails.
TEST(MaskShare, PlannedWideMembersClassifyExactlyAsInFull) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  const auto tails = DigitTails();
  for (const auto& [name, g] :
       {std::pair{std::string("labels"), FromEbnf(kLabels)},
        std::pair{std::string("digit_tails"), tails},
        std::pair{std::string("api_user_signup"), FromSchema("api_user_signup.schema.json")}}) {
    ASSERT_NE(g, nullptr) << name;
    int members = 0, wide = 0, whole = 0;
    EXPECT_EQ(PlanMismatches(*g, *info, 1, &members, &wide, &whole), 0) << name;
    EXPECT_GT(wide, 0) << name;
    // Runs of counted tails that differ only in their bounds classify alike in full.
    if (name != "labels") {
      EXPECT_GT(whole, 20) << name;
    }
    const MaskSharingPlan plan = PlanMaskSharing(*g, 8, 32, Deadline(), "\"");
    int counted = 0;
    for (int32_t s = 0; s < g->num_states(); ++s) {
      counted += plan.rep[s] != s && g->rule(g->rule_of(s)).counted;
    }
    if (name != "labels") {
      EXPECT_GT(counted, 20) << name;
    }
    std::printf("[mask-share] %s: %d members (%d in counted rules), %d of them beyond 8 bytes, "
                "%d alike in full\n", name.c_str(), members, counted, wide, whole);
  }
  for (const auto& g : {FromEbnf(kLabels), tails}) {
    int members = 0, wide = 0;
    EXPECT_GT(PlanMismatches(*g, *info, 2, &members, &wide), 0)
        << "answers copied for twice the planned horizon went unnoticed";
  }
}

// Escape bytes (the JSON quote): string bodies and keys whose closing quote leads to different
// places ("," after a value, ":" after a key, "]" in an array) are alike up to the quote, so they
// share the answers of short tokens without one. Every member classifies as in full, the quote
// brings more members than plain bisimulation, and copying the answers of tokens that hold a
// quote too is caught.
TEST(MaskShare, StatesAlikeUpToAQuoteShareTokensWithoutOne) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  for (const char* file : {"pydantic_order.schema.json", "k8s_ingress.schema.json"}) {
    auto g = FromSchema(file);
    ASSERT_NE(g, nullptr) << file;
    int members = 0, plain = 0, wrong = 0;
    EXPECT_EQ(Mismatches(*g, *info, 8, 8, &members), 0) << file;
    EXPECT_EQ(Mismatches(*g, *info, 8, 8, &plain, "", ""), 0) << file;
    EXPECT_GT(members, plain + 20) << file;
    EXPECT_GT(Mismatches(*g, *info, 8, 8, &wrong, "\"", ""), 0)
        << file << ": answers of tokens with a quote were copied between states unnoticed";
    std::printf("[mask-share] %s: %d members alike up to a quote, %d alike outright\n", file,
                members, plain);
  }
}

// End to end: with every kind of sharing on (counted members, rules alike where they return, the
// quote), a matcher on the cache gives the naive mask at every step of a valid document of the
// schemas that share the most (a password pattern under length bounds, two hostnames, emails).
TEST(MaskShare, SharedCachesGiveTheNaiveMaskAlongValidDocuments) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  auto tok = mask_test::RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  for (const char* name : {"api_user_signup", "k8s_ingress", "pydantic_settings"}) {
    const std::string dir = std::string(SIEVE_SOURCE_DIR) + "/schemas/" + name;
    JsonSchemaOptions jo;
    jo.whitespace = JsonWhitespace::kAny;
    jo.property_order = JsonPropertyOrder::kSchema;
    auto conv = JsonSchemaToGrammar(ReadFile(dir + ".schema.json"), jo);
    ASSERT_TRUE(conv.ok()) << name << ": " << conv.status().ToString();
    auto compiled = CompileGrammarIr(std::move(conv->grammar), GrammarCompileOptions());
    ASSERT_TRUE(compiled.ok()) << name << ": " << compiled.status().ToString();
    auto cache = TokenMaskCache::Build(compiled->pda, info);
    ASSERT_TRUE(cache.ok()) << name;
    EXPECT_GT((*cache)->stats().shared_states, 100) << name;
    const std::string doc = ReadFile(dir + ".valid.jsonl");
    const std::string first = doc.substr(0, doc.find('\n'));
    GrammarMatcher m(*cache);
    EXPECT_GT(mask_test::CheckTokens(&m, tok->Encode(first, false), name), 10) << name;
    EXPECT_TRUE(m.CanTerminate()) << name;
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
  for (const auto& [name, g] : RuleGrammars()) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.share_first_bytes = false;
    const BuilderComparison r = CompareWithDefault(*g, *info, off, nullptr);
    EXPECT_EQ(r.differ, 0) << name << ": " << r.differ << " of " << r.states << " states differ";
    EXPECT_LT(r.nodes_on, r.nodes_off) << name;
    std::printf("[first-byte] %s: %d states, trie nodes walked %lld -> %lld\n", name.c_str(),
                r.states, static_cast<long long>(r.nodes_off),
                static_cast<long long>(r.nodes_on));
  }
}

// Recent-state diffing inside MaskBuilder (a state starts from the answers of a recent state of
// its rule and redoes only the first-byte subtrees whose first transition differs): every state
// classifies as without it, and no more trie nodes are walked (the first-byte answers it copies in
// one block are recorded by key as well, so it saves copies per subtree, not walks). The negative
// control: consecutive states of one rule (what the diff starts from) do classify differently, so
// a diff that kept a stale subtree would show up in the state-by-state comparison.
TEST(MaskShare, RecentStateDiffingClassifiesExactlyAsWithout) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  for (const auto& [name, g] : RuleGrammars()) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.diff_recent_states = false;
    int changed = 0;
    std::map<RuleId, StateClassification> last;  // per rule: the previous state's answers
    const BuilderComparison r = CompareWithDefault(
        *g, *info, off, [&](int32_t s, StateClassification& a, const StateClassification&) {
          auto [it, fresh] = last.try_emplace(g->rule_of(s));
          if (!fresh && !Same(it->second, a)) ++changed;
          it->second = std::move(a);
        });
    EXPECT_EQ(r.differ, 0) << name << ": " << r.differ << " of " << r.states << " states differ";
    EXPECT_LE(r.nodes_on, r.nodes_off) << name;
    EXPECT_GT(changed, r.states / 4) << name << ": too few states differ from their predecessor "
                                     << "for the comparison to catch a stale copy";
    std::printf(
        "[recent-diff] %s: %d states (%d differ from the previous state of their rule), "
        "trie nodes walked %lld -> %lld\n",
        name.c_str(), r.states, changed, static_cast<long long>(r.nodes_off),
        static_cast<long long>(r.nodes_on));
  }
}

// Whole string-text subtrees (MaskBuilder::TextPhase with TokenizerInfo::text_phases): every state
// classifies as without them, also in counted (length-bounded) bodies where each token's
// iteration count is its characters, and fewer trie nodes are walked. Negative control: a body
// that leaves out code points past U+FFFF loops on the same ASCII but must not take the shortcut;
// there some tokens made only of string text are rejected, so a shortcut taken without checking
// the set's steps would differ there and the state-by-state comparison would see it.
TEST(MaskShare, StringTextSubtreesClassifyExactlyAsWithout) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  constexpr const char* kText = R"(root ::= "\"" body "\"" ("," "\"" short "\"")*
body ::= [^"\\\x00-\x1f]*
short ::= [^"\\\x00-\x1f]{0,2000})";
  constexpr const char* kNoAstral = R"(root ::= "\"" body "\""
body ::= [^"\\\x00-\x1f\U00010000-\U0010FFFF]*)";
  // A string entered on its first character: after a lead byte other than 0xC3 the set is inside
  // a character of the plain body (a continuation phase, taken whole); after 0xC3 it is not (0xA9
  // must go on with "a"), so a shortcut there would accept "\u00e9b".
  constexpr const char* kMidChar = R"(root ::= "\"" first "\""
first ::= "\u00e9a" | [^"\\\x00-\x1f\u00e9] [^"\\\x00-\x1f]*)";
  const auto bounded = [] {
    JsonSchemaOptions jo;
    jo.whitespace = JsonWhitespace::kCompact;
    auto g = JsonSchemaToGrammar(
        R"({"type":"object","properties":{"a":{"type":"string","maxLength":12},)"
        R"("b":{"type":"array","items":{"type":"string","minLength":2,"maxLength":40}}},)"
        R"("additionalProperties":{"type":"string"}})",
        jo);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->pda : nullptr;
  }();
  for (const auto& [name, g] :
       {std::pair{std::string("text"), FromEbnf(kText)},
        std::pair{std::string("no_astral"), FromEbnf(kNoAstral)},
        std::pair{std::string("mid_char"), FromEbnf(kMidChar)},
        std::pair{std::string("bounded_strings"), bounded},
        std::pair{std::string("pydantic_order"), FromSchema("pydantic_order.schema.json")},
        std::pair{std::string("config_docker_compose"),
                  FromSchema("config_docker_compose.schema.json")},
        std::pair{std::string("k8s_service"), FromSchema("k8s_service.schema.json")}}) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.text_subtrees = false;
    int counted = 0, rejected_text = 0;
    int32_t body = -1, body_accepted = -1;  // no_astral: the byte state accepting the most
    const BuilderComparison r = CompareWithDefault(
        *g, *info, off, [&](int32_t s, StateClassification& a, const StateClassification&) {
          if (g->rule(g->rule_of(s)).counted && !a.accepted.empty()) ++counted;
          int32_t accepted = 0;
          for (const uint32_t w : a.accepted_bits) accepted += __builtin_popcount(w);
          if (name != "no_astral" || accepted <= body_accepted) return;
          body = s;
          body_accepted = accepted;
          // Tokens that are string text from a character boundary, rejected at the body state.
          rejected_text = 0;
          for (int32_t id = 0; id < static_cast<int32_t>(info->vocab_size()); ++id) {
            const std::string_view bytes = info->vocab().TokenBytes(id);
            if (bytes.empty() || !(info->byte_token_mask()[id >> 5] >> (id & 31) & 1)) continue;
            int phase = 0;
            for (const char c : bytes) {
              phase = phase < 0 ? -1 : TokenizerInfo::TextStep(phase, static_cast<uint8_t>(c));
            }
            if (phase >= 0 && !(a.accepted_bits[id >> 5] >> (id & 31) & 1)) ++rejected_text;
          }
        });
    EXPECT_EQ(r.differ, 0) << name << ": " << r.differ << " of " << r.states << " states differ";
    if (name == "no_astral") {
      EXPECT_GE(body, 0);
      EXPECT_GT(rejected_text, 0) << "the negative control found no string-text token rejected";
    } else {
      EXPECT_LT(r.nodes_on, r.nodes_off) << name;
    }
    if (name == "text" || name == "bounded_strings") {
      EXPECT_GT(counted, 0) << name;
    }
    std::printf(
        "[text] %s: %d states (%d counted), trie nodes walked %lld -> %lld%s\n", name.c_str(),
        r.states, counted, static_cast<long long>(r.nodes_off), static_cast<long long>(r.nodes_on),
        name == "no_astral"
            ? (", string-text tokens rejected by the body: " + std::to_string(rejected_text))
                  .c_str()
            : "");
  }
}

// Bounded runs (mask_builder.h): runs of states that read a byte class for a bounded number of
// bytes (a password pattern under length bounds, hostname labels, emails, a short word whose end
// may be followed by a byte of its own class) classify every state as without the shortcut, and
// where the runs are long the walk visits fewer trie nodes, so the shortcut did fire.
TEST(MaskShare, BoundedRunsClassifyExactlyAsWithout) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  // `word` may end before a byte of its own class ("q"), which the shortcut must not read past.
  constexpr const char* kWords = R"G(root ::= word "q" | "(" word ")" | "[" word "]"
word ::= [a-z] [a-z]? [a-z]? [a-z]? [a-z]? " "? [a-z]?)G";
  for (const auto& [name, g, fewer] :
       {std::tuple{std::string("digit_tails"), DigitTails(), true},
        std::tuple{std::string("labels"), FromEbnf(kLabels), false},
        std::tuple{std::string("words"), FromEbnf(kWords), false},
        std::tuple{std::string("api_user_signup"), FromSchema("api_user_signup.schema.json"), true},
        std::tuple{std::string("config_nginx_site"), FromSchema("config_nginx_site.schema.json"),
                   true},
        std::tuple{std::string("address_book"), FromSchema("address_book.schema.json"), true},
        std::tuple{std::string("pydantic_order"), FromSchema("pydantic_order.schema.json"), false},
        std::tuple{std::string("k8s_service"), FromSchema("k8s_service.schema.json"), false}}) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.class_runs = false;
    const BuilderComparison r = CompareWithDefault(*g, *info, off, nullptr);
    EXPECT_EQ(r.differ, 0) << name << ": " << r.differ << " of " << r.states << " states differ";
    if (fewer) {
      EXPECT_LT(r.nodes_on, r.nodes_off) << name;
    }
    std::printf("[runs] %s: %d states, trie nodes walked %lld -> %lld\n", name.c_str(), r.states,
                static_cast<long long>(r.nodes_off), static_cast<long long>(r.nodes_on));
  }
}

// Loose counters (SetSimulator::FrameStartLoose): a delegated counted callee whose max no token
// below its start can reach counts only up to its min, so its loop repeats one set. Every state
// classifies as with exact counters, and the walks are shorter. (Taking every bounded callee
// loose, below nodes whose tokens can reach its max, makes 17 states of api_user_signup and 19 of
// address_book differ here.)
TEST(MaskShare, LooseCountersClassifyExactlyAsExact) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  constexpr const char* kAfterLetter = R"G(root ::= "\"" [a-z] tail "\"" | "(" [a-z] tail2 ")"
tail ::= [a-z =]{0,40}
tail2 ::= [a-z =]{2,40})G";
  // The tails and the email's domain labels as counted callees (by default they are unrolled
  // runs: pda.h max_unroll_byte_class_copies), so that there are delegated counted callees.
  GrammarCompileOptions counted;
  counted.pda.max_unroll_byte_class_copies = 0;
  for (const auto& [name, g] :
       {std::pair{std::string("after_letter"), FromEbnf(kAfterLetter, counted)},
        std::pair{std::string("api_user_signup"),
                  FromSchema("api_user_signup.schema.json", counted)},
        std::pair{std::string("address_book"), FromSchema("address_book.schema.json", counted)}}) {
    ASSERT_NE(g, nullptr) << name;
    MaskBuildOptions off;
    off.loose_counters = false;
    const BuilderComparison r = CompareWithDefault(*g, *info, off, nullptr);
    EXPECT_EQ(r.differ, 0) << name << ": " << r.differ << " of " << r.states << " states differ";
    EXPECT_LT(r.nodes_on, r.nodes_off) << name;
    std::printf("[loose] %s: %d states, trie nodes walked %lld -> %lld\n", name.c_str(), r.states,
                static_cast<long long>(r.nodes_off), static_cast<long long>(r.nodes_on));
  }
}

TEST(MaskShare, TheCacheIsTheSameWithAndWithoutSharing) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  // digit_tails: most members take their representative's masks whole (SameOnLongTokens).
  for (const auto& g : {FromEbnf(kLabels), FromSchema("k8s_service.schema.json"), DigitTails()}) {
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

// Built on several threads (runs of one rule's states per worker, members after their
// representatives), the cache is byte for byte the one built on one thread.
TEST(MaskShare, TheCacheIsTheSameOnOneThreadAndOnSeveral) {
  auto info = Llama3Info();
  ASSERT_NE(info, nullptr);
  ThreadPool pool(3);
  for (const auto& g : {FromEbnf(kLabels), FromSchema("k8s_ingress.schema.json"),
                        FromSchema("pydantic_order.schema.json")}) {
    ASSERT_NE(g, nullptr);
    auto one = TokenMaskCache::Build(g, info);
    auto several = TokenMaskCache::Build(g, info, MaskCacheOptions(), &pool);
    ASSERT_TRUE(one.ok() && several.ok());
    EXPECT_GT((*one)->stats().shared_states, 0);
    auto image = [&](const std::shared_ptr<const TokenMaskCache>& cache) {
      GrammarImage im;
      im.pda = g;
      im.mask_cache = cache;
      im.vocab_fingerprint = info->fingerprint();
      im.vocab_size = info->vocab().size();
      return SerializeGrammarImage(im);
    };
    // Only the two work measures may differ (trie nodes visited, build time: the last 16 bytes
    // of the cache's section, written one after the other), and so the payload's checksum in the
    // header (bytes 24..31).
    const std::string a = image(*one), b = image(*several);
    EXPECT_GT(a.size(), size_t{1000});
    ASSERT_EQ(a.size(), b.size());
    size_t first = a.size(), last = 0;
    for (size_t i = 32; i < a.size(); ++i) {
      if (a[i] != b[i]) {
        first = std::min(first, i);
        last = i;
      }
    }
    EXPECT_TRUE(first == a.size() || last - first < 16)
        << "images differ from byte " << first << " to " << last;
    EXPECT_EQ((*one)->stats().accepted, (*several)->stats().accepted);
    EXPECT_EQ((*one)->stats().shared_sets, (*several)->stats().shared_sets);
  }
}

}  // namespace
}  // namespace sieve
