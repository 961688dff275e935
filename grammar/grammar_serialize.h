// Grammar images: a compiled grammar as versioned, checksummed bytes, so that another process can
// load it instead of compiling it (C API sieve_grammar_serialize / sieve_grammar_deserialize).
//
// Layout (little-endian): "SIEVEGRM" | u32 format version | u32 0 | u64 payload bytes |
// u64 ContentHasher checksum of the payload | payload.
//
// Format 3 is format 2 plus one flags byte per rule after its expressions (bit 0:
// Rule::unique_items) and the same bit (8) in the automaton's rule flags. The writer uses it only
// for a grammar with such a rule and writes format 2 otherwise, so that older readers load every
// image they can; format 2 and 1 images are read (their rules have no flags).
//
// Format 2 (written for grammars without rule flags). The payload holds, in order: the simplified grammar IR (rules as
// prefix-order expression trees; what the automaton was built from), the IR as written (for
// printing), compile flags, warnings, schema notes, token bindings, the vocabulary's fingerprint
// and size; then a u8 of sections present (1 = automaton, 2 = token-mask cache) and each present
// section as u64 byte length + bytes: the compiled automaton (pda_serialize.cc) and the token-mask
// cache for that vocabulary (mask_cache_serialize.cc). Loading reads both tables back instead of
// rebuilding them, so it costs a few memcpys and a validation pass where compiling a schema costs
// tens to hundreds of milliseconds (bench/grammar_image_bench.cc). A mask cache is only loaded
// against the vocabulary it was built for: a different size or fingerprint is kInvalidArgument.
//
// Format 1 (older images: no sections) is still read; the caller rebuilds the automaton and the
// mask cache from the simplified IR (GrammarImage::pda is then null), as format 1 readers did.
//
// Reading never trusts the bytes: every length and index is bounds-checked, expression nesting is
// limited, the grammar IR is Validate()d, the automaton's and the cache's tables are checked
// against each other and the vocabulary (image_io.h), and any failure is kFormat with the byte
// offset (into the whole image) of what was wrong. An unknown format version is kFormat naming the
// versions this library reads.
#ifndef SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_
#define SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/pda.h"
#include "grammar/structural_tag.h"
#include "grammar/support/status.h"

namespace sieve {

inline constexpr uint32_t kGrammarImageVersion = 3;
inline constexpr uint32_t kOldestGrammarImageVersion = 1;

struct GrammarImage {
  Grammar simplified;
  Grammar source;
  bool ignore_lookahead = false;
  int32_t rules = 0;
  std::vector<std::string> warnings;
  std::vector<JsonSchemaNote> notes;
  std::vector<TokenBinding> tokens;
  uint64_t vocab_fingerprint = 0;  // 0 with vocab_size 0: compiled without a vocabulary
  uint64_t vocab_size = 0;
  // Format 2 sections. Writing: the automaton built from `simplified` (may be null: no section)
  // and its mask cache (may be null; when set, built for `pda` and the vocabulary above).
  // Reading: null for a format-1 image; mask_cache is null unless the image has one and a
  // TokenizerInfo was passed.
  std::shared_ptr<const CompiledGrammar> pda;
  std::shared_ptr<const TokenMaskCache> mask_cache;
  uint32_t version = kGrammarImageVersion;  // reading: the image's format version
};

std::string SerializeGrammarImage(const GrammarImage& image);
// `info` (may be null) is the vocabulary to load the mask cache for. When the image was compiled
// for a vocabulary and `info` is a different one (size or fingerprint), the result is
// kInvalidArgument saying so (checked before the sections are read).
Result<GrammarImage> DeserializeGrammarImage(std::string_view bytes,
                                             std::shared_ptr<const TokenizerInfo> info = nullptr);

// Rewrites the payload-length and checksum fields of `image` (header bytes 16..32) for the bytes
// after its header and keeps the rest of the header as it is; shorter inputs come back unchanged.
// For tests and tools that edit images: the checksum catches accidents, not edits, and loading
// still checks everything.
std::string ResealGrammarImage(std::string image);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_
