// Tests of the tokenizer internals: the hand-written Oniguruma scanners (each expectation is what
// Oniguruma's leftmost, ordered-alternative, backtracking search produces for the pattern), the
// GPT-2 byte map, and the BPE merge loops (array scan and heap must agree).
#include "grammar/tokenizer/pretokenizer.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "grammar/tokenizer/bpe.h"
#include "grammar/tokenizer/byte_level.h"
#include "gtest/gtest.h"

namespace sieve::tokenizer_internal {
namespace {

using Pieces = std::vector<std::string>;

Pieces Split(SplitPattern p, std::string_view text) {
  Pieces out;
  for (std::string_view s : SplitIsolated(p, text)) out.emplace_back(s);
  return out;
}

// Runs a whole pre-tokenizer (several steps) and returns the pieces.
Pieces RunSteps(const std::vector<PreTokenizerStep>& steps, std::string_view text,
                bool origin = true) {
  PreTokenizer pre(steps);
  PreTokenizer::Scratch s;
  pre.Run(text, origin, &s);
  Pieces out;
  for (const Piece& p : s.pieces) out.push_back(s.buf.substr(p.begin, p.end - p.begin));
  return out;
}

PreTokenizerStep SplitStep(SplitPattern p) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::kSplit;
  s.pattern = p;
  return s;
}

TEST(SplitPatternTest, RecognisesTheExactTextsOfKnownPatternsOnly) {
  for (SplitPattern p :
       {SplitPattern::kGpt2, SplitPattern::kLlama3, SplitPattern::kQwen2,
        SplitPattern::kDeepSeekDigits, SplitPattern::kDeepSeekCjk, SplitPattern::kDeepSeekWords}) {
    auto got = RecognizeSplitPattern(SplitPatternRegex(p));
    ASSERT_TRUE(got.has_value()) << SplitPatternName(p);
    EXPECT_EQ(*got, p);
  }
  // One character off is a different regex.
  std::string almost(SplitPatternRegex(SplitPattern::kLlama3));
  almost.replace(almost.find("{1,3}"), 5, "{1,4}");
  EXPECT_FALSE(RecognizeSplitPattern(almost).has_value());
  EXPECT_FALSE(RecognizeSplitPattern("\\s+").has_value());
  EXPECT_FALSE(RecognizeSplitPattern("").has_value());
}

TEST(SplitPatternTest, RawCarriageReturnAndNewlineMeanTheirEscapes) {
  std::string raw(SplitPatternRegex(SplitPattern::kDeepSeekWords));
  for (size_t at; (at = raw.find("\\r\\n")) != std::string::npos;) raw.replace(at, 4, "\r\n");
  ASSERT_NE(raw, SplitPatternRegex(SplitPattern::kDeepSeekWords));
  EXPECT_EQ(RecognizeSplitPattern(raw), SplitPattern::kDeepSeekWords);
}

// ---- Llama-3 ------------------------------------------------------------------------------------

TEST(Llama3SplitTest, LeadingSpaceRunLeavesOneSpaceForTheWord) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "  hello"), (Pieces{" ", " hello"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "    x"), (Pieces{"   ", " x"}));
}

TEST(Llama3SplitTest, NewlinesEndTheWhitespaceRunAtTheLastLineBreak) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "hello   \n\n  world"),
            (Pieces{"hello", "   \n\n", " ", " world"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "a\r\n\r\nb"), (Pieces{"a", "\r\n\r\n", "b"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "a\n \nb"), (Pieces{"a", "\n \n", "b"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "a \n\tb"), (Pieces{"a", " \n", "\tb"}));
}

TEST(Llama3SplitTest, TrailingWhitespaceIsOnePiece) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "x   "), (Pieces{"x", "   "}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "x \t"), (Pieces{"x", " \t"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, " "), (Pieces{" "}));
}

