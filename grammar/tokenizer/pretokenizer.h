// Pre-tokenizers: the step of a Hugging Face tokenizer that cuts text into the pieces BPE runs on.
//
// Real tokenizer.json files describe their pre-tokenizer with Oniguruma regexes (lookahead,
// ordered alternatives, backtracking). sieve does not embed a backtracking regex engine: each
// pattern that real models ship is recognised by its exact text and run by a hand-written scanner
// over code points that reproduces Oniguruma's semantics for that pattern (leftmost match,
// alternatives tried in order, greedy quantifiers that give back characters, `\s+(?!\S)` leaving
// one space for the next word). A Split regex that is not one of the known patterns is an error
// (kUnsupported) naming it, never silently replaced by a different split.
//
// Classes as Oniguruma defines them for UTF-8: \p{L} = Lu|Ll|Lt|Lm|Lo, \p{N} = Nd|Nl|No, \p{M},
// \p{P}, \p{S} by general category, \s = U+0009..U+000D, U+0085 and Zs|Zl|Zp (the same set as
// White_Space). Bytes that are not well-formed UTF-8 (which Rust strings never hold, but Encode
// accepts) are single characters of no class: "other", like an unassigned code point.
//
// Invariants: the pieces of a run cover their input exactly, in order, with no empty piece, unless
// a step rewrites text (ByteLevel add_prefix_space, Metaspace), in which case the pieces are the
// rewritten text. Everything here is stateless; scratch buffers are supplied by the caller.
#ifndef SIEVE_GRAMMAR_TOKENIZER_PRETOKENIZER_H_
#define SIEVE_GRAMMAR_TOKENIZER_PRETOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sieve::tokenizer_internal {

// The Split regexes sieve can run, each an exact pattern text found in real tokenizer.json files.
enum class SplitPattern : uint8_t {
  kGpt2,            // ByteLevel(use_regex): 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|...
  kLlama3,          // (?i:'s|'t|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+...
  kQwen2,           // as kLlama3 with \p{N} (single digits): Qwen2, Qwen2.5, Qwen3
  kDeepSeekDigits,  // \p{N}{1,3}
  kDeepSeekCjk,     // [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+
  kDeepSeekWords,   // [!"#...~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|...
};

// The pattern with exactly this text (as it reads after JSON unescaping), if any.
std::optional<SplitPattern> RecognizeSplitPattern(std::string_view regex);
// Short name for messages and Describe(): "llama3", "deepseek-digits", ...
const char* SplitPatternName(SplitPattern pattern);
// The canonical regex text of a pattern.
std::string_view SplitPatternRegex(SplitPattern pattern);

// Split(pattern, behavior=Isolated) on one string: the matches and the gaps between them, in
// order. The views point into `text`.
std::vector<std::string_view> SplitIsolated(SplitPattern pattern, std::string_view text);

enum class PrependScheme : uint8_t { kAlways, kFirst, kNever };

struct PreTokenizerStep {
  enum class Kind : uint8_t {
    kSplit,        // Split(pattern, Isolated), also ByteLevel's use_regex
    kPrefixSpace,  // ByteLevel add_prefix_space: prepend ' ' to a piece not starting with one
    kMetaspace,    // ' ' -> replacement, prepend by scheme, split before each replacement
  };
  Kind kind = Kind::kSplit;
  SplitPattern pattern = SplitPattern::kGpt2;  // kSplit
  std::string replacement;                     // kMetaspace, UTF-8 ("▁")
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;  // kMetaspace: split into pieces that start with the replacement
};

// A piece: bytes [begin, end) of PreTokenizer::Scratch::buf.
struct Piece {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool at_origin = false;  // starts at offset 0 of the original input (Metaspace "first")
};

// Per code point facts the scanners use (internal; exposed for the scratch buffer).
struct CharInfo {
  char32_t cp;      // code point; 0xFFFFFFFF for an ill-formed byte
  uint32_t offset;  // byte offset in the scanned buffer
  uint16_t cls;     // class bits (pretokenizer.cc)
};

class PreTokenizer {
 public:
  // Reusable buffers for Run(); one per thread.
  struct Scratch {
    std::string buf;
    std::vector<Piece> pieces;
    std::vector<Piece> next;
    std::vector<CharInfo> chars;
    std::vector<uint32_t> ranges;
    std::vector<uint32_t> next_ranges;
  };

  PreTokenizer() = default;  // no steps: the text is one piece
  explicit PreTokenizer(std::vector<PreTokenizerStep> steps) : steps_(std::move(steps)) {}

  // Cuts `text` into scratch->pieces (ranges of scratch->buf). `at_origin`: the text starts the
  // original input (it is not preceded by an added token).
  void Run(std::string_view text, bool at_origin, Scratch* scratch) const;

  const std::vector<PreTokenizerStep>& steps() const { return steps_; }
  // "Split(llama3) > ByteLevel" style summary.
  std::string Describe() const;

 private:
  void RunSplits(size_t first, size_t last, Scratch* s) const;
  void RunPrefixSpace(Scratch* s) const;
  void RunMetaspace(const PreTokenizerStep& step, Scratch* s) const;

  std::vector<PreTokenizerStep> steps_;
};

}  // namespace sieve::tokenizer_internal

#endif  // SIEVE_GRAMMAR_TOKENIZER_PRETOKENIZER_H_