TEST(Llama3SplitTest, ContractionsAreCaseInsensitive) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "don't"), (Pieces{"don", "'t"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "DON'T"), (Pieces{"DON", "'T"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "We'Re"), (Pieces{"We", "'Re"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "you'LL"), (Pieces{"you", "'LL"}));
  // U+017F LONG S case-folds to 's'.
  EXPECT_EQ(Split(SplitPattern::kLlama3, "it'\xC5\xBF"), (Pieces{"it", "'\xC5\xBF"}));
  // 'r not followed by e is no contraction: the apostrophe prefixes the letters instead.
  EXPECT_EQ(Split(SplitPattern::kLlama3, "o'reilly'rx"), (Pieces{"o", "'re", "illy", "'rx"}));
  // A contraction wins even inside a longer word.
  EXPECT_EQ(Split(SplitPattern::kLlama3, "'sam"), (Pieces{"'s", "am"}));
}

TEST(Llama3SplitTest, DigitsGroupInThrees) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "12345"), (Pieces{"123", "45"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "a1b2"), (Pieces{"a", "1", "b", "2"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "$100"), (Pieces{"$", "100"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, " 42"), (Pieces{" ", "42"}));
  // Arabic-Indic digits and superscripts are \p{N} too.
  EXPECT_EQ(Split(SplitPattern::kLlama3, "\xD9\xA1\xD9\xA2\xC2\xB2\xC2\xB3"),
            (Pieces{"\xD9\xA1\xD9\xA2\xC2\xB2", "\xC2\xB3"}));
}

TEST(Llama3SplitTest, PunctuationTakesOneLeadingSpaceAndTrailingNewlines) {
  EXPECT_EQ(Split(SplitPattern::kLlama3, "..."), (Pieces{"..."}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "hi!\n\nthere"), (Pieces{"hi", "!\n\n", "there"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "a {\"b\": 1}"),
            (Pieces{"a", " {\"", "b", "\":", " ", "1", "}"}));
  // A non-letter before letters joins them (the optional [^\r\n\p{L}\p{N}] char).
  EXPECT_EQ(Split(SplitPattern::kLlama3, "(hello) \tworld"),
            (Pieces{"(hello", ")", " ", "\tworld"}));
}

TEST(Llama3SplitTest, NextLineIsWhitespace) {
  // U+0085 is in Oniguruma's \s: the run "  \u0085" gives back its last char, which then prefixes
  // the letter as the optional non-letter.
  EXPECT_EQ(Split(SplitPattern::kLlama3, "x  \xC2\x85\xC2\x85y"),
            (Pieces{"x", "  \xC2\x85", "\xC2\x85y"}));
}

TEST(Llama3SplitTest, IllFormedBytesAreSingleOtherCharacters) {
  EXPECT_EQ(Split(SplitPattern::kLlama3,
                  "ab\xFF"
                  "cd"),
            (Pieces{"ab",
                    "\xFF"
                    "cd"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "\xE4\xBD"), (Pieces{"\xE4\xBD"}));
  EXPECT_EQ(Split(SplitPattern::kLlama3, "1\x80\x80 "), (Pieces{"1", "\x80\x80", " "}));
}

TEST(Llama3SplitTest, EmptyTextHasNoPieces) {
  EXPECT_TRUE(Split(SplitPattern::kLlama3, "").empty());
}

TEST(Qwen2SplitTest, DigitsAreSingle) {
  EXPECT_EQ(Split(SplitPattern::kQwen2, "12345"), (Pieces{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(Split(SplitPattern::kQwen2, "don't 12"), (Pieces{"don", "'t", " ", "1", "2"}));
}

// ---- GPT-2 (ByteLevel use_regex)
// -----------------------------------------------------------------

TEST(Gpt2SplitTest, SpacesAttachToTheFollowingWordNumberOrSymbols) {
  EXPECT_EQ(Split(SplitPattern::kGpt2, "Hello world's 123  x"),
            (Pieces{"Hello", " world", "'s", " 123", " ", " x"}));
  EXPECT_EQ(Split(SplitPattern::kGpt2, "a1b2 12345"), (Pieces{"a", "1", "b", "2", " 12345"}));
  EXPECT_EQ(Split(SplitPattern::kGpt2, "hi  !!"), (Pieces{"hi", " ", " !!"}));
}

TEST(Gpt2SplitTest, ContractionsAreCaseSensitive) {
  EXPECT_EQ(Split(SplitPattern::kGpt2, "DON'T"), (Pieces{"DON", "'", "T"}));
  EXPECT_EQ(Split(SplitPattern::kGpt2, "don't"), (Pieces{"don", "'t"}));
}

TEST(Gpt2SplitTest, NewlinesAreOrdinaryWhitespace) {
  EXPECT_EQ(Split(SplitPattern::kGpt2, "a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(Split(SplitPattern::kGpt2, "a\n\n"), (Pieces{"a", "\n\n"}));
}

// ---- DeepSeek-V3
// ----------------------------------------------------------------------------------

TEST(DeepSeekSplitTest, DigitsAreIsolatedInThrees) {
  EXPECT_EQ(Split(SplitPattern::kDeepSeekDigits, "abc12345def"),
            (Pieces{"abc", "123", "45", "def"}));
}

TEST(DeepSeekSplitTest, CjkRunsAreIsolated) {
  EXPECT_EQ(Split(SplitPattern::kDeepSeekCjk, "hi\xE4\xBD\xA0\xE5\xA5\xBDok"),
            (Pieces{"hi", "\xE4\xBD\xA0\xE5\xA5\xBD", "ok"}));
  // Hiragana and katakana are in the class; U+9FA6 (past U+9FA5) and hangul are not.
  EXPECT_EQ(Split(SplitPattern::kDeepSeekCjk, "\xE3\x81\x82\xE3\x82\xA2\xE9\xBE\xA6\xED\x95\x9C"),
            (Pieces{"\xE3\x81\x82\xE3\x82\xA2", "\xE9\xBE\xA6\xED\x95\x9C"}));
}

TEST(DeepSeekSplitTest, AsciiPunctuationPrefixesAsciiLettersOnly) {
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, ".Hello"), (Pieces{".Hello"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "'s"), (Pieces{"'s"}));
  // [A-Za-z]+ stops at the first non-ASCII letter, which then starts the next word.
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "'h\xC3\xA9llo"), (Pieces{"'h", "\xC3\xA9llo"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "'\xC3\xA9t\xC3\xA9"),
            (Pieces{"'", "\xC3\xA9t\xC3\xA9"}));
}

TEST(DeepSeekSplitTest, WordsTakeMarksAndOneNonLetterPrefix) {
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, " hello world"), (Pieces{" hello", " world"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "e\xCC\x81t\xCC\x81"),
            (Pieces{"e\xCC\x81t\xCC\x81"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "1abc"), (Pieces{"1abc"}));
  // Digits alone match no alternative: they are gaps.
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "12 ab"), (Pieces{"12", " ab"}));
}

TEST(DeepSeekSplitTest, SymbolsAndNewlines) {
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "a !!\n\nb"), (Pieces{"a", " !!\n\n", "b"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "x  \n y"), (Pieces{"x", "  \n", " y"}));
  EXPECT_EQ(Split(SplitPattern::kDeepSeekWords, "$5"), (Pieces{"$", "5"}));
}

TEST(DeepSeekSplitTest, SequenceAppliesEachSplitToThePreviousPieces) {
  std::vector<PreTokenizerStep> steps = {SplitStep(SplitPattern::kDeepSeekDigits),
                                         SplitStep(SplitPattern::kDeepSeekCjk),
                                         SplitStep(SplitPattern::kDeepSeekWords)};
  EXPECT_EQ(RunSteps(steps, "abc12345 \xE4\xBD\xA0\xE5\xA5\xBD, world!"),
            (Pieces{"abc", "123", "45", " ", "\xE4\xBD\xA0\xE5\xA5\xBD", ",", " world", "!"}));
  // The words split never sees "1abc" whole: digits were isolated first.
  EXPECT_EQ(RunSteps(steps, "1abc"), (Pieces{"1", "abc"}));
}

// ---- rewriting steps ----------------------------------------------------------------------------

TEST(PreTokenizerTest, ByteLevelPrefixSpaceIsAddedOnlyWhenMissing) {
  PreTokenizerStep prefix;
  prefix.kind = PreTokenizerStep::Kind::kPrefixSpace;
  EXPECT_EQ(RunSteps({prefix, SplitStep(SplitPattern::kGpt2)}, "hi there"),
            (Pieces{" hi", " there"}));
  EXPECT_EQ(RunSteps({prefix, SplitStep(SplitPattern::kGpt2)}, " hi"), (Pieces{" hi"}));
}

TEST(PreTokenizerTest, MetaspaceReplacesSpacesAndSplitsBeforeEachReplacement) {
  PreTokenizerStep meta;
  meta.kind = PreTokenizerStep::Kind::kMetaspace;
  meta.replacement = "\xE2\x96\x81";
  meta.prepend_scheme = PrependScheme::kAlways;
  meta.split = true;
  EXPECT_EQ(RunSteps({meta}, "hello  world"),
            (Pieces{"\xE2\x96\x81hello", "\xE2\x96\x81", "\xE2\x96\x81world"}));
  // A leading space already gives the replacement: nothing more is prepended.
  EXPECT_EQ(RunSteps({meta}, " hi"), (Pieces{"\xE2\x96\x81hi"}));
  meta.prepend_scheme = PrependScheme::kFirst;
  EXPECT_EQ(RunSteps({meta}, "hi", /*origin=*/false), (Pieces{"hi"}));
  EXPECT_EQ(RunSteps({meta}, "hi", /*origin=*/true), (Pieces{"\xE2\x96\x81hi"}));
  meta.split = false;
  meta.prepend_scheme = PrependScheme::kNever;
  EXPECT_EQ(RunSteps({meta}, "a b"), (Pieces{"a\xE2\x96\x81"
                                             "b"}));
}

// ---- byte-level map -----------------------------------------------------------------------------

TEST(ByteLevelTest, MapsEveryByteToADistinctPrintableCodePointAndBack) {
  EXPECT_EQ(kByteLevel.byte_to_cp[' '], 0x120);   // 'Ġ'
  EXPECT_EQ(kByteLevel.byte_to_cp['\n'], 0x10A);  // 'Ċ'
  EXPECT_EQ(kByteLevel.byte_to_cp['A'], 'A');
  EXPECT_EQ(kByteLevel.byte_to_cp[0xAD], 0x143);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string surface;
  ByteLevelEncode(all, &surface);
  std::string back;
  ASSERT_TRUE(ByteLevelDecode(surface, &back));
  EXPECT_EQ(back, all);
}

TEST(ByteLevelTest, DecodeRejectsCharactersOutsideTheMap) {
  std::string out;
  EXPECT_FALSE(ByteLevelDecode(" ", &out));  // a raw space is spelled 'Ġ'
  out.clear();
  EXPECT_FALSE(ByteLevelDecode("\xEF\xBD\x9C", &out));  // U+FF5C
  out.clear();
  EXPECT_TRUE(ByteLevelDecode("\xC4\xA0hi", &out));
  EXPECT_EQ(out, " hi");
}

// ---- BPE ----------------------------------------------------------------------------------------

// A byte-level model over the alphabet {a, b, c} with merges between any two tokens whose
// concatenation is at most 4 bytes, in a shuffled rank order.
BpeModel RandomModel(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> tokens = {"a", "b", "c"};
  for (size_t len = 2; len <= 4; ++len) {
    std::vector<std::string> next;
    for (const std::string& t : tokens) {
      if (t.size() == len - 1) {
        for (char c : std::string("abc")) next.push_back(t + c);
      }
    }
    tokens.insert(tokens.end(), next.begin(), next.end());
  }
  BpeModel m;
  m.Init(BpeModel::Options{}, tokens.size(), 64, 1024);
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string surface;
    ByteLevelEncode(tokens[i], &surface);
    m.AddToken(surface, static_cast<int32_t>(i));
  }
  std::vector<std::pair<int32_t, int32_t>> pairs;
  for (size_t i = 0; i < tokens.size(); ++i) {
    for (size_t j = 0; j < tokens.size(); ++j) {
      if (tokens[i].size() + tokens[j].size() <= 4) {
        pairs.emplace_back(static_cast<int32_t>(i), static_cast<int32_t>(j));
      }
    }
  }
  std::shuffle(pairs.begin(), pairs.end(), rng);
  uint32_t rank = 0;
  for (auto [i, j] : pairs) {
    if (rng() % 3 == 0) continue;  // leave some pairs unmergeable
    std::string joined;
    ByteLevelEncode(tokens[i] + tokens[j], &joined);
    m.AddMerge(i, j, rank++, m.Find(joined));
  }
  m.Finish();
  return m;
}

TEST(BpeTest, ArrayScanAndHeapMergeIdentically) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    BpeModel m = RandomModel(seed);
    std::mt19937 rng(seed * 77);
    BpeModel::Scratch s;
    for (int iter = 0; iter < 300; ++iter) {
      std::string piece;
      const size_t len = 1 + rng() % BpeModel::kMaxScanSymbols;
      for (size_t k = 0; k < len; ++k) piece.push_back("abc"[rng() % 3]);
      std::vector<int32_t> scan;
      std::vector<int32_t> heap;
      m.Encode(piece, &scan, &s);
      m.EncodeWithHeapForTest(piece, &heap, &s);
      ASSERT_EQ(scan, heap) << "seed " << seed << " piece " << piece;
    }
  }
}

TEST(BpeTest, MergesLowestRankFirstAndLeftmostAmongEquals) {
  BpeModel m;
  m.Init(BpeModel::Options{}, 8, 64, 8);
  // Tokens: a=0, b=1, ab=2, bb=3, abb=4.
  m.AddToken("a", 0);
  m.AddToken("b", 1);
  m.AddToken("ab", 2);
  m.AddToken("bb", 3);
  m.AddToken("abb", 4);
  m.AddMerge(1, 1, 0, 3);  // b b  (rank 0)
  m.AddMerge(0, 1, 1, 2);  // a b  (rank 1)
  m.AddMerge(0, 3, 2, 4);  // a bb (rank 2)
  m.Finish();
  BpeModel::Scratch s;
  std::vector<int32_t> out;
  m.Encode("abb", &out, &s);
  EXPECT_EQ(out, (std::vector<int32_t>{4}));  // b+b first, then a+bb
  out.clear();
  m.Encode("bbb", &out, &s);
  EXPECT_EQ(out, (std::vector<int32_t>{3, 1}));  // the leftmost b b pair merges
}

TEST(BpeTest, IgnoreMergesEmitsAWholePieceThatIsAToken) {
  BpeModel::Options o;
  o.ignore_merges = true;
  BpeModel m;
  m.Init(o, 8, 64, 8);
  m.AddToken("a", 0);
  m.AddToken("b", 1);
  m.AddToken("ab", 2);
  m.AddToken("aab", 3);  // reachable by no merge
  m.AddMerge(0, 1, 0, 2);
  m.Finish();
  BpeModel::Scratch s;
  std::vector<int32_t> out;
  m.Encode("aab", &out, &s);
  EXPECT_EQ(out, (std::vector<int32_t>{3}));
  out.clear();
  m.Encode("aabb", &out, &s);
  EXPECT_EQ(out, (std::vector<int32_t>{0, 2, 1}));
}

}  // namespace
}  // namespace sieve::tokenizer_internal
